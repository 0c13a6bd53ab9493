"""Interchange: graphs from and to networkx, and any graph written as a spec file.

* :func:`from_networkx` -- a networkx graph whose nodes are units and whose edges are
  couplings becomes a factor graph: node attribute ``bias`` (default 0) and ``units``
  (``"spin"`` by default, or ``"bernoulli"``; one group per unit type, nodes in the graph's
  order), edge attribute ``weight`` (default 1) as the coupling ``w`` in
  ``E = -sum_edges w x_i x_j - sum_nodes bias x_i`` (sparse and bias factors);
* :func:`to_networkx` -- any graph's unit-level pairwise energy as a networkx graph with the
  same attributes (nodes ``(group, unit)``), refused for energies that are not pairwise
  (three-way, directed, max pooling, Gaussian precisions);
* :func:`write_spec` -- any graph as a TOML spec plus an ``.npz`` of its parameters (and a text
  edge list for large sparse factors), which ``pgboltz.specs.load`` reads back into the same
  energy; ``pgboltz info GRAPH --write-spec FILE`` runs it. A topology built in Python can so be
  shipped in ``graphs/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import networkx as nx
import numpy as np

from .errors import GraphError
from .factors import Bias, Sparse
from .graph import FactorGraph

UNIT_TYPES = ("spin", "bernoulli")


def from_networkx(G: nx.Graph, name: str = "networkx", default_units: str = "spin") -> tuple[FactorGraph, dict]:
    """A factor graph from ``G``; returns ``(graph, {node: (group, unit index)})``."""
    if G.is_directed() or G.is_multigraph():
        raise GraphError("from_networkx takes an undirected simple graph (nx.Graph); convert it first")
    if G.number_of_nodes() == 0:
        raise GraphError("from_networkx: the graph has no nodes")
    place, members = {}, {}
    for node, attrs in G.nodes(data=True):
        units = attrs.get("units", default_units)
        if units not in UNIT_TYPES:
            raise GraphError(f"from_networkx: node {node!r} has units {units!r}; use one of {', '.join(UNIT_TYPES)}")
        group = "s" if units == "spin" else "x"
        place[node] = (group, len(members.setdefault(group, [])))
        members[group].append(node)
    g = FactorGraph(name, f"from networkx: {G.number_of_nodes()} nodes, {G.number_of_edges()} edges")
    for group, nodes in members.items():
        g.add_group(group, len(nodes), "spin" if group == "s" else "bernoulli")
    pairs = {}
    for u, v, attrs in G.edges(data=True):
        if u == v:
            raise GraphError(f"from_networkx: self-loop on node {u!r}; put single-node terms in its 'bias'")
        (ga, i), (gb, j) = place[u], place[v]
        if (ga, gb) not in pairs and (gb, ga) in pairs:
            ga, gb, i, j = gb, ga, j, i
        pairs.setdefault((ga, gb), []).append((i, j, float(attrs.get("weight", 1.0))))
    for (ga, gb), es in pairs.items():
        e = np.array([(i, j) for i, j, _ in es], dtype=np.intp)
        g.add_factor(Sparse(ga, gb, e, np.array([w for _, _, w in es]), name=f"J_{ga}{gb}"))
    for group, nodes in members.items():
        g.add_factor(Bias(group, np.array([float(G.nodes[n].get("bias", 0.0)) for n in nodes]), name=f"h_{group}"))
    return g, place


def to_networkx(graph) -> nx.Graph:
    """The unit-level pairwise energy of ``graph``: nodes ``(group, unit)`` with ``units`` and ``bias``,
    edges with ``weight`` (couplings of the same pair summed over factors)."""
    G = nx.Graph(name=graph.name)
    for name, grp in graph.groups.items():
        if grp.units.name not in UNIT_TYPES:
            raise GraphError(f"to_networkx: group {name!r} has {grp.units.name} units; only binary units "
                             "(spin, bernoulli) have a pairwise networkx form")
        G.add_nodes_from(((name, i), {"units": grp.units.name, "bias": 0.0}) for i in range(grp.size))
    for f in graph.factors:
        if f.directed or f.joint_groups():
            raise GraphError(f"to_networkx: {f.label} is not a pairwise energy term")
        terms = f.unit_terms()
        if terms.tables:
            raise GraphError(f"to_networkx: {f.label} has table terms, not pairwise ones")
        for groups, index, coef in terms.monomials:
            if len(groups) == 1:
                for i, c in zip(index[0].tolist(), coef.tolist()):
                    G.nodes[(groups[0], i)]["bias"] += c
            elif len(groups) == 2:
                for i, j, c in zip(index[0].tolist(), index[1].tolist(), coef.tolist()):
                    u, v = (groups[0], i), (groups[1], j)
                    if u == v:
                        raise GraphError(f"to_networkx: {f.label} has a square term on unit {u}")
                    w = G.edges[u, v]["weight"] if G.has_edge(u, v) else 0.0
                    G.add_edge(u, v, weight=w + c)
            else:
                raise GraphError(f"to_networkx: {f.label} has terms of order {len(groups)}, not pairwise")
    return G


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string is a JSON string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise GraphError(f"write_spec: cannot write {type(v).__name__} {v!r} to a spec")


#: sparse factors with more edges than this get a text edge list beside the spec
INLINE_EDGES = 2000


def write_spec(graph, path) -> list[Path]:
    """Write ``graph`` as ``path`` (a TOML spec) and ``<stem>.npz`` (its parameters; large sparse
    factors also get ``<stem>-edges-<k>.txt``). Returns the files written."""
    from .io import check_output, save_npz_atomic

    path = Path(path)
    if path.suffix != ".toml":
        path = path.with_suffix(".toml")
    check_output(path)
    stem = path.stem
    npz = path.with_name(f"{stem}.npz")
    lines = [f"# written by pgboltz: {graph.name}", f"name = {_toml_value(graph.name)}"]
    if graph.description:
        lines.append(f"description = {_toml_value(graph.description)}")
    for grp in graph.groups.values():
        lines += ["", "[[groups]]", f"name = {_toml_value(grp.name)}", f"shape = {_toml_value(list(grp.shape))}",
                  f"units = {_toml_value(grp.units.name)}", f"role = {_toml_value(grp.role)}"]
    arrays, written = {}, []
    for k, f in enumerate(graph.factors):
        lines += ["", "[[factors]]", f"kind = {_toml_value(f.kind)}"]
        if f.name:
            lines.append(f"name = {_toml_value(f.name)}")
        if "group" in f.spec_keys:
            lines.append(f"group = {_toml_value(f.groups[0])}")
        else:
            lines.append(f"groups = {_toml_value(list(f.groups))}")
        fields = {key: v for key, v in f.structure().items() if key in f.spec_keys}
        if "factors" in f.spec_keys:  # the number of factors of a three-way or covariance factor
            fields["factors"] = int(next(iter(f.params.values())).shape[1])
        if "edges" in f.spec_keys:
            edges = f.structure_arrays()["edges"]
            if len(edges) > INLINE_EDGES:
                edge_file = path.with_name(f"{stem}-edges-{k}.txt")
                tmp = edge_file.with_name(edge_file.name + ".tmp")
                np.savetxt(tmp, edges, fmt="%d", header="i j")
                os.replace(tmp, edge_file)
                written.append(edge_file)
                fields["edges_file"] = edge_file.name
            else:
                fields["edges"] = edges.tolist()
        for key, v in fields.items():
            lines.append(f"{key} = {_toml_value(v)}")
        if f.params:
            keys = {}
            for pname, value in f.params.items():
                if f.param_role(pname) == "recognition":
                    continue  # not part of the energy (a DBN's recognition bias)
                arrays[f"{k}_{pname}"] = value
                keys[pname] = f"{k}_{pname}"
            lines += [f"file = {_toml_value(npz.name)}", f"keys = {_toml_value(keys)}"]
    save_npz_atomic(str(npz), arrays, {"graph": graph.name})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    return [path, npz, *written]
