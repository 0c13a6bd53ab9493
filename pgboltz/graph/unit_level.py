"""Unit-level expansion: the same factors, one node per unit and one per energy term.

Produces a networkx *bipartite factor graph*: variable nodes (``bipartite=0``,
named like ``v[3]``) and factor nodes (``bipartite=1``) carrying a log-potential
table over their scope. All terms on the same scope are merged into one factor
node -- pgmpy silently drops one of two factors with equal scope and values, so
the bridge must never see duplicates.

    log phi(x_scope) = -beta * (sum of the energy terms on that scope)

Tables index states by position in the unit type's support; for a scope (a, b)
entry [s_a, s_b] is the log-potential at (support[s_a], support[s_b]).
Only for small graphs: refuses more than ``max_units`` units.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from ..errors import TooLargeError

MAX_UNIT_LEVEL_UNITS = 5000


def unit_factor_graph(graph, beta: float = 1.0, max_units: int = MAX_UNIT_LEVEL_UNITS) -> nx.Graph:
    """The unit-level bipartite factor graph of ``graph`` at inverse temperature ``beta``."""
    n = graph.n_units()
    if n > max_units:
        raise TooLargeError(
            f"unit-level expansion of {graph.name!r} would have {n} variable nodes (limit {max_units}); "
            "it is meant for small graphs -- pass max_units to override"
        )
    G = nx.Graph(name=graph.name)
    support = {}
    for g, grp in graph.groups.items():
        support[g] = np.asarray(grp.units.support, dtype=np.float64)
        for i in range(grp.size):
            G.add_node(grp.unit_name(i), bipartite=0, group=g, index=i, units=grp.units.name,
                       states=tuple(grp.units.support))
    tables: dict[tuple, np.ndarray] = {}

    def add(scope, table):
        if scope in tables:
            tables[scope] = tables[scope] + table
        else:
            tables[scope] = table

    for f in graph.factors:
        terms = f.unit_terms()
        for g, idx, coef in terms.unary:
            grp = graph.group(g)
            for i, c in zip(idx.tolist(), coef.tolist()):
                add((grp.unit_name(i),), beta * c * support[g])
        for ga, ia, gb, ib, w in terms.pairs:
            A, B = graph.group(ga), graph.group(gb)
            outer = np.multiply.outer(support[ga], support[gb])
            for i, j, wij in zip(ia.tolist(), ib.tolist(), w.tolist()):
                na, nb = A.unit_name(i), B.unit_name(j)
                if (nb, na) in tables:  # keep one orientation per unordered pair
                    add((nb, na), beta * wij * outer.T)
                else:
                    add((na, nb), beta * wij * outer)
    for k, (scope, table) in enumerate(tables.items()):
        node = f"phi{k}:" + "~".join(scope)
        G.add_node(node, bipartite=1, scope=scope, log_potential=table)
        G.add_edges_from((node, u) for u in scope)
    return G


def variable_nodes(G):
    return [n for n, d in G.nodes(data=True) if d["bipartite"] == 0]


def factor_nodes(G):
    return [n for n, d in G.nodes(data=True) if d["bipartite"] == 1]
