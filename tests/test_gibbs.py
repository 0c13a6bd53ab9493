"""Batched blocked Gibbs: statistics against exact answers, clamping, temperature, determinism, allocation."""

import tracemalloc

import numpy as np
import pytest

from pgboltz import DataError, GibbsSampler
from pgboltz.conditionals import conditional_prob
from pgboltz.exact import exact
from pgboltz.graph.spec import load_spec
from pgboltz.models import ising, rbm
from pgboltz.verify import family_z_limit

from .builders import GRAPH_BUILDERS, mixed_graph, random_rbm
from .conftest import GRAPHS, z_scores

# Tolerance: 4 standard errors per compared quantity, raised for a family of m quantities to the
# Bonferroni bound (Student t, 99 dof) with family-wise false-alarm 1e-3: about 4.8 for m = 100.
# Standard errors are batch means over 100 batches of independent chains (autocorrelation included).
# Measured over 180 runs with other seeds, a bare 4.0 on the max of ~100 z-scores failed 1.1% of runs.
Z = 4.0


def gibbs_vs_exact(g, dtype, seed, chains=3000, sweeps=300, burn_in=100, beta=1.0, **kw):
    ex = exact(g, beta=beta)
    s = GibbsSampler(g, chains=chains, seed=seed, dtype=dtype, beta=beta, **kw)
    m = s.run(sweeps, burn_in=burn_in, second_moments=True, batches=100).moments
    n_total = m.n_samples * m.n_chains
    z1 = z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), n_total)
    iu = np.triu_indices(len(ex.mean), 1)
    z2 = z_scores(m.second[iu], ex.second[iu], m.second_se[iu], n_total)
    return {"means": (z1.max(), family_z_limit(z1.size)), "pairs": (z2.max(), family_z_limit(z2.size))}


def assert_within(checks):
    for what, (z, limit) in checks.items():
        assert z < limit, f"{what}: max |z| = {z:.2f} >= {limit:.2f}"


