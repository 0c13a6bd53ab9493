"""Block schedules derived by colouring, and checks of user-given blocks."""

import numpy as np
import pytest

from pgboltz import Bias, Dense, FactorGraph, GibbsSampler, ScheduleError
from pgboltz.graph.schedule import as_blocks, check_blocks, derive_blocks
from pgboltz.graph.spec import load_spec
from pgboltz.models import boltzmann_machine, ising, rbm

from .conftest import GRAPHS


def parts(blocks):
    return [[(p.group, None if p.index is None else p.index.tolist()) for p in b.parts] for b in blocks]


def test_rbm_is_two_group_level_blocks_hidden_first():
    assert parts(derive_blocks(rbm(5, 3))) == [[("h", None)], [("v", None)]]


def test_dbm_chain_groups_layers_by_parity():
    g = FactorGraph("dbm")
    for name, n in (("v", 6), ("h1", 4), ("h2", 3)):
        g.add_group(name, n, role="visible" if name == "v" else "hidden")
    g.add_factor(Dense("v", "h1", np.zeros((6, 4))))
    g.add_factor(Dense("h1", "h2", np.zeros((4, 3))))
    assert parts(derive_blocks(g)) == [[("h1", None)], [("v", None), ("h2", None)]]


def test_lattices_colour_into_checkerboards_or_three_classes():
    even = derive_blocks(ising(4, 6))
    assert len(even) == 2
    idx = even[0].parts[0].index
    r, c = np.divmod(idx, 6)
    assert len(set(((r + c) % 2).tolist())) == 1
    assert len(derive_blocks(ising(5, 5))) == 3  # odd periodic lattice is not bipartite
    assert len(derive_blocks(ising(5, 5, periodic=False))) == 2


def test_kings_graph_needs_four_colours_and_bm_one_block_per_unit():
    assert len(derive_blocks(load_spec(GRAPHS / "kings-4x4.toml"))) == 4
    blocks = derive_blocks(boltzmann_machine(4, 3))
    assert len(blocks) == 7 and all(len(b.parts[0].index) == 1 for b in blocks)


def test_clamped_groups_leave_the_schedule():
    g = boltzmann_machine(4, 3)
    blocks = derive_blocks(g, free=["h"])
    assert {p.group for b in blocks for p in b.parts} == {"h"} and len(blocks) == 3


def test_huge_lattices_use_their_checkerboard_without_networkx():
    g = ising(600, 600)
    blocks = derive_blocks(g)
    assert len(blocks) == 2 and sum(len(b.parts[0].index) for b in blocks) == 360_000


def test_user_blocks_are_checked():
    g = rbm(4, 3)
    assert len(as_blocks(g, [["v"], ["h"]])) == 2
    with pytest.raises(ScheduleError, match=r"units v\[0\] and h\[0\] are coupled by the dense factor 'W'.* block 0"):
        as_blocks(g, [["v", "h"]])
    with pytest.raises(ScheduleError, match=r"unit h\[0\] is in no block"):
        as_blocks(g, [["v"]])
    with pytest.raises(ScheduleError, match="already in block 0"):
        as_blocks(g, [["v"], ["h"], [("v", [1])]])
    with pytest.raises(ScheduleError, match="'x' does not exist"):
        as_blocks(g, [["v"], ["h"], ["x"]])
    with pytest.raises(ScheduleError, match="'v' is clamped"):
        GibbsSampler(g, chains=2, clamp={"v": np.zeros(4)}, blocks=[["v"], ["h"]])
    gi = ising(4, 4)
    with pytest.raises(ScheduleError, match=r"units s\[0,0\] and s\[0,1\] are coupled by the lattice factor"):
        as_blocks(gi, [[("s", [0, 1])], [("s", list(range(2, 16)))]])


def test_every_derived_schedule_passes_the_independence_check():
    for spec in GRAPHS.glob("*.toml"):
        g = load_spec(spec)
        check_blocks(g, derive_blocks(g))
    g = FactorGraph()
    g.add_group("a", 3)
    g.add_factor(Bias("a", np.zeros(3)))
    assert parts(derive_blocks(g)) == [[("a", None)]]


