"""Factor graphs: construction, validation errors, unit-level expansion."""

import networkx as nx
import numpy as np
import pytest

from pgboltz import Bias, Dense, FactorGraph, GraphError, Lattice2D, Sparse
from pgboltz.graph.unit_level import factor_nodes, unit_factor_graph, variable_nodes
from pgboltz.models import boltzmann_machine, ising, rbm


def two_groups():
    g = FactorGraph("t")
    g.add_group("v", 4, role="visible")
    g.add_group("h", 3)
    return g


def test_parameter_count_and_summary():
    g = boltzmann_machine(5, 3)
    # L: 5*4/2, J: 3*2/2, W: 15, biases 8
    assert g.n_parameters() == 10 + 3 + 15 + 8
    assert "internal couplings" in g.summary()
    assert ising(4, 4, periodic=False).n_parameters() == 2 * 4 * 3 + 16


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda g: g.add_group("v", 2), "duplicate group name 'v'"),
        (lambda g: g.add_group("1x", 2), "must be an identifier"),
        (lambda g: g.add_group("z", [0]), "positive integers"),
        (lambda g: g.add_group("z", 2, role="output"), "role must be one of"),
        (lambda g: g.add_group("z", 2, units="gauss"), "unknown unit type"),
        (lambda g: g.add_factor(Dense("v", "x", np.zeros((4, 2)))), "unknown group 'x'; known groups: v, h"),
        (lambda g: g.add_factor(Dense("v", "h", np.zeros((3, 4)))), r"has shape \(3, 4\), expected \(4, 3\)"),
        (lambda g: g.add_factor(Dense("v", "v", np.eye(4))), "self-loops"),
        (lambda g: g.add_factor(Dense("v", "v", np.triu(np.ones((4, 4)), 1))), "must be symmetric"),
        (lambda g: g.add_factor(Bias("v", [0, 0, np.nan, 0])), "contains NaN"),
        (lambda g: g.add_factor(Sparse("v", "v", [[0, 0]], [1.0])), "self-loop"),
        (lambda g: g.add_factor(Sparse("v", "v", [[0, 1], [1, 0]], [1.0, 2.0])), "duplicate edge"),
        (lambda g: g.add_factor(Sparse("v", "h", [[0, 3]], [1.0])), "outside group 'h'"),
        (lambda g: g.add_factor(Sparse("v", "h", [[0, 1]], [1.0, 2.0])), r"'w' has shape \(2,\)"),
        (lambda g: g.add_factor(Lattice2D("v", 1.0, 1.0)), "needs a 2-D group"),
    ],
)
def test_invalid_graphs_are_refused_clearly(build, message):
    g = two_groups()
    with pytest.raises(GraphError, match=message):
        build(g)


def test_lattice_validation():
    g = FactorGraph()
    g.add_group("s", (2, 5), "spin")
    with pytest.raises(GraphError, match="at least 3 rows and columns"):
        g.add_factor(Lattice2D("s", 1.0, 1.0, periodic=True))
    with pytest.raises(GraphError, match="open boundary"):
        g.add_factor(Lattice2D("s", 1.0, 1.0, periodic=False))


def test_states_are_validated():
    g = rbm(4, 3)
    from pgboltz import DataError

    with pytest.raises(DataError, match="values must be 0 or 1; found 0.5"):
        g.energy({"v": np.full((2, 4), 0.5), "h": np.zeros((2, 3))})
    with pytest.raises(DataError, match=r"needs shape \(chains, 4\)"):
        g.energy({"v": np.zeros((2, 5)), "h": np.zeros((2, 3))})
    with pytest.raises(DataError, match="no values for group 'h'"):
        g.energy({"v": np.zeros((2, 4))})


def test_energy_matches_the_rbm_formula(rng):
    g = rbm(5, 4, scale=0.7, b=rng.normal(size=5), c=rng.normal(size=4))
    W = g.factors[0].params["W"]
    b, c = g.factors[1].params["b"], g.factors[2].params["b"]
    v = (rng.random((7, 5)) < 0.5).astype(float)
    h = (rng.random((7, 4)) < 0.5).astype(float)
    expected = -(v @ b) - (h @ c) - np.einsum("ni,ij,nj->n", v, W, h)
    assert np.allclose(g.energy({"v": v, "h": h}), expected, atol=1e-12)


def test_energy_of_sparse_and_lattice_factors_match_explicit_sums(rng):
    g = ising(3, 4, J=(rng.normal(size=(3, 4)), rng.normal(size=(3, 4))), field=0.0)
    Jr, Jd = g.factors[0].params["J_right"], g.factors[0].params["J_down"]
    s = np.where(rng.random((5, 3, 4)) < 0.5, -1.0, 1.0)
    e = np.zeros(5)
    for r in range(3):
        for c in range(4):
            e -= Jr[r, c] * s[:, r, c] * s[:, r, (c + 1) % 4] + Jd[r, c] * s[:, r, c] * s[:, (r + 1) % 3, c]
    assert np.allclose(g.energy({"s": s}), e)

    g2 = FactorGraph()
    g2.add_group("x", 5, "spin")
    edges, w = np.array([[0, 1], [1, 4], [2, 3], [0, 4]]), rng.normal(size=4)
    g2.add_factor(Sparse("x", "x", edges, w))
    x = np.where(rng.random((6, 5)) < 0.5, -1.0, 1.0)
    expected = -sum(w[k] * x[:, i] * x[:, j] for k, (i, j) in enumerate(edges))
    assert np.allclose(g2.energy({"x": x}), expected)


def test_unit_level_expansion_is_a_bipartite_factor_graph_with_merged_scopes():
    g = boltzmann_machine(4, 3)
    # a second bias on v and a second v-v coupling share scopes with existing terms: they must merge
    g.add_factor(Bias("v", np.ones(4)))
    G = unit_factor_graph(g)
    assert nx.is_bipartite(G)
    assert {d["bipartite"] for _, d in G.nodes(data=True)} == {0, 1}
    assert len(variable_nodes(G)) == 7
    scopes = [frozenset(G.nodes[f]["scope"]) for f in factor_nodes(G)]
    assert len(scopes) == len(set(scopes))  # one factor node per scope
    assert len(scopes) == 7 + 21  # 7 unary + all 21 pairs
    # merged unary table of v[0]: (bias b_0 + 1) * x
    b0 = g.factors[3].params["b"][0]
    node = next(f for f in factor_nodes(G) if G.nodes[f]["scope"] == ("v[0]",))
    assert np.allclose(G.nodes[node]["log_potential"], [0.0, b0 + 1.0])


def test_unit_names_are_strings_with_multi_indices():
    g = ising(2 + 1, 3)
    assert g.unit_names()[:4] == ["s[0,0]", "s[0,1]", "s[0,2]", "s[1,0]"]
