"""Interchange: networkx in and out, and any graph written as a spec file (energies equal)."""

import networkx as nx
import numpy as np
import pytest

from pgboltz import GraphError
from pgboltz.interop import from_networkx, to_networkx, write_spec
from pgboltz.specs import load

from .builders import GRAPH_BUILDERS, covariance_rbm, gb_rbm, pooling_graph, small_dbm, small_dbn, threeway_graph


def random_states(g, rng, n=20):
    return {name: grp.units.init_states(rng, (n, grp.size)).astype(np.float64) for name, grp in g.groups.items()}


def test_from_networkx_energy_is_the_attribute_energy(rng):
    G = nx.random_regular_graph(3, 12, seed=1)
    for u, v in G.edges:
        G.edges[u, v]["weight"] = rng.normal()
    for n in G.nodes:
        G.nodes[n]["bias"] = rng.normal()
        if n % 3 == 0:
            G.nodes[n]["units"] = "bernoulli"
    g, place = from_networkx(G, name="rr")
    states = random_states(g, rng)
    x = {n: states[grp][:, i] for n, (grp, i) in place.items()}
    expected = -sum(d["weight"] * x[u] * x[v] for u, v, d in G.edges(data=True)) \
        - sum(G.nodes[n]["bias"] * x[n] for n in G.nodes)
    np.testing.assert_allclose(g.energy(states), expected, atol=1e-12)


@pytest.mark.parametrize("name", ["rbm", "spin-rbm", "general-bm", "ising-4x4-periodic", "ising-4x5-open", "mixed"])
def test_to_networkx_and_back_keeps_the_energy(rng, name):
    g = GRAPH_BUILDERS[name]()
    G = to_networkx(g)
    h, place = from_networkx(G)
    states = random_states(g, rng)
    hs = {grp: np.zeros((20, h.group(grp).size)) for grp in h.groups}
    for (group, i), (hg, j) in place.items():
        hs[hg][:, j] = states[group][:, i]
    np.testing.assert_allclose(h.energy(hs), g.energy(states), atol=1e-12)


def test_to_networkx_refuses_what_is_not_pairwise():
    with pytest.raises(GraphError, match="not a pairwise energy term"):
        to_networkx(pooling_graph())


@pytest.mark.parametrize("build", [lambda: GRAPH_BUILDERS["mixed"](), pooling_graph, small_dbm, small_dbn,
                                   gb_rbm, covariance_rbm, threeway_graph,
                                   lambda: GRAPH_BUILDERS["ising-4x5-open"]()])
def test_write_spec_reads_back_the_same_energy(tmp_path, rng, build):
    g = build()
    files = write_spec(g, tmp_path / "out.toml")
    assert files[0].exists() and files[1].exists()
    h = load(str(files[0]))
    assert [(f.kind, f.groups) for f in h.factors] == [(f.kind, f.groups) for f in g.factors]
    states = random_states(g, rng)
    np.testing.assert_allclose(h.energy(states), g.energy(states), atol=1e-12)


def test_write_spec_of_a_large_sparse_graph_uses_an_edge_file(tmp_path, rng):
    G = nx.random_regular_graph(4, 1200, seed=0)
    g, _ = from_networkx(G)
    files = write_spec(g, tmp_path / "big")
    assert any(f.suffix == ".txt" for f in files)
    h = load(str(tmp_path / "big.toml"))
    states = random_states(g, rng, 5)
    np.testing.assert_allclose(h.energy(states), g.energy(states), atol=1e-12)


def test_cli_info_writes_a_spec(tmp_path, capsys):
    from pgboltz.cli import main

    assert main(["info", "conv-small", "--write-spec", str(tmp_path / "c.toml")]) == 0
    assert "wrote" in capsys.readouterr().out
    h, g = load(str(tmp_path / "c.toml")), load("conv-small")
    rng = np.random.default_rng(0)
    states = random_states(g, rng)
    np.testing.assert_allclose(h.energy(states), g.energy(states), atol=1e-12)