@pytest.mark.parametrize("name", ["rbm", "spin-rbm", "general-bm", "ising-4x4-periodic", "ising-4x5-open", "mixed"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_gibbs_moments_match_exact(name, dtype):
    assert_within(gibbs_vs_exact(GRAPH_BUILDERS[name](), dtype, seed=11))


@pytest.mark.parametrize("spec", ["rbm-small", "bm-small", "kings-4x4"])
def test_gibbs_moments_match_exact_for_specs(spec):
    assert_within(gibbs_vs_exact(load_spec(GRAPHS / f"{spec}.toml"), "float32", seed=5))


def test_gibbs_at_another_temperature():
    assert_within(gibbs_vs_exact(mixed_graph(), "float64", seed=2, beta=0.45))


def test_gibbs_detects_a_wrong_sampler(monkeypatch):
    """The statistical check has teeth: a sampler at the wrong temperature fails it."""
    g = random_rbm(3)
    ex = exact(g)
    s = GibbsSampler(g, chains=3000, seed=1, dtype="float64", beta=0.8)  # samples the wrong distribution
    m = s.run(300, burn_in=100, batches=100).moments
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() > 10


def test_clamped_sampling_gives_the_conditional(rng):
    g = random_rbm(4)
    v = (rng.random(7) < 0.5).astype(float)
    s = GibbsSampler(g, chains=20000, seed=3, dtype="float64", clamp={"v": v})
    assert [b.describe(g) for b in s.blocks] == ["h"]
    res = s.run(1, collect="none")
    assert np.array_equal(res.final["v"], np.broadcast_to(v, (20000, 7)))
    p = conditional_prob(g, {"v": v[None], "h": np.zeros((1, 5))}, "h")[0]
    freq = res.final["h"].mean(axis=0)
    assert np.all(np.abs(freq - p) < Z * np.sqrt(p * (1 - p) / 20000))
    # per-chain clamps: each chain its own data vector
    data = (rng.random((50, 7)) < 0.5).astype(float)
    s = GibbsSampler(g, chains=50, seed=3, clamp={"v": data})
    s.sweep(2)
    assert np.array_equal(s.get_states()["v"], data)


def test_clamped_general_bm_matches_exact_conditional():
    g = GRAPH_BUILDERS["general-bm"]()
    v = np.array([1.0, 0, 1, 1, 0])
    ex = exact(g, clamp={"v": v})
    s = GibbsSampler(g, chains=3000, seed=8, dtype="float64", clamp={"v": v})
    m = s.run(300, burn_in=50, groups=["h"], batches=100).moments
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() < Z


def test_same_seed_same_result_and_threads_do_not_matter():
    g = rbm(300, 200, scale=0.1)  # big enough that the NumPy backend uses its thread pool
    runs = []
    for threads in (1, 2, 1):
        s = GibbsSampler(g, chains=400, seed=42, threads=threads)
        s.sweep(5)
        runs.append(s.get_states())
        s.backend.close()
    for r in runs[1:]:
        assert all(np.array_equal(r[k], runs[0][k]) for k in r)
    other = GibbsSampler(g, chains=400, seed=43)
    other.sweep(5)
    assert not np.array_equal(other.get_states()["h"], runs[0]["h"])


def _sweep_peak_bytes(graph, chains):
    s = GibbsSampler(graph, chains=chains, seed=0)
    s.sweep(3)  # first sweeps may create lazily sized scratch
    tracemalloc.start()
    s.sweep(10)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, sum(x.nbytes for x in s.model.states.values())


@pytest.mark.parametrize("graph", [rbm(24, 16, scale=0.1), ising(8, 8, J=0.3), mixed_graph()],
                         ids=["rbm", "lattice", "mixed-sparse"])
def test_a_sweep_allocates_nothing_that_scales_with_the_state(graph):
    """Only small Python objects and NumPy's per-call buffers may appear: those hold at most
    8192 elements per operand per thread, whatever the array size. Both runs have chunks of
    at least 8192 rows, so a peak that grew with the state (4x here) would show."""
    small, small_state = _sweep_peak_bytes(graph, 32768)
    big, big_state = _sweep_peak_bytes(graph, 131072)
    assert big_state == 4 * small_state >= 4 * 2**20
    assert big < 512 * 1024 and big < 1.25 * small + 32 * 1024, (small, big)


def test_run_collects_samples_and_moments():
    g = rbm(6, 4, scale=0.3)
    s = GibbsSampler(g, chains=10, seed=0)
    res = s.run(9, burn_in=2, thin=3, collect="samples")
    assert res.samples["v"].shape == (3, 10, 6) and res.samples["v"].dtype == np.int8
    assert res.sweeps == 11 and res.unit_updates_per_second > 0
    res = s.run(5, collect="moments", groups=["h"])
    assert list(res.moments.mean) == ["h"] and res.moments.n_samples == 5 and res.moments.second is None
    gi = ising(3, 4)
    m = GibbsSampler(gi, chains=8, seed=0).run(2, second_moments=True).moments
    assert m.mean["s"].shape == (3, 4) and m.second.shape == (12, 12)


def test_energy_and_states_round_trip(rng):
    g = mixed_graph()
    s = GibbsSampler(g, chains=5, seed=0, dtype="float64")
    s.sweep(2)
    st = s.get_states()
    assert np.allclose(s.energy(), g.energy(st))
    new = {"s": np.ones((5, 5))}
    s.set_states(new)
    assert np.array_equal(s.get_states()["s"], np.ones((5, 5)))


def test_bad_arguments_are_refused_clearly():
    g = rbm(4, 3)
    with pytest.raises(DataError, match="chains must be a positive integer"):
        GibbsSampler(g, chains=0)
    with pytest.raises(DataError, match=r"values must be 0 or 1; found 0.3"):
        GibbsSampler(g, chains=2, clamp={"v": [0.3, 0, 1, 1]})
    with pytest.raises(DataError, match="has 3 rows, but the sampler runs 2 chains"):
        GibbsSampler(g, chains=2, clamp={"v": np.zeros((3, 4))})
    with pytest.raises(DataError, match=r"unknown group\(s\) \['x'\]"):
        GibbsSampler(g, chains=2, init={"x": 0})
    with pytest.raises(ValueError, match="dtype must be 'float32' or 'float64'"):
        GibbsSampler(g, chains=2, dtype="float16")
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        GibbsSampler(g, chains=2, backend="tpu")
    with pytest.raises(ValueError, match="collect must be"):
        GibbsSampler(g, chains=2).run(1, collect="all")


def test_progress_bar_runs():
    s = GibbsSampler(rbm(4, 3), chains=4, seed=0)
    assert s.run(3, progress=True).sweeps == 3


@pytest.mark.parametrize("shape, periodic", [((6, 8), True), ((8, 4), False), ((10, 10), True)])
def test_half_lattice_field_and_write_back_equal_the_whole_lattice_path(shape, periodic):
    """A checkerboard half's field from the compact quarters of the other colour equals the whole-lattice
    field picked at the half's sites, and a sweep through the strided write-back equals the sweep through
    the generic gather/scatter path draw for draw."""
    import pgboltz.factors.lattice as lattice
    import pgboltz.model as model
    from pgboltz.model import CompiledModel
    from pgboltz.models import ising

    r = np.random.default_rng(1)
    H, W = shape
    Jr, Jd = r.normal(size=shape), r.normal(size=shape)
    if not periodic:
        Jr[:, -1], Jd[-1, :] = 0.0, 0.0
    g = ising(H, W, J=(Jr, Jd), field=0.3, periodic=periodic)
    m = CompiledModel(g, 5, dtype="float64", seed=1)
    f = next(f for f in g.factors if f.kind == "lattice")
    k = g.factors.index(f)
    x = {"s": np.where(r.random((5, H * W)) < 0.5, -1.0, 1.0)}
    rr, cc = np.indices(shape)
    full = np.zeros((5, H * W))
    f.field_term("s", None, m.params[k], m.backend, 5)(x, full, False, slice(None))
    for p in (0, 1):
        idx = np.flatnonzero(((rr + cc) % 2).ravel() == p)
        assert lattice.checkerboard_parity(idx, shape) == p
        term = f.field_term("s", idx, m.params[k], m.backend, 5)
        assert term.half is not None
        out = np.full((5, len(idx)), 7.0)
        term(x, out, False, slice(None))
        assert np.array_equal(out, full[:, idx])
        term(x, out, True, slice(1, 4))  # adding, on some chains only
        assert np.allclose(out[1:4], 2 * full[1:4, idx]) and np.array_equal(out[0], full[0, idx])
    assert lattice.checkerboard_parity(np.arange(0, H * W, 2), shape) is None  # not a checkerboard

    def run(half):
        saved = lattice.checkerboard_parity, model.checkerboard_parity
        if not half:
            lattice.checkerboard_parity = model.checkerboard_parity = lambda *a: None
        try:
            s = GibbsSampler(g, chains=7, seed=3, dtype="float64")
            assert (s.model.updates[0][0].halves is not None) == half
            s.sweep(5)
            return s.get_states()["s"]
        finally:
            lattice.checkerboard_parity, model.checkerboard_parity = saved

    assert np.array_equal(run(True), run(False))


# -- few chains: whole fields, conditional means from the sweep, drawing given fields ----------------------------

@pytest.mark.parametrize("name", ["rbm", "general-bm", "mixed"])
def test_few_chains_compute_fields_whole_and_draw_the_same_states(name):
    """Below 64 rows per stream an update whose field is a matrix product computes it for every chain in
    one call and draws stream by stream: in float64 the states equal the chunk-by-chunk path's draw for
    draw, and they follow the exact distribution. Stencils and gathers (a lattice) stay chunked."""
    g = GRAPH_BUILDERS[name]()
    assert not GibbsSampler(GRAPH_BUILDERS["ising-4x4-periodic"](), chains=200).model._whole
    runs = []
    for whole in (True, False):
        s = GibbsSampler(g, chains=200, seed=3, dtype="float64")
        assert s.model._whole  # 200 chains, 4 streams
        s.model._whole = whole
        s.sweep(20)
        runs.append(s.get_states())
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])
    assert not GibbsSampler(g, chains=256, seed=3).model._whole
    assert_within(gibbs_vs_exact(g, "float32", seed=7, chains=200, sweeps=3000, burn_in=100))


