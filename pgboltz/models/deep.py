"""Deep models as graph constructors: deep belief networks and deep Boltzmann machines (seed §3-4).

Only graphs are built here; conditionals, schedules (a DBM's odd vs even layers, a
DBN's top RBM followed by an ancestral pass) and exact checks come from the core.

    DBN:  P(v, h1, ..., hL) = P(h_{L-1}, h_L) prod_{k<L-1} P(h_k | h_{k+1})        (seed eqs. 19-21)
          top:   E = -h_{L-1}^T W_L h_L - c_{L-1}^T h_{L-1} - c_L^T h_L          (an RBM)
          below: P(h_k = 1 | h_{k+1}) = sigma(b_k + W_{k+1} h_{k+1})             (logistic tables)
    DBM:  E = - sum_k h_{k-1}^T W_k h_k - sum_k b_k^T h_k,   h_0 = v               (seed eq. 25)
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from ..factors import Bias, Dense, Directed
from ..graph import FactorGraph


def _names(n_layers):
    return ["v"] + [f"h{k}" for k in range(1, n_layers)]


def _check_sizes(sizes, least):
    sizes = [int(s) for s in sizes]
    if len(sizes) < least or any(s < 1 for s in sizes):
        raise GraphError(f"layer sizes must be at least {least} positive integers (visible first), got {sizes}")
    return sizes


def dbm(sizes, seed: int = 0, scale: float = 0.01, units: str = "bernoulli", name: str = "dbm") -> FactorGraph:
    """A DBM with layers ``sizes`` (visible first): dense couplings between neighbouring layers, a bias each."""
    sizes = _check_sizes(sizes, 2)
    rng = np.random.default_rng(seed)
    names = _names(len(sizes))
    g = FactorGraph(name, f"DBM {'-'.join(map(str, sizes))}")
    for k, (n, size) in enumerate(zip(names, sizes)):
        g.add_group(n, size, units, role="visible" if k == 0 else "hidden")
    for k in range(1, len(sizes)):
        g.add_factor(Dense(names[k - 1], names[k], rng.normal(0, scale, (sizes[k - 1], sizes[k])), name=f"W{k}"))
    for k, n in enumerate(names):
        g.add_factor(Bias(n, np.zeros(sizes[k]), name=f"b_{n}"))
    return g


def dbn(sizes, seed: int = 0, scale: float = 0.01, name: str = "dbn") -> FactorGraph:
    """A DBN with layers ``sizes`` (visible first): an RBM between the top two layers, logistic
    directed layers below (each a table ``P(h_k | h_{k+1})``)."""
    sizes = _check_sizes(sizes, 2)
    rng = np.random.default_rng(seed)
    L = len(sizes) - 1
    names = _names(len(sizes))
    tops = [(rng.normal(0, scale, (sizes[L - 1], sizes[L])), np.zeros(sizes[L - 1]), np.zeros(sizes[L]))]
    below = [(rng.normal(0, scale, (sizes[k + 1], sizes[k])), np.zeros(sizes[k]), None) for k in range(L - 1)]
    return _assemble(name, names, sizes, tops[0], below)


def dbn_from_rbms(rbms, name: str = "dbn") -> FactorGraph:
    """Stack trained RBMs (each a graph with groups ``v`` and ``h`` and factors dense W, biases of v and h,
    as :func:`pgboltz.models.rbm` builds) into a DBN (seed eq. 22): RBM k's weights become the directed
    layer P(h_{k-1} | h_k) with the visible biases of RBM k, and the last RBM stays the undirected top."""
    if not rbms:
        raise GraphError("dbn_from_rbms needs at least one RBM")
    params = []
    for k, r in enumerate(rbms):
        try:
            W = next(f for f in r.factors if type(f) is Dense and f.groups == ("v", "h")).params["W"]
            b = next(f for f in r.factors if isinstance(f, Bias) and f.groups == ("v",)).params["b"]
            c = next(f for f in r.factors if isinstance(f, Bias) and f.groups == ("h",)).params["b"]
        except StopIteration:
            raise GraphError(f"RBM {k} ({r.name!r}) needs a dense factor on (v, h) and a bias on each") from None
        params.append((W, b, c))
    sizes = [params[0][0].shape[0]] + [W.shape[1] for W, _, _ in params]
    for k in range(1, len(params)):
        if params[k][0].shape[0] != params[k - 1][0].shape[1]:
            raise GraphError(f"RBM {k} has {params[k][0].shape[0]} visible units but RBM {k - 1} has "
                             f"{params[k - 1][0].shape[1]} hidden units; stacked RBMs must match")
    W_top, b_top, c_top = params[-1]
    below = [(W.T.copy(), b.copy(), c.copy()) for W, b, c in params[:-1]]  # c: the up-pass's recognition bias
    return _assemble(name, _names(len(sizes)), sizes, (W_top.copy(), b_top.copy(), c_top.copy()), below)


def _assemble(name, names, sizes, top, below):
    L = len(sizes) - 1
    g = FactorGraph(name, f"DBN {'-'.join(map(str, sizes))}")
    for k, (n, size) in enumerate(zip(names, sizes)):
        g.add_group(n, size, role="visible" if k == 0 else "hidden")
    W, b, c = top
    g.add_factor(Dense(names[L - 1], names[L], W, name=f"W{L}"))
    g.add_factor(Bias(names[L - 1], b, name=f"b_{names[L - 1]}"))
    g.add_factor(Bias(names[L], c, name=f"b_{names[L]}"))
    for k, (Wk, bk, ck) in enumerate(below):  # P(layer k | layer k+1)
        g.add_factor(Directed(names[k + 1], names[k], Wk, bk, ck, name=f"P({names[k]}|{names[k + 1]})"))
    return g


def dbn_layers(graph) -> list | None:
    """The layers of a DBN graph, visible first (``[v, h1, ..., hL]``), or None if ``graph`` is not one:
    a chain of directed factors ``h_{k+1} -> h_k`` from one visible group up to h_{L-1}, and one dense
    factor between h_{L-1} and h_L, with biases on those two top layers only (a directed child's
    conditional is its table alone)."""
    directed = [f for f in graph.factors if f.directed]
    if not directed or len(graph.visible) != 1 or graph.inputs:
        return None
    by_child = {f.child: f for f in directed}
    names = [graph.visible[0]]
    while names[-1] in by_child:
        names.append(by_child[names[-1]].parent)
    top = [f for f in graph.factors if not f.directed and len(set(f.groups)) == 2]
    if len(by_child) != len(directed) or len(names) != len(directed) + 1 or len(top) != 1 \
            or type(top[0]) is not Dense or names[-1] not in top[0].groups:
        return None
    names.append(next(g for g in top[0].groups if g != names[-1]))
    others = [f for f in graph.factors if not f.directed and f is not top[0]]
    if len(set(names)) != len(names) or set(names) != set(graph.groups) \
            or any(not isinstance(f, Bias) or f.groups[0] not in names[-2:] for f in others):
        return None
    return names


def dbm_layers(graph) -> list | None:
    """The layers of a DBM graph, visible first, or None if ``graph`` is not one: groups in a chain
    ``v - h1 - ... - hL`` of dense factors between neighbours (one each), plus biases."""
    if len(graph.visible) != 1 or graph.inputs or any(f.directed for f in graph.factors):
        return None
    pairs = [f for f in graph.factors if not isinstance(f, Bias)]
    if any(type(f) is not Dense or f.intra for f in pairs):
        return None
    links = {}
    for f in pairs:
        a, b = f.groups
        links.setdefault(a, []).append(b)
        links.setdefault(b, []).append(a)
    names = [graph.visible[0]]
    while True:
        nxt = [g for g in links.get(names[-1], []) if g not in names]
        if not nxt:
            break
        if len(nxt) > 1:
            return None
        names.append(nxt[0])
    if len(names) < 2 or set(names) != set(graph.groups) or len(pairs) != len(names) - 1:
        return None
    return names


def load_layers(graph, source, names) -> None:
    """Copy a layered model's parameters from ``source`` (a DBM or DBN built by this module, layers
    ``v, h1, ...``) into ``graph``, whose layers are ``names``: couplings by their pair of layers
    (transposed where the factor runs the other way), biases into each layer's first bias factor."""
    rename = dict(zip(_names(len(names)), names))
    for f in source.factors:
        groups = tuple(rename[g] for g in f.groups)
        if isinstance(f, Bias):
            target = next((t for t in graph.factors if isinstance(t, Bias) and t.groups == groups), None)
            if target is not None:
                target.params["b"][...] = f.params["b"]
            continue
        target = next(t for t in graph.factors if set(t.groups) == set(groups) and type(t) is type(f))
        for k, value in f.params.items():
            flip = target.groups != groups and k == "W"
            target.params[k][...] = value.T if flip else value
