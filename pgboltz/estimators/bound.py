"""Lower bounds on log p(v) for deep models, whose hidden layers cannot be summed out given v.

For any distribution q(h | v) over the hidden units (Jensen's inequality),

    log p~(v) = log sum_h exp(-E(v, h))  >=  E_q[-E(v, h)] + H(q)                      (1)

and log p(v) = log p~(v) - log Z, with log Z exact or from AIS.

* **Mean-field bound** (Salakhutdinov & Hinton 2009): q factorised over the hidden units,
  at the fixed point of the mean-field equations derived from the same conditionals as
  Gibbs sampling (:meth:`pgboltz.model.CompiledModel.mean_field`). When every factor
  touching a hidden group is multilinear (affine in each single unit: dense, bias,
  sparse, lattice...), E_q[-E] is the energy at q's means, so (1) is computed exactly.
* **Importance-sampled bound** (any model, e.g. a DBN with its up-pass as q): hidden
  groups that are independent given v and the rest (a DBM's odd layers, a DBN's top
  layer) are summed analytically and q covers the others, x_S. With S draws from q,

      ELBO = mean_s log w_s,   IW = log mean_s w_s,   w_s = p~(v, x_S^(s)) / q(x_S^(s) | v)

  both are lower bounds of log p~(v) in expectation, IW the tighter one (Burda et al. 2016),
  and IW approaches log p~(v) as S grows. For a DBN this is Salakhutdinov & Murray (2008)'s
  bound with the recognition weights of the RBM stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError, GraphError
from ..model import MEAN_FIELD_START, CompiledModel, independent_groups


@dataclass
class Bound:
    """Per-example lower bounds on log p~(v) (add -log Z for log p(v))."""

    value: np.ndarray  # the bound per example (mean-field: exact; sampled: the ELBO estimate)
    importance: np.ndarray | None  # log mean of the importance weights per example (sampled bounds)
    method: str
    samples: int = 0
    means: dict | None = None  # the mean-field q's means per hidden group


def _two_state(graph, groups, what):
    for g in groups:
        units = graph.group(g).units
        if units.support is None or len(units.support) != 2:
            raise GraphError(f"the {what} needs two-state units; group {g!r} has {units.name} units")


def mean_field_bound(graph, data: dict, iterations: int = 100, damping: float = 0.0, tol: float = 1e-7,
                     backend="numpy") -> Bound:
    """Salakhutdinov & Hinton's bound (1) with q the mean-field fixed point given ``data``."""
    hidden = [g for g in graph.groups if g not in data]
    touching = [f for f in graph.factors if set(f.groups) & set(hidden)]
    bad = [f.label for f in touching if not f.multilinear or f.directed]
    if bad:
        raise GraphError(f"the mean-field bound of {graph.name!r} needs factors that are affine in each unit; "
                         f"{', '.join(bad)} are not -- bound it by importance sampling (pgboltz.estimators.importance_bound)")
    _two_state(graph, hidden, "mean-field bound")
    flat = graph.check_states(data, groups=list(data), what="data")
    n = next(iter(flat.values())).shape[0]
    m = CompiledModel(graph, n, backend=backend, dtype="float64", clamp=flat)
    for g in hidden:  # 0: the first pass is bottom-up from the data
        m.states[g][...] = MEAN_FIELD_START
    m.mean_field(iterations, damping, tol)
    mu = {g: m.backend.to_numpy(m.states[g]).astype(np.float64) for g in hidden}
    m.backend.close()
    entropy = sum(graph.group(g).units.entropy(np, mu[g]).sum(axis=1) for g in hidden)
    return Bound(-graph.energy({**flat, **mu}, expectations=True) + entropy, None, "mean-field bound", means=mu)