def _sweep_means_match(backend, chains, dtype, atol):
    from pgboltz.model import CompiledModel

    r = np.random.default_rng(4)
    g = rbm(7, 5, scale=0.8, seed=2, b=r.normal(size=7), c=r.normal(0, 2, size=5))
    beta = r.uniform(0.3, 1.0, chains)  # one inverse temperature per chain, as in tempering
    for blocks, from_draw in ([["v"], ["h"]], True), ([["h"], ["v"]], False):
        m = CompiledModel(g, chains, backend=backend, seed=1, dtype=dtype, blocks=blocks, beta=beta)
        assert bool(m._plan_means(["h"])) == from_draw
        means = m.sweep(3, means=iter(["h"]))  # any iterable of groups
        v = m.backend.to_numpy(m.states["v"]).astype(np.float64)
        W, c = g.factors[0].params["W"], g.factors[2].params["b"]
        expected = 1.0 / (1.0 + np.exp(-beta[:, None] * (v @ W + c)))
        assert np.allclose(m.backend.to_numpy(means["h"]), expected, rtol=0, atol=atol)
    assert m.sweep(2) is None


@pytest.mark.parametrize("chains", [30, 400], ids=["whole", "chunks"])
def test_sweep_returns_the_conditional_means_of_its_last_draw(chains):
    """With the hidden layer drawn last, its conditional means come from the fields it was drawn from; with
    it drawn first they are computed after the sweep. Both equal E[h | v] of the final states, biases and
    per-chain temperatures included, whether the fields were computed whole or chunk by chunk."""
    _sweep_means_match("numpy", chains, "float64", 1e-12)


