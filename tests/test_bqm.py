"""dimod interchange: BQMs in and out with equal energies, and the Gibbs sampler behind dimod's interface
checked against dimod's exact solver."""

import numpy as np
import pytest

dimod = pytest.importorskip("dimod", reason="dimod is optional: pip install 'pgboltz[ising]'")

from pgboltz.bqm import GibbsBQMSampler, from_bqm, to_bqm  # noqa: E402

from .builders import GRAPH_BUILDERS  # noqa: E402


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_bqm_round_trip_energies_equal(rng, vartype):
    bqm = dimod.generators.gnm_random_bqm(12, 30, vartype, random_state=3)
    bqm.offset = 0.7
    g, place, offset = from_bqm(bqm)
    lo = -1 if vartype == "SPIN" else 0
    x = rng.integers(0, 2, (50, 12)) * (1 - lo) + lo
    labels = list(bqm.variables)
    states = {grp: np.zeros((50, g.group(grp).size)) for grp in g.groups}
    for k, v in enumerate(labels):
        grp, i = place[v]
        states[grp][:, i] = x[:, k]
    np.testing.assert_allclose(g.energy(states) + offset, bqm.energies((x, labels)), atol=1e-12)
    back = to_bqm(g)
    xs = {(grp, i): states[grp][:, i] for grp in states for i in range(states[grp].shape[1])}
    y = np.stack([xs[v] for v in back.variables], axis=1)
    np.testing.assert_allclose(back.energies((y, list(back.variables))) + offset, bqm.energies((x, labels)),
                               atol=1e-12)


@pytest.mark.parametrize("name", ["spin-rbm", "ising-4x4-periodic", "general-bm"])
def test_to_bqm_keeps_the_graph_energy(rng, name):
    g = GRAPH_BUILDERS[name]()
    bqm = to_bqm(g)
    states = {n: grp.units.init_states(rng, (40, grp.size)).astype(float) for n, grp in g.groups.items()}
    y = np.stack([states[grp][:, i] for grp, i in bqm.variables], axis=1)
    np.testing.assert_allclose(bqm.energies((y, list(bqm.variables))), g.energy(states), atol=1e-12)


def test_the_gibbs_sampler_follows_the_exact_boltzmann_distribution():
    """10 spins: 1024 states; their Boltzmann probabilities at beta from dimod's ExactSolver energies
    against the frequencies of 40,000 reads (each an independent chain after 100 sweeps)."""
    bqm = dimod.generators.gnm_random_bqm(10, 20, "SPIN", random_state=5, bias_generator=lambda n: np.random.default_rng(5).normal(0, 0.4, n))
    beta = 0.8
    exact = dimod.ExactSolver().sample(bqm)
    labels = list(bqm.variables)
    e = exact.record.energy
    p = np.exp(-beta * (e - e.min()))
    p /= p.sum()
    codes_exact = ((exact.record.sample > 0) * (2 ** np.arange(10))[::-1]).sum(axis=1)
    ss = GibbsBQMSampler().sample(bqm, num_reads=40000, sweeps=100, beta=beta, seed=1)
    assert list(ss.variables) == labels
    np.testing.assert_allclose(ss.record.energy, bqm.energies((ss.record.sample, labels)), atol=1e-12)
    codes = ((ss.record.sample > 0) * (2 ** np.arange(10))[::-1]).sum(axis=1)
    freq = np.bincount(codes, minlength=1024)[codes_exact] / len(codes)
    big = p > 5e-3  # states likely enough for a z-score; the rest are compared in one lump
    z = np.abs(freq[big] - p[big]) / np.sqrt(p[big] * (1 - p[big]) / len(codes))
    from pgboltz.verify import family_z_limit

    assert z.max() < family_z_limit(int(big.sum()), batches=10**6), z.max()
    rest = 1 - p[big].sum()
    assert abs((1 - freq[big].sum()) - rest) < 5 * np.sqrt(rest * (1 - rest) / len(codes)) + 1e-4


@pytest.mark.parametrize("kind,size", [("chimera", 2), ("pegasus", 2), ("zephyr", 1)])
def test_hardware_topologies_become_samplable_graphs(kind, size):
    dnx = pytest.importorskip("dwave_networkx")
    from pgboltz import GibbsSampler
    from pgboltz.bqm import hardware_graph

    g, place = hardware_graph(kind, size, seed=1)
    G = getattr(dnx, f"{kind}_graph")(size)
    assert g.n_units() == G.number_of_nodes()
    assert sum(len(f.edges) for f in g.factors if f.kind == "sparse") == G.number_of_edges()
    s = GibbsSampler(g, chains=8, seed=0)
    s.sweep(2)
    assert len(s.model.blocks) <= 4  # chimera is bipartite (2); pegasus and zephyr colour in 4
