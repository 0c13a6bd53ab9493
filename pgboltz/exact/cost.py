"""Cost of exact variable elimination, estimated before anything is allocated.

Eliminating variable v multiplies every table that mentions v, so it builds a
table over v and all its current neighbours in the (growing) interaction graph.
The largest such table, ``prod of cardinalities``, bounds memory and time; an
order with a small maximum is a good order. Min-fill (pick the variable whose
elimination adds the fewest new edges, ties by min degree) is the classic
heuristic and is what we use for explicit orders.
"""

from __future__ import annotations

import networkx as nx


def min_fill_order(G: nx.Graph, keep=()) -> list:
    """A min-fill elimination order of all nodes of G except ``keep``."""
    H = G.copy()
    keep = set(keep)
    order = []
    while len(H) > len(keep):
        best, best_key = None, None
        for v in H.nodes:
            if v in keep:
                continue
            nb = list(H.neighbors(v))
            fill = sum(1 for a in range(len(nb)) for b in range(a + 1, len(nb)) if not H.has_edge(nb[a], nb[b]))
            key = (fill, len(nb), str(v))
            if best_key is None or key < best_key:
                best, best_key = v, key
        nb = list(H.neighbors(best))
        H.add_edges_from((nb[a], nb[b]) for a in range(len(nb)) for b in range(a + 1, len(nb)))
        H.remove_node(best)
        order.append(best)
    return order


def largest_table(G: nx.Graph, order, card: dict) -> float:
    """Entries of the largest intermediate table when eliminating ``order`` from G."""
    H = G.copy()
    largest = 1.0
    for v in order:
        nb = list(H.neighbors(v))
        size = float(card[v])
        for u in nb:
            size *= card[u]
        largest = max(largest, size)
        H.add_edges_from((nb[a], nb[b]) for a in range(len(nb)) for b in range(a + 1, len(nb)))
        H.remove_node(v)
    return largest


def treewidth_lower_bound(graph, free) -> int:
    """A cheap lower bound on the treewidth of the unit interaction graph over ``free`` groups.

    A dense coupling between groups of n_a and n_b units contains the complete
    bipartite graph K(n_a, n_b), of treewidth min(n_a, n_b); within one group of n
    units it is the clique K(n), of treewidth n - 1. Any elimination order then
    builds a table over at least (bound + 1) units.
    """
    free = set(free)
    bound = 0
    for f in graph.factors:
        for c in f.couplings():
            if c.dense and c.group_a in free and c.group_b in free:
                na, nb = graph.group(c.group_a).size, graph.group(c.group_b).size
                bound = max(bound, na - 1 if c.group_a == c.group_b else min(na, nb))
    return bound
