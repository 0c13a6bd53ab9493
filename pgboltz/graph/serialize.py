"""A graph's structure as plain data (JSON-able), parameters as named arrays: for checkpoints.

Each factor kind saves and rebuilds itself through its hooks (:meth:`Factor.structure`,
:meth:`Factor.structure_arrays`, :meth:`Factor.from_saved`): nothing here names a kind.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from ..factors import FACTOR_KINDS
from .factor_graph import FactorGraph


def graph_to_dict(graph) -> tuple[dict, dict]:
    """(structure, arrays): arrays are named ``param/{factor index}/{name}`` and ``struct/{i}/{name}``."""
    groups = [{"name": g.name, "shape": list(g.shape), "units": g.units.name, "role": g.role}
              for g in graph.groups.values()]
    factors, arrays = [], {}
    for i, f in enumerate(graph.factors):
        factors.append({"kind": f.kind, "name": f.name, "groups": list(f.groups), **f.structure()})
        arrays.update({f"struct/{i}/{k}": v for k, v in f.structure_arrays().items()})
        arrays.update({f"param/{i}/{k}": v for k, v in f.params.items()})
    return {"name": graph.name, "description": graph.description, "groups": groups, "factors": factors}, arrays


def graph_from_dict(d: dict, arrays: dict) -> FactorGraph:
    try:
        g = FactorGraph(d["name"], d.get("description", ""))
        for grp in d["groups"]:
            g.add_group(grp["name"], grp["shape"], grp["units"], grp["role"])
        for i, f in enumerate(d["factors"]):
            f = dict(f)
            kind, groups, name = f.pop("kind"), f.pop("groups"), f.pop("name", None)
            if kind not in FACTOR_KINDS:
                raise GraphError(f"unknown factor kind {kind!r}; known kinds: {', '.join(sorted(FACTOR_KINDS))}")
            params = {k.split("/", 2)[2]: np.asarray(v) for k, v in arrays.items() if k.startswith(f"param/{i}/")}
            struct = {k.split("/", 2)[2]: np.asarray(v) for k, v in arrays.items() if k.startswith(f"struct/{i}/")}
            if f"edges/{i}" in arrays:  # checkpoints written before the per-kind hooks
                struct["edges"] = np.asarray(arrays[f"edges/{i}"])
            g.add_factor(FACTOR_KINDS[kind].from_saved(groups, params, f, struct, name=name))
    except KeyError as exc:
        raise GraphError(f"incomplete graph description: missing {exc}") from None
    except TypeError as exc:
        raise GraphError(f"graph description does not fit its factor kind: {exc}") from None
    return g
