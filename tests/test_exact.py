"""Exact inference: enumerator vs pgmpy vs naive brute force; refusals of oversize requests."""

import itertools

import numpy as np
import pytest

from pgboltz import TooLargeError
from pgboltz.exact import PgmpyOracle, exact, log_z
from pgboltz.exact.cost import largest_table, min_fill_order
from pgboltz.graph.spec import load_spec
from pgboltz.models import boltzmann_machine, ising, rbm

from .conftest import GRAPHS, SMALL_SPECS
from .builders import GRAPH_BUILDERS, mixed_graph, random_rbm


def naive_log_z(g, beta=1.0):
    """Sum exp(-beta E) over every joint state, via the graph's energy (no summing out, no pgmpy)."""
    groups = list(g.groups.values())
    n = sum(grp.size for grp in groups)
    bits = np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)
    states, off = {}, 0
    for grp in groups:
        lo, hi = grp.units.support
        states[grp.name] = (lo + (hi - lo) * bits[:, off:off + grp.size]).reshape((-1,) + grp.shape)
        off += grp.size
    e = -beta * g.energy(states)
    m = e.max()
    return m + np.log(np.exp(e - m).sum())


@pytest.mark.parametrize("name", list(GRAPH_BUILDERS))
def test_enumerator_log_z_equals_pgmpy(name):
    g = GRAPH_BUILDERS[name]()
    assert abs(log_z(g) - PgmpyOracle(g).log_z()) < 1e-9


@pytest.mark.parametrize("spec", SMALL_SPECS)
def test_enumerator_or_pgmpy_on_every_small_spec(spec):
    g = load_spec(GRAPHS / f"{spec}.toml")
    lz = PgmpyOracle(g).log_z()
    try:
        assert abs(log_z(g) - lz) < 1e-9
    except TooLargeError:
        assert g.n_units() > 22  # only the 6x6 Ising lattice; checked against pgmpy's two routes below
        assert abs(PgmpyOracle(g, order="minfill").log_z() - lz) < 1e-9


@pytest.mark.parametrize("name", ["rbm", "general-bm", "mixed", "ising-4x5-open"])
def test_enumerator_and_pgmpy_agree_with_naive_brute_force(name):
    g = GRAPH_BUILDERS[name]()
    for beta in (1.0, 0.3):
        ref = naive_log_z(g, beta)
        assert abs(log_z(g, beta=beta) - ref) < 1e-9
        assert abs(PgmpyOracle(g, beta=beta).log_z() - ref) < 1e-9


def test_summing_out_chooses_the_larger_side_and_handles_64x20():
    g = random_rbm(0, nv=10, nh=4)
    res = exact(g)
    assert res.summed == ["v"] and res.enumerated == ["h"]
    big = rbm(64, 20, scale=0.1, seed=1)
    res = exact(big, second_moments=False)
    assert res.summed == ["v"] and np.isfinite(res.log_z)
    # a DBM-like chain v - h1 - h2: sum out {v, h2}, enumerate h1
    from pgboltz import Bias, Dense, FactorGraph

    d = FactorGraph("dbm")
    r = np.random.default_rng(0)
    for name, n in (("v", 6), ("h1", 4), ("h2", 5)):
        d.add_group(name, n)
        d.add_factor(Bias(name, r.normal(size=n)))
    d.add_factor(Dense("v", "h1", r.normal(size=(6, 4))))
    d.add_factor(Dense("h1", "h2", r.normal(size=(4, 5))))
    res = exact(d)
    assert set(res.summed) == {"v", "h2"} and res.enumerated == ["h1"]
    assert abs(res.log_z - naive_log_z(d)) < 1e-9


@pytest.mark.parametrize("name", ["rbm", "mixed", "ising-4x4-periodic", "spin-rbm"])
def test_marginals_and_pair_moments_equal_pgmpy(name):
    g = GRAPH_BUILDERS[name]()
    res = exact(g)
    oracle = PgmpyOracle(g)
    means = np.array([oracle.mean(u) for u in res.names])
    assert np.allclose(res.mean, means, atol=1e-10)
    r = np.random.default_rng(0)
    for _ in range(6):
        a, b = sorted(r.choice(len(res.names), 2, replace=False))
        assert abs(res.second[a, b] - oracle.pair_moment(res.names[a], res.names[b])) < 1e-10
    # the diagonal is E[x^2]: x for Bernoulli, 1 for spin
    grp_of = [g.group(n.split("[")[0]) for n in res.names]
    for k, grp in enumerate(grp_of):
        expected = res.mean[k] if grp.units.name == "bernoulli" else 1.0
        assert abs(res.second[k, k] - expected) < 1e-10


def test_clamped_exact_matches_pgmpy_evidence():
    g = mixed_graph()
    v = np.array([1.0, 0.0, 1.0, 1.0])
    res = exact(g, clamp={"v": v})
    oracle = PgmpyOracle(g, clamp={"v": v})
    assert abs(res.log_z - oracle.log_z()) < 1e-9
    assert np.allclose(res.mean, [oracle.mean(u) for u in res.names], atol=1e-10)


def test_explicit_and_greedy_orders_agree_on_a_lattice():
    g = ising(5, 5, J=0.4, field=0.1)
    lz = PgmpyOracle(g, order="greedy").log_z()
    assert abs(PgmpyOracle(g, order="minfill").log_z() - lz) < 1e-9
    o = PgmpyOracle(g)
    order = min_fill_order(o._interaction)
    assert abs(PgmpyOracle(g, order=order).log_z() - lz) < 1e-9


def test_min_fill_cost_on_known_graphs():
    import networkx as nx

    path = nx.path_graph(10)
    card = {v: 2 for v in path}
    assert largest_table(path, min_fill_order(path), card) == 4  # treewidth 1
    grid = nx.grid_2d_graph(4, 4)
    assert largest_table(grid, min_fill_order(grid), {v: 2 for v in grid}) == 2**5  # treewidth 4


def test_oversize_requests_are_refused_before_allocating():
    with pytest.raises(TooLargeError, match=r"2\^30 states .* limit is 22 units.*AIS"):
        exact(rbm(40, 30))
    with pytest.raises(TooLargeError, match=r"at least 2\^31 entries.*treewidth >= 30"):
        PgmpyOracle(rbm(40, 30))
    # lattice: no dense bound; the planned table is what refuses
    o = PgmpyOracle(ising(10, 10, J=0.2), max_entries=1000)
    with pytest.raises(TooLargeError, match=r"table of .* entries \(limit 1e\+03"):
        o.log_z()
    with pytest.raises(TooLargeError, match="unit-level expansion"):
        from pgboltz.graph.unit_level import unit_factor_graph

        unit_factor_graph(rbm(4000, 1001))


def test_overflowing_log_potentials_are_refused():
    g = rbm(4, 3, W=np.full((4, 3), 80.0))
    with pytest.raises(TooLargeError, match="span .* nats"):
        PgmpyOracle(g)
    # the enumerator works in log space and handles it
    assert np.isfinite(log_z(g))
    assert abs(log_z(g) - naive_log_z(g)) < 1e-9


def test_bm_pairs_from_pgmpy_with_spin_states():
    g = boltzmann_machine(3, 2, units="spin", seed=9)
    o = PgmpyOracle(g)
    assert o.states["v[0]"] == (-1.0, 1.0)
    res = exact(g)
    assert abs(o.pair_moment("v[0]", "h[1]") - res.second[0, 4]) < 1e-10