def test_sweep_means_on_the_fused_cupy_path_include_the_bias_the_kernel_adds(cupy_stand_in):
    """The CuPy backend's fused Bernoulli kernel adds the bias itself (it is left out of the fields): the
    means taken from that draw's fields must add it back."""
    _sweep_means_match("cupy", 64, "float32", 1e-5)


def test_draw_given_fields_equals_drawing_from_computed_fields():
    from pgboltz import GraphError
    from pgboltz.model import CompiledModel

    g = rbm(6, 4, scale=0.8, seed=5)
    out = []
    for given in (True, False):
        m = CompiledModel(g, 40, seed=2, dtype="float64")
        fields = {"h": m.field("h")} if given else None
        m.draw(["h"], given=fields)
        out.append(m.get_states()["h"])
    assert np.array_equal(out[0], out[1])
    with pytest.raises(GraphError, match="not drawn on their own"):
        CompiledModel(GRAPH_BUILDERS["ising-4x4-periodic"](), 4).draw(["nope"])


def test_neighbour_list_fields_by_row_blocks_equal_the_fields_of_all_rows(monkeypatch):
    """A sparse factor's field is computed a few chains at a time (to keep them in cache across the
    neighbour slots); the result equals the field computed over all chains at once, exactly."""
    import pgboltz.factors.sparse as sparse
    from pgboltz.model import CompiledModel

    g = mixed_graph()
    m = CompiledModel(g, 100, seed=0, dtype="float64")
    m.sweep(2)
    groups = [grp for grp in g.groups if any(f.kind == "sparse" and grp in f.groups for f in g.factors)]
    whole = {grp: {k: v.copy() for k, v in m.field(grp).items()} for grp in groups}
    monkeypatch.setattr(sparse, "ROWS_IN_CACHE_BYTES", 1)  # 16 rows per block
    m2 = CompiledModel(g, 100, seed=0, dtype="float64")
    m2.load_states(m.states)
    for grp in groups:
        assert all(np.array_equal(v, whole[grp][k]) for k, v in m2.field(grp).items())


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "arrays"])
@pytest.mark.parametrize("chains, cache_bytes", [(37, None), (300, None), (300, 4096)],
                         ids=["few", "threads", "small-blocks"])
def test_sparse_fields_with_hubs_and_isolated_units_equal_the_dense_product(chains, cache_bytes, compiled,
                                                                            monkeypatch):
    """Compiled CSR rows, or neighbour lists bucketed by degree -- a hub with 120 neighbours (summed at once,
    in slices when the cache budget is small), ordinary units (slot by slot), units with no neighbour, a
    second sparse factor adding into the same field -- give the field x @ W of the dense coupling matrix,
    for whole and partial groups, computed on the calling thread or by row chunks on the worker threads;
    a sweep's partial write-back puts every drawn part where it belongs."""
    from pgboltz.backends import NumpyBackend, cpu_kernels
    import pgboltz.factors.sparse as sparse
    from pgboltz import Bias, FactorGraph, Sparse
    from pgboltz.model import CompiledModel

    if cache_bytes is not None:
        monkeypatch.setattr(sparse, "ROWS_IN_CACHE_BYTES", cache_bytes)
    r = np.random.default_rng(3)
    n = 300
    e = np.unique(np.sort(r.integers(0, 250, (900, 2)), axis=1), axis=0)  # units 250.. stay isolated
    e = e[e[:, 0] != e[:, 1]]
    hub = np.stack([np.zeros(120, int), np.arange(130, 250)], axis=1)
    e = np.unique(np.concatenate([e, hub]), axis=0)
    w = r.normal(size=len(e))
    e2 = np.array([[1, 2], [3, 7], [0, 5]])
    w2 = r.normal(size=3)
    g = FactorGraph("hubs")
    g.add_group("s", n, "spin")
    g.add_factor(Sparse("s", "s", e, w))
    g.add_factor(Sparse("s", "s", e2, w2, name="extra"))
    g.add_factor(Bias("s", np.zeros(n)))
    W = np.zeros((n, n))
    np.add.at(W, (e[:, 0], e[:, 1]), w)
    np.add.at(W, (e2[:, 0], e2[:, 1]), w2)
    W += W.T
    if compiled and not cpu_kernels.available():
        pytest.skip("numba not installed")
    m = CompiledModel(g, chains, backend=NumpyBackend(seed=0, dtype="float64", fused=compiled))
    assert (m.backend.csr_rows is not None) == compiled
    m.sweep(2)
    x = m.states["s"]
    with m.running():  # inside a run, fields are computed by row chunks on the sampler's threads
        assert np.allclose(m.field("s")["linear"], x @ W, rtol=0, atol=1e-12)
    part = np.arange(0, n, 3)
    assert np.allclose(m.field("s", index=part)["linear"], (x @ W)[:, part], rtol=0, atol=1e-12)
