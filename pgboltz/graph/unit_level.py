"""Unit-level expansion: the same factors, one node per variable and one per energy term.

Produces a networkx *bipartite factor graph*: variable nodes (``bipartite=0``)
and factor nodes (``bipartite=1``) carrying a log-potential table over their scope.

**Variables.** A unit of a finite support is one variable whose states are its
support values (``v[3]`` with states (0, 1)). A factor may replace several units by
one categorical variable (:meth:`Factor.unit_variables`): a max-pooling block's
detectors and pooling unit become one variable with n + 1 states. Every unit maps
to ``(variable, feature)``: its value in each state of the variable.

**Terms.** A monomial ``coef * x_u1 * ... * x_uk`` becomes a table over the distinct
variables of its units (the product of their features); a factor's explicit tables
(a directed factor's conditional table) are taken as they are. All terms on the
same scope are merged into one factor node -- pgmpy silently drops one of two
factors with equal scope and values, so the bridge must never see duplicates.

    log phi(x_scope) = -beta * (sum of the energy terms on that scope)

Tables index states by position (the last variable varies fastest). Only for
small graphs: refuses more than ``max_units`` units.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from ..errors import GraphError, TooLargeError
from ..units import support_size

MAX_UNIT_LEVEL_UNITS = 5000


@dataclass
class Variable:
    """One unit-level variable: ``n`` states; ``members`` are ``(group, unit, feature[n])``."""

    name: str
    states: tuple
    members: list

    @property
    def n(self) -> int:
        return len(self.states)


def unit_variables(graph, groups=None) -> list[Variable]:
    """The unit-level variables covering ``groups`` (default all), in group order."""
    groups = list(graph.groups) if groups is None else list(groups)
    gs = set(groups)
    claimed, custom = {}, []
    for f in graph.factors:
        for name, n, members in f.unit_variables():
            if not {g for g, _, _ in members} <= gs:
                continue
            var = Variable(name, tuple(range(n)), [(g, int(i), np.asarray(ft, dtype=np.float64))
                                                   for g, i, ft in members])
            for g, i, _ in var.members:
                claimed[(g, i)] = var
            custom.append(var)
    out, seen = [], set()
    for g in groups:
        grp = graph.group(g)
        for i in range(grp.size):
            var = claimed.get((g, i))
            if var is None:
                try:
                    support_size(grp.units)
                except ValueError as exc:
                    raise GraphError(f"group {g!r}: {exc}") from None
                sup = tuple(float(s) for s in grp.units.support)
                out.append(Variable(grp.unit_name(i), sup, [(g, i, np.asarray(sup))]))
            elif var.name not in seen:
                seen.add(var.name)
                out.append(var)
    return out


def unit_map(variables) -> dict:
    """``{(group, unit): (variable name, feature)}``."""
    return {(g, i): (v.name, ft) for v in variables for g, i, ft in v.members}


def assign(variables, index_of_state, out: dict) -> None:
    """Write group values into ``out[group][:, unit]`` for variable states ``index_of_state[name]`` (arrays)."""
    for v in variables:
        s = index_of_state[v.name]
        for g, i, ft in v.members:
            out[g][:, i] = ft[s]


def state_of(variable: Variable, values: dict) -> int:
    """The state of ``variable`` whose features equal ``values[(group, unit)]``; GraphError if none."""
    for s in range(variable.n):
        if all(float(ft[s]) == float(values[(g, i)]) for g, i, ft in variable.members):
            return s
    found = {f"{g}[{i}]": values[(g, i)] for g, i, _ in variable.members}
    raise GraphError(f"values {found} are not a state of {variable.name} (e.g. two detectors on in one block)")


def unit_factor_graph(graph, beta: float = 1.0, max_units: int = MAX_UNIT_LEVEL_UNITS) -> nx.Graph:
    """The unit-level bipartite factor graph of ``graph`` at inverse temperature ``beta``."""
    n = graph.n_units()
    if n > max_units:
        raise TooLargeError(
            f"unit-level expansion of {graph.name!r} would have {n} variable nodes (limit {max_units}); "
            "it is meant for small graphs -- pass max_units to override"
        )
    variables = unit_variables(graph)
    order = {v.name: k for k, v in enumerate(variables)}
    card = {v.name: v.n for v in variables}
    umap = unit_map(variables)
    G = nx.Graph(name=graph.name)
    for v in variables:
        G.add_node(v.name, bipartite=0, states=v.states, members=v.members)
    G.graph["unit_map"] = umap
    tables: dict[tuple, np.ndarray] = {}

    def add(scope_vars, table):
        perm = sorted(range(len(scope_vars)), key=lambda a: order[scope_vars[a]])
        key = tuple(scope_vars[a] for a in perm)
        table = np.transpose(table, perm)
        tables[key] = tables[key] + table if key in tables else table

    for f in graph.factors:
        terms = f.unit_terms()
        for groups, index, coef in terms.monomials:
            for n_ in range(len(coef)):
                units = [umap[(g, int(idx[n_]))] for g, idx in zip(groups, index)]
                scope = list(dict.fromkeys(u[0] for u in units))
                table = np.full(tuple(card[v] for v in scope), beta * float(coef[n_]))
                for name, ft in units:
                    shape = [1] * len(scope)
                    shape[scope.index(name)] = card[name]
                    table = table * ft.reshape(shape)
                add(scope, table)
        for scope_units, log_pot in terms.tables:
            scope = []
            for g, i in scope_units:
                name, ft = umap[(g, int(i))]
                if not np.array_equal(ft, np.asarray(graph.group(g).units.support, dtype=np.float64)):
                    raise GraphError(f"{f.label}: its tables need plain units, but {g}[{i}] is part of {name}")
                scope.append(name)
            if len(set(scope)) != len(scope):
                raise GraphError(f"{f.label}: a table lists a unit twice")
            add(scope, beta * np.asarray(log_pot, dtype=np.float64))
    for k, (scope, table) in enumerate(tables.items()):
        node = f"phi{k}:" + "~".join(scope)
        G.add_node(node, bipartite=1, scope=scope, log_potential=table)
        G.add_edges_from((node, u) for u in scope)
    return G


def variable_nodes(G):
    return [n for n, d in G.nodes(data=True) if d["bipartite"] == 0]


def factor_nodes(G):
    return [n for n, d in G.nodes(data=True) if d["bipartite"] == 1]