def importance_bound(graph, data: dict, proposal, samples: int = 100, seed: int = 0) -> Bound:
    """ELBO and importance-weighted bounds with ``proposal(data, rng) -> (states of the groups q covers,
    log q per example)``; the remaining hidden groups must be independent given data and those."""
    from .free_energy import free_energy

    if samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples}")
    rng = np.random.default_rng(seed)
    flat = graph.check_states(data, groups=list(data), what="data")
    log_w = []
    for _ in range(int(samples)):
        drawn, log_q = proposal(flat, rng)
        rest = [g for g in graph.groups if g not in flat and g not in drawn]
        if not independent_groups(graph, rest):
            raise GraphError(f"importance_bound sums {', '.join(rest)} out analytically; they must be independent "
                             "given the data and the proposal's groups")
        log_w.append(-free_energy(graph, {**flat, **drawn}, enumerate_rest=False) - log_q)
    log_w = np.stack(log_w)  # (samples, n)
    return Bound(log_w.mean(axis=0), np.logaddexp.reduce(log_w, axis=0) - np.log(len(log_w)),
                 "variational bound", int(samples))


def factorised_sampler(graph, means: dict):
    """A proposal drawing each unit of ``means``' groups independently with the given means."""
    _two_state(graph, means, "factorised proposal")

    def draw(flat, rng):
        states, log_q = {}, 0.0
        for g, mu in means.items():
            units = graph.group(g).units
            field = units.field_of_mean(np, mu)
            x = units.sample_host(rng, field, mu.shape)
            states[g] = x
            log_q = log_q + units.log_prob(np, x, field).sum(axis=1)
        return states, log_q
    return draw


def dbn_up_pass(graph):
    """The recognition proposal of a DBN: q(h_1 | v) q(h_2 | h_1) ... q(h_{L-1} | h_{L-2}), each factorised
    with logits ``c + h_below @ W^T`` from the directed factors' weights and recognition biases."""
    from ..models.deep import dbn_layers

    names = dbn_layers(graph)
    if names is None:
        raise GraphError(f"{graph.name!r} is not a DBN (a directed chain from v with an undirected top pair)")
    tables = [next(f for f in graph.factors if f.directed and f.child == names[k]) for k in range(len(names) - 2)]

    def draw(flat, rng):
        below, states, log_q = flat[names[0]], {}, 0.0
        for k, f in enumerate(tables):
            units = graph.group(f.parent).units
            field = f.recognition(np, below)
            x = units.sample_host(rng, field, field["linear"].shape)
            log_q = log_q + units.log_prob(np, x, field).sum(axis=1)
            states[f.parent] = below = x
        return states, log_q
    return draw


def dbn_bound(graph, data: dict, samples: int = 100, seed: int = 0) -> Bound:
    """Salakhutdinov & Murray (2008)'s bound on log p~(v) of a DBN with its up-pass as q."""
    return importance_bound(graph, data, dbn_up_pass(graph), samples, seed)


def deep_bound(graph, data: dict, samples: int = 100, seed: int = 0) -> Bound:
    """The bound a deep model's evaluation reports: a DBN's up-pass bound, or for other models the
    mean-field bound plus (``samples`` > 0) importance sampling from the mean-field q of the groups
    that cannot be summed out, the others summed exactly (a DBM's odd layers)."""
    from ..exact.enumerate import choose_summed_groups
    from ..models.deep import dbn_layers

    if dbn_layers(graph) is not None:
        if samples < 1:
            raise DataError("a DBN's bound draws its hidden layers from the up-pass: give at least one sample "
                            "(bound_samples / --bound-samples >= 1)")
        return dbn_bound(graph, data, samples, seed)
    mf = mean_field_bound(graph, data)
    if not samples:
        return mf
    hidden = [g for g in graph.groups if g not in data]
    T = choose_summed_groups(graph, hidden, second_moments=False)
    q = {g: mf.means[g] for g in hidden if g not in T}
    iw = importance_bound(graph, data, factorised_sampler(graph, q), samples, seed)
    return Bound(mf.value, iw.importance, "mean-field bound", iw.samples, mf.means)