def test_heap_dsatur_colours_properly_and_as_well_as_networkx():
    """Our DSATUR (used above 2,000 nodes, where networkx's rescans every node per step) is a proper
    colouring with as few colours as networkx's DSATUR, give or take tie-breaking, on random graphs."""
    import networkx as nx

    from pgboltz.graph.schedule import dsatur

    for seed in range(6):
        H = nx.gnm_random_graph(300, 1500 + 300 * seed, seed=seed)
        ours = dsatur(H)
        theirs = nx.greedy_color(H, strategy="saturation_largest_first")
        assert all(ours[u] != ours[v] for u, v in H.edges())
        assert max(ours.values()) <= max(theirs.values()) + 1
        assert ours == dsatur(H)  # deterministic


def _big_random_graph(extra_group=False):
    """3,000 spins with about 15,000 random couplings (and, if asked, a 5-unit group coupled to three of them)."""
    from pgboltz import Bias, FactorGraph, Sparse

    r = np.random.default_rng(0)
    n = 3000
    e = np.unique(np.sort(r.integers(0, n, (15000, 2)), axis=1), axis=0)
    e = e[e[:, 0] != e[:, 1]]
    g = FactorGraph("big")
    g.add_group("s", n, "spin")
    if extra_group:
        g.add_group("t", 5, "bernoulli")  # a group-level node beside the units
    g.add_factor(Sparse("s", "s", e, r.normal(size=len(e))))
    if extra_group:
        g.add_factor(Sparse("s", "t", [[0, 1], [7, 1], [9, 4]], [0.5, -0.2, 0.1]))
    g.add_factor(Bias("s", np.zeros(n)))
    return g


def test_large_non_bipartite_graphs_colour_with_dsatur_quality():
    from pgboltz.graph.schedule import colour, interaction_graph

    g = _big_random_graph()
    G = interaction_graph(g)
    c = colour(G)
    assert all(c[u] != c[v] for u, v in G.edges())
    import networkx as nx

    H = nx.convert_node_labels_to_integers(G)
    assert max(c.values()) <= max(nx.greedy_color(H, strategy="largest_first").values())


def test_array_dsatur_equals_the_graph_dsatur_and_big_graphs_skip_networkx(monkeypatch):
    """Above 2,000 unit-level nodes the interaction graph is built as integer arrays (same node keys, same
    edges as the networkx graph) and coloured by the same DSATUR rule, with the same colours; networkx is
    not asked to build a graph. A bipartite topology (Chimera-16) still gets 2 colours."""
    import networkx as nx

    from pgboltz.graph import schedule as S

    for seed in range(4):
        H = nx.gnm_random_graph(400, 2000 + 500 * seed, seed=seed)
        a, b = (np.array(x) for x in zip(*H.edges()))
        assert S.dsatur_arrays(400, a, b) == [S.dsatur(H)[v] for v in range(400)]

    g = _big_random_graph(extra_group=True)
    free = list(g.free_groups())
    G = S.interaction_graph(g, free)
    keys, heads, tails = S._interaction_arrays(g, free)
    assert keys == list(G.nodes)
    assert {frozenset((keys[u], keys[v])) for u, v in zip(heads, tails)} == {frozenset(x) for x in G.edges()}
    c = S.colour_free(g, free)
    assert all(c[u] != c[v] for u, v in G.edges())

    def no_networkx(*a, **k):
        raise AssertionError("networkx graph built for a big graph")

    monkeypatch.setattr(S, "_as_networkx", no_networkx)
    monkeypatch.setattr(S, "interaction_graph", no_networkx)
    blocks = S.derive_blocks(g)
    S.check_blocks(g, blocks)
    from pgboltz.bqm import hardware_graph

    chimera = hardware_graph("chimera", 16, seed=0)[0]
    assert chimera.n_units() > S.SMALL_COLOURING and len(S.derive_blocks(chimera)) == 2
