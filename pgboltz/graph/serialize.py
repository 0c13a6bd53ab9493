"""A graph's structure as plain data (JSON-able), parameters as named arrays: for checkpoints."""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from ..factors import Bias, Dense, Lattice2D, Sparse
from .factor_graph import FactorGraph


def graph_to_dict(graph) -> tuple[dict, dict]:
    """(structure, arrays): arrays are named ``param/{factor index}/{name}`` (and ``edges/{i}``)."""
    groups = [{"name": g.name, "shape": list(g.shape), "units": g.units.name, "role": g.role}
              for g in graph.groups.values()]
    factors, arrays = [], {}
    for i, f in enumerate(graph.factors):
        d = {"kind": f.kind, "name": f.name, "groups": list(f.groups)}
        if f.kind == "lattice":
            d["periodic"] = f.periodic
        if f.kind == "sparse":
            arrays[f"edges/{i}"] = f.edges
        factors.append(d)
        for k, v in f.params.items():
            arrays[f"param/{i}/{k}"] = v
    return {"name": graph.name, "description": graph.description, "groups": groups, "factors": factors}, arrays


def graph_from_dict(d: dict, arrays: dict) -> FactorGraph:
    try:
        g = FactorGraph(d["name"], d.get("description", ""))
        for grp in d["groups"]:
            g.add_group(grp["name"], grp["shape"], grp["units"], grp["role"])
        for i, f in enumerate(d["factors"]):
            p = lambda k: np.asarray(arrays[f"param/{i}/{k}"])  # noqa: E731
            kind, groups, name = f["kind"], f["groups"], f.get("name")
            if kind == "bias":
                g.add_factor(Bias(groups[0], p("b"), name=name))
            elif kind == "dense":
                g.add_factor(Dense(groups[0], groups[1], p("W"), name=name))
            elif kind == "sparse":
                g.add_factor(Sparse(groups[0], groups[1], np.asarray(arrays[f"edges/{i}"]), p("w"), name=name))
            elif kind == "lattice":
                g.add_factor(Lattice2D(groups[0], p("J_right"), p("J_down"), periodic=f["periodic"], name=name))
            else:
                raise GraphError(f"unknown factor kind {kind!r}")
    except KeyError as exc:
        raise GraphError(f"incomplete graph description: missing {exc}") from None
    return g
