"""The NumPy backend's fused kernels (Numba), the CPU twins of the CUDA kernels.

* each kernel (binary, Gaussian, max pooling, checkerboard) equals the NumPy reference of the CUDA kernel (:mod:`pgboltz.backends.reference`) bit for
  bit, on fields that reach every branch (+-inf, NaN, the ends of exp's range), row lengths that cut
  Philox blocks anywhere, per-row and scalar beta, with and without a bias;
* the NumPy backend runs them for binary and Gaussian float32 updates (not for float64, not with
  ``fused=False``), with stream k keyed like the GPU's stream k: one stream draws the same numbers as the
  CuPy path (on the stand-in, where the products round alike, the states are equal);
* the results do not depend on the number of threads, and reseeding reaches the kernels;
* the samples follow the exact distributions.
"""

import numpy as np
import pytest

from pgboltz import GibbsSampler
from pgboltz.backends import NumpyBackend, cpu_kernels
from pgboltz.backends import reference as ref
from pgboltz.backends.cupy_backend import CupyBackend
from pgboltz.backends.fused import Launches, launch_key
from pgboltz.exact import exact
from pgboltz.models import rbm

from .builders import GRAPH_BUILDERS, gb_rbm, small_dbm
from .conftest import z_scores
from .fake_cupy import make

pytestmark = pytest.mark.skipif(not cpu_kernels.available(), reason="numba not installed")

KEY, COUNTER = (0x12345678, 0x9ABCDEF0), (7, 1)
NONE = np.zeros(1, np.float32)
NO_INDEX = np.zeros(1, np.intp)
EDGES = np.array([0.0, -0.0, 1e-30, 0.5, -0.5, 88.6, 88.7, 88.70001, 100, -86.8, -86.9, -86.90001, -87.0, -200,
                  np.inf, -np.inf, np.nan], np.float32)


def _words(key=KEY, counter=COUNTER):
    return tuple(np.uint32(v) for v in (*key, *counter))


def _field(rng, shape, scale=5.0):
    f = (rng.normal(size=shape) * scale).astype(np.float32)
    flat = f.reshape(-1)
    k = min(flat.size, EDGES.size)
    flat[:k] = EDGES[:k]
    return f


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (5, 13), (64, 500), (2, 4097)])
@pytest.mark.parametrize("with_bias", [True, False])
@pytest.mark.parametrize("per_row_beta", [True, False])
def test_binary_kernel_equals_the_reference_bit_for_bit(rng, shape, with_bias, per_row_beta):
    k = cpu_kernels.kernels()["binary"]
    f = _field(rng, shape)
    bias = rng.normal(size=shape[1]).astype(np.float32) if with_bias else None
    beta = rng.random(shape[0]).astype(np.float32) * 2 if per_row_beta else None
    index = rng.permutation(shape[1] + 3)[:shape[1]].astype(np.intp)  # into a wider array, any order
    for gap, lo, hi in ((1.0, 0.0, 1.0), (2.0, -1.0, 1.0)):
        args = (f, NONE if bias is None else bias, bias is not None, NONE if beta is None else beta,
                beta is not None, np.float32(0.7), np.float32(gap), np.float32(lo), np.float32(hi))
        want = ref.binary_update(f, bias, beta, 0.7, gap, lo, hi, KEY, COUNTER)
        out = np.full(shape, 7, np.float32)
        k(*args, out, NO_INDEX, False, *_words())
        assert np.array_equal(out, want)
        wide = np.full((shape[0], shape[1] + 3), 7, np.float32)
        k(*args, wide, index, True, *_words())
        assert np.array_equal(wide[:, index], want)
        assert (np.delete(wide, index, axis=1) == 7).all()


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (5, 13), (64, 500)])
@pytest.mark.parametrize("per_row_beta", [True, False])
def test_gaussian_kernel_equals_the_reference_bit_for_bit(rng, shape, per_row_beta):
    k = cpu_kernels.kernels()["gaussian"]
    eta = rng.normal(size=shape).astype(np.float32) * 3
    lam = (rng.random(shape) * 4 + 0.05).astype(np.float32)
    beta = (rng.random(shape[0]) + 0.1).astype(np.float32) if per_row_beta else None
    out = np.empty(shape, np.float32)
    k(eta, lam, NONE if beta is None else beta, beta is not None, np.float32(0.9), out, *_words())
    want = ref.gaussian_update(eta, lam, beta, 0.9, KEY, COUNTER)
    assert np.array_equal(out.view(np.uint32), want.view(np.uint32))


def test_numpy_backend_runs_kernels_for_float32_binary_and_gaussian_updates_only():
    def kernels(g, **kw):
        m = GibbsSampler(g, chains=8, **kw).model
        return {u.group: getattr(u.kernel, "__name__", None) for block in m.updates for u in block}

    assert kernels(rbm(5, 3, seed=0), backend=NumpyBackend(seed=0)) == {"v": "binary", "h": "binary"}
    assert kernels(gb_rbm(seed=1), backend=NumpyBackend(seed=0))["v"] == "gaussian"
    assert set(kernels(rbm(5, 3, seed=0), backend=NumpyBackend(seed=0, fused=False)).values()) == {None}
    assert set(kernels(rbm(5, 3, seed=0), backend=NumpyBackend(seed=0, dtype="float64")).values()) == {None}


def test_stream_k_is_keyed_like_the_gpu_and_reseeding_reaches_the_kernels():
    be = NumpyBackend(seed=11, streams=3)
    kernels = be.kernels()
    assert [ln.key for ln in kernels.launches] == [launch_key(11, k) for k in range(3)]
    be.reseed([4, 5])
    assert be.kernels() is kernels and [ln.key for ln in kernels.launches] == [launch_key([4, 5], k) for k in range(3)]


def test_one_stream_draws_what_the_cupy_path_draws():
    """Same seed, one stream: the same Philox numbers as the GPU kernels. On the CuPy stand-in the products
    are NumPy's too, so the fields round alike and the states must be equal, sweep after sweep."""
    g = rbm(23, 11, scale=1.0, seed=4)
    a = GibbsSampler(g, chains=70, backend=NumpyBackend(seed=3, streams=1), seed=3).model
    b = GibbsSampler(g, chains=70, backend=CupyBackend(seed=3, module=make()), seed=3).model
    b.set_states(a.get_states())
    for _ in range(5):
        a.sweep(1)
        b.sweep(1)
        sa, sb = a.get_states(), b.get_states()
        assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert a.backend.kernels().launches[0].count == b.backend.kernels().launches.count == 10


@pytest.mark.parametrize("chains", [40, 600])  # whole fields with per-stream draws / chunks on worker threads
def test_results_do_not_depend_on_the_number_of_threads(chains):
    g = rbm(30, 20, scale=0.5, seed=1)
    states = []
    for threads in (1, 2):
        s = GibbsSampler(g, chains=chains, backend=NumpyBackend(seed=5, threads=threads), seed=5)
        s.sweep(7)
        states.append(s.get_states())
    assert all(np.array_equal(states[0][k], states[1][k]) for k in states[0])


GRAPHS = {"rbm": GRAPH_BUILDERS["rbm"], "spin-rbm": GRAPH_BUILDERS["spin-rbm"], "mixed": GRAPH_BUILDERS["mixed"],
          "general-bm": GRAPH_BUILDERS["general-bm"], "dbm": small_dbm}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_kernel_samples_match_exact_marginals(name):
    g = GRAPHS[name]()
    s = GibbsSampler(g, chains=2000, backend=NumpyBackend(seed=1))  # max z over 40 seeds: 4.1 once (seed 2), else < 2.7
    assert any(u.kernel is not None for block in s.model.updates for u in block)
    m = s.run(150, burn_in=50, batches=50).moments
    ex = exact(g)
    # one z-score per unit (at most 36): family-wise 1e-3 gives 4.0
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() < 4


# The Gaussian kernel's exact hidden marginals and per-chain beta (beta = 0 chains uniform) are checked on
# both fused backends in tests/test_fused.py.


def test_launches_count_per_stream():
    be = NumpyBackend(seed=0, streams=2, threads=1)
    s = GibbsSampler(rbm(4, 3, seed=0), chains=10, backend=be)
    s.sweep(3)
    assert [ln.count for ln in be.kernels().launches] == [6, 6]  # two updates per sweep, each stream
    assert isinstance(be.kernels().launches[0], Launches)


def test_compiled_sparse_fields_and_write_back_repeat_the_array_code_in_float64():
    """In float64 the draws are the array code's (PCG64 noise); only the sparse fields (CSR rows) and the
    write-back of colour classes are compiled. Fields equal to rounding, so the states stay equal."""
    g = GRAPH_BUILDERS["mixed"]()
    runs = []
    for fused in (True, False):
        s = GibbsSampler(g, chains=300, backend=NumpyBackend(seed=9, dtype="float64", fused=fused), seed=9)
        assert (s.model.backend.csr_rows is not None) == fused
        assert any(u.index is not None for block in s.model.updates for u in block)  # colour classes of s
        s.sweep(6)
        runs.append(s.get_states())
    assert all(np.array_equal(runs[0][k], runs[1][k]) for k in runs[0])


@pytest.mark.parametrize("H, W", [(2, 2), (4, 6), (6, 10), (8, 16)])
@pytest.mark.parametrize("uniform", [True, False])
def test_checkerboard_kernel_equals_the_reference_bit_for_bit(rng, H, W, uniform):
    k = cpu_kernels.kernels()["checkerboard"]
    x = np.where(rng.random((5, H, W)) < 0.5, -1, 1).astype(np.int8)
    if uniform:
        Jr, Jd, h = (np.full((H, W), v, np.float32) for v in (0.44, 0.44, -0.1))
    else:
        Jr, Jd, h = (rng.normal(size=(H, W)).astype(np.float32) * 2 for _ in range(3))
        Jr[0, 0] = np.inf  # a field of +-inf at the sites it touches
    for colour in (0, 1):
        want = ref.checkerboard_update(x, Jr, Jd, h, colour, np.float32(0.9), -1, 1, KEY, COUNTER)
        got = x.copy()
        params = [np.ascontiguousarray(a[:1, :1]) for a in (Jr, Jd, h)] if uniform else (Jr, Jd, h)
        k(got[:2], *params, uniform, 0, 2, H, W, colour, np.float32(0.9), np.int8(-1), np.int8(1), *_words())
        k(got, *params, uniform, 2, 5, H, W, colour, np.float32(0.9), np.int8(-1), np.int8(1), *_words())
        assert np.array_equal(got, want)  # chains 0-1 and 2-4 in separate calls of one launch


@pytest.mark.parametrize("threads", [1, 2])
def test_checkerboard_sampler_on_the_cpu_runs_the_compiled_twin_of_the_reference(threads):
    from pgboltz.models import ising
    from pgboltz.sampling import CheckerboardSampler

    r = np.random.default_rng(2)
    for g in (ising(6, 8, J=0.4, field=0.1), ising(6, 8, J=(r.normal(size=(6, 8)), r.normal(size=(6, 8))))):
        a = CheckerboardSampler(g, chains=37, backend=NumpyBackend(seed=3, threads=threads, dtype="float64"),
                                seed=3)  # int8 states, float32 parameters: compiled whatever the dtype
        b = CheckerboardSampler(g, chains=37, backend=NumpyBackend(seed=3, fused=False), seed=3)
        assert a.compiled is not None and b.compiled is None
        a.sweep(4)
        b.sweep(4)
        assert np.array_equal(a.get_states()["s"], b.get_states()["s"])


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 2), (2, 3)])
@pytest.mark.parametrize("per_row_beta", [True, False])
def test_pool_kernel_equals_the_reference_bit_for_bit(rng, size, per_row_beta):
    k = cpu_kernels.kernels()["pool"]
    C1, C2 = size
    K, H, W, rows = 3, 2 * C1, 3 * C2, 7
    det = (rng.normal(size=(rows, K * H * W)) * 4).astype(np.float32)
    det[0, :3] = [np.inf, -np.inf, 90.0]
    pool = (rng.normal(size=(rows, K * 2 * 3)) * 2).astype(np.float32)
    beta = (rng.random(rows) * 2).astype(np.float32) if per_row_beta else None
    det_out, pool_out = np.full_like(det, 5), np.full_like(pool, 5)
    k(det, pool, NONE if beta is None else beta, beta is not None, np.float32(0.8), det_out, pool_out, K, H, W, C1,
      C2, *_words())
    with np.errstate(invalid="ignore"):  # inf - inf in the +-inf blocks, as in the kernel
        want_det, want_pool = ref.pool_update(det, pool, beta, 0.8, (K, H, W), (C1, C2), KEY, COUNTER)
    assert np.array_equal(det_out, want_det) and np.array_equal(pool_out, want_pool)


def test_max_pooling_runs_its_kernel_and_matches_exact_marginals():
    from .builders import pooling_graph

    g = pooling_graph()
    s = GibbsSampler(g, chains=2000, backend=NumpyBackend(seed=2))
    assert any(type(u).__name__ == "_JointUpdate" and u.kernel is not None for b in s.model.updates for u in b)
    m = s.run(150, burn_in=50, batches=50).moments
    ex = exact(g)
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() < 4


def test_a_colour_class_whose_bias_the_kernel_adds_follows_bias_changes():
    """A part's bias is a gathered copy handed to the kernel: an optimiser's in-place write must reach it.
    (The exact-marginal test of the mixed graph checks that the kernel's writes by index land right.)"""
    g = GRAPH_BUILDERS["mixed"]()
    s = GibbsSampler(g, chains=4000, backend=NumpyBackend(seed=0), seed=0)
    parts = [u for block in s.model.updates for u in block if u.group == "s"]
    # colour classes, their bias added by the kernel, which writes them straight into the group's states
    assert len(parts) > 1 and all(u.terms.bias is not None and u.scatter is not None for u in parts)
    k = next(i for i, f in enumerate(g.factors) if f.kind == "bias" and f.groups == ("s",))
    p = s.model.params[k]
    p["b"][...] = 40.0  # what the optimiser does: write in place, then bump the version
    p.bump()
    s.sweep(1)
    assert s.get_states()["s"].min() == 1.0  # sigma(80 + field) for every spin; the stale bias would give half


def _sparse_glass(seed=0, n=14, units="spin", with_bias=True, scale=0.5):
    """One group on a random sparse graph (a hub included), N(0, scale^2) couplings: a custom topology."""
    from pgboltz import Bias, FactorGraph, Sparse

    r = np.random.default_rng(seed)
    pairs = {tuple(sorted(p)) for p in r.integers(0, n, size=(3 * n, 2)) if p[0] != p[1]}
    pairs |= {(0, j) for j in range(1, n, 2)}  # unit 0: a hub
    edges = np.array(sorted(pairs))
    g = FactorGraph(f"glass-{seed}")
    g.add_group("s", n, units)
    g.add_factor(Sparse("s", "s", edges, r.normal(0, scale, len(edges))))
    if with_bias:
        g.add_factor(Bias("s", r.normal(0, scale, n)))
    return g


def test_only_a_schedule_of_one_sparse_groups_colour_classes_takes_the_whole_sweep_loop():
    glass = _sparse_glass()
    assert GibbsSampler(glass, chains=8, backend=NumpyBackend(seed=0)).model._sparse_sweep is not None
    assert GibbsSampler(glass, chains=8, backend=NumpyBackend(seed=0, fused=False)).model._sparse_sweep is None
    assert GibbsSampler(glass, chains=8, backend=NumpyBackend(seed=0, dtype="float64")).model._sparse_sweep is None
    for other in (GRAPH_BUILDERS["mixed"](), GRAPH_BUILDERS["rbm"](), GRAPH_BUILDERS["ising-4x4-periodic"]()):
        assert GibbsSampler(other, chains=8, backend=NumpyBackend(seed=0)).model._sparse_sweep is None


@pytest.mark.parametrize("units, with_bias", [("spin", True), ("bernoulli", False)])
@pytest.mark.parametrize("chains, streams, beta", [(3, 1, 1.0), (70, 4, 0.6), (300, 4, "per-chain"), (300, 2, 1.3)])
@pytest.mark.parametrize("tile_bytes", [1, 1 << 20])  # tiles of 8 chains (a tail tile in most runs) / of 64
def test_whole_sweep_loop_equals_class_by_class_updates_bit_for_bit(monkeypatch, units, with_bias, chains, streams,
                                                                    beta, tile_bytes):
    """The compiled loop runs every sweep of a row chunk on a transposed tile; ``draw`` of the group runs the
    same colour classes one update at a time (a field, then a kernel launch): states and launch counts match."""
    monkeypatch.setattr(cpu_kernels, "SPARSE_TILE_BYTES", tile_bytes)
    g = _sparse_glass(seed=1, units=units, with_bias=with_bias)
    b = np.linspace(0.0, 2.0, chains) if beta == "per-chain" else beta
    fast, slow = (GibbsSampler(g, chains=chains, beta=b, backend=NumpyBackend(seed=4, streams=streams))
                  for _ in range(2))
    assert fast.model._sparse_sweep is not None and len(fast.model.updates) > 1
    fast.sweep(5)
    for _ in range(5):
        slow.model.draw(["s"])
    assert np.array_equal(fast.get_states()["s"], slow.get_states()["s"])
    assert [ln.count for ln in fast.model.backend.kernels().launches] == \
        [ln.count for ln in slow.model.backend.kernels().launches]


def test_whole_sweep_loop_follows_parameter_changes():
    """Its CSR weights and biases are the compiled terms' copies: an in-place write to the edge weights or the
    bias (what an optimiser does) must reach it, as it reaches the class-by-class updates."""
    g = _sparse_glass(seed=2)
    fast, slow = (GibbsSampler(g, chains=50, backend=NumpyBackend(seed=1)) for _ in range(2))
    fast.sweep(1)
    slow.model.draw(["s"])
    for s in (fast, slow):
        for k, f in enumerate(g.factors):
            p = s.model.params[k]
            (p["w"] if f.kind == "sparse" else p["b"])[...] *= -3.0
            p.bump()
    fast.sweep(3)
    for _ in range(3):
        slow.model.draw(["s"])
    assert np.array_equal(fast.get_states()["s"], slow.get_states()["s"])
    fast.model.params[1]["b"][...] = 40.0
    fast.model.params[1].bump()
    fast.sweep(1)
    assert fast.get_states()["s"].min() == 1.0


def test_whole_sweep_loop_samples_match_exact_marginals():
    g = _sparse_glass(seed=3)
    s = GibbsSampler(g, chains=2000, backend=NumpyBackend(seed=1))
    assert s.model._sparse_sweep is not None
    m = s.run(150, burn_in=50, batches=50).moments
    ex = exact(g)
    # one z-score per unit (14): family-wise 1e-3 gives 3.8; max over 30 seeds 3.1
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() < 4


def _log_step_reference(f, gap, lo, b_to, b_from):
    """The kernel's coefficients and, in float64 from them, the increment log Z(b_to theta) - log Z(b_from theta)
    per row with the error allowed: 4e-7 of the sum of the elements' |increments|; what rounding
    b = from_gap theta and d = dbeta_gap theta to float32 moves each increment (2^-24 |b| |sigma(b + d) -
    sigma(b)| and 2^-24 |d| |sigma(b + d) + lo / gap|: in a saturated tail, where the increment is e^b-small,
    that is more than 4e-7 of it), four times over; the float64 reference's own rounding (a difference of
    two log-partitions, 1e-16 of their size, which at tiny steps exceeds the kernel's error); and float32's
    smallest normal number per element."""
    coef = (np.float32((b_to - b_from) * gap), np.float32(b_from * gap), np.float32((b_to - b_from) * lo),
            lo + (lo + gap) == 0)
    t = f.astype(np.float64)
    b, d = np.float64(coef[1]) * t, np.float64(coef[0]) * t
    za, zb = np.logaddexp(0, b + d), np.logaddexp(0, b)
    inc = za - zb + (d * lo / gap)  # (b_to - b_from) lo theta = d lo / gap
    sig_a, sig_b = (np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x))) for x in (b + d, b))  # no cancellation
    inputs = (np.abs(b) * np.abs(sig_a - sig_b) + np.abs(d) * np.abs(sig_a + lo / gap)).sum(1) * 2.0**-24
    tiny = f.shape[1] * 2.0**-126  # increments below float32's normal range come out as 0
    tol = 4e-7 * np.abs(inc).sum(1) + 4 * inputs + 4e-16 * (za + zb + np.abs(d * lo / gap)).sum(1) + tiny
    return coef, inc.sum(axis=1), tol


@pytest.mark.parametrize("scale", [1e-3, 1.0, 30.0, 1e3])
@pytest.mark.parametrize("gap, lo", [(1.0, 0.0), (2.0, -1.0), (2.0, 1.0)])  # Bernoulli, spins, {1, 3}
def test_binary_log_step_is_accurate_relative_to_the_increment_itself(rng, scale, gap, lo):
    """Annealing steps are small differences of large log-partitions; the kernel evaluates each element's
    difference in float32 without cancellation, so its error is relative to the increment (a float32 difference
    of the two log-partitions would be off by 1e-7 of the log-partitions, more than the increment itself).
    Checked on rows and on every element alone. (Units {1, 3} and spins' larger steps add (b_to - b_from) theta
    lo apart, which can cancel: there the error is allowed 4e-7 of that term as well.)"""
    k = cpu_kernels.kernels()["binary_log_step"]
    f = (rng.normal(size=(9, 333)) * scale).astype(np.float32)
    f[0, :EDGES.size - 3] = EDGES[:-3] * np.float32(min(scale, 1.0))  # zeros, signed zeros, exp's range edges
    for b_to, b_from in [(0.5, 0.49993), (1e-4, 0.0), (1.0, 0.99995), (0.0, 1e-4), (0.3, 0.1), (1.0, 0.0),
                         (1e-9, 0.0), (0.7, 0.7), (0.2, 0.9), (0.01, 0.01 - 1e-6)]:
        fields = (f,) if lo > 0 else (f, f.reshape(-1, 1))  # rows of 333 elements, and every element on its own
        for field in fields:
            coef, want, tol = _log_step_reference(field, gap, lo, b_to, b_from)
            lo_term = np.abs(np.float64(coef[2]) * field.astype(np.float64))  # (b_to - b_from) theta lo, added
            if lo == -1:  # apart by spins' larger steps, |delta| = |d| / 2 >= 0.35, and by lo = 1 always
                lo_term = np.where(np.abs(np.float64(coef[0]) * field) / 2 >= 0.35, lo_term, 0)
            tol = tol + 4e-7 * lo_term.sum(1)
            out = np.zeros(field.shape[0])
            k(field, *coef, out)
            assert np.all(np.abs(out - want) <= tol), (b_to, b_from, field.shape)
            first = out.copy()
            k(field, *coef, out)  # it adds to out
            assert np.array_equal(out, 2 * first)


def test_binary_log_step_recomputes_steps_beyond_float32_in_float64():
    k = cpu_kernels.kernels()["binary_log_step"]
    f = np.array([[300.0, -300.0, 150.0, -150.0, 1.0, 4e4]], np.float32)  # steps of 150-40000 nats
    for gap, lo in ((1.0, 0.0), (2.0, -1.0)):
        for b_to, b_from in ((1.0, 0.0), (0.0, 1.0), (1.0, 0.5)):
            coef, want, tol = _log_step_reference(f, gap, lo, b_to, b_from)
            out = np.zeros(1)
            k(f, *coef, out)
            assert abs(out[0] - want[0]) <= tol[0]


def test_compiled_log_step_gives_the_weights_of_the_float64_path(monkeypatch):
    """The same AIS run (same draws) with the compiled increment and with the unit type's float64
    log-partitions: the log weights agree to far below their spread."""
    from pgboltz.estimators import ais

    for units in ("bernoulli", "spin"):
        g = GRAPH_BUILDERS["rbm"](seed=3, nv=12, nh=30, scale=2.0, units=units)
        base = {"v": np.zeros(12)}
        res = ais(g, base, runs=50, betas=np.linspace(0, 1, 3000), seed=2)
        monkeypatch.setattr(NumpyBackend, "log_partition_step", lambda self, units, slots: None)
        ref_res = ais(g, base, runs=50, betas=np.linspace(0, 1, 3000), seed=2)
        monkeypatch.undo()
        assert np.abs(res.log_weights - ref_res.log_weights).max() < 1e-4
        assert np.ptp(res.log_weights) > 0.5  # measured: differences 1e-6 (Bernoulli) and 5e-6 (spins)


def _dyadic(graph, seed):
    """Parameters on a grid of 1/16 within +-8: every product and sum in a field of these small graphs is exact
    in float32, so the fields do not depend on how the products are cut into rows."""
    rng = np.random.default_rng(seed)
    for f in graph.factors:
        for v in f.params.values():
            v[...] = np.clip(np.round(rng.normal(0, 1, v.shape) * 8) / 16, -8, 8)
    return graph


def _undivided(monkeypatch):
    """AIS as one path (no parts), for comparison."""
    monkeypatch.setattr(NumpyBackend, "stream_parts", lambda self, n_rows: None)


@pytest.mark.parametrize("runs", [100, 101, 67, 130])
@pytest.mark.parametrize("dtype, fused", [("float32", True), ("float32", False), ("float64", True)])
def test_ais_parts_draw_what_one_path_draws(monkeypatch, runs, dtype, fused):
    """With few runs, AIS on the NumPy backend runs in independent parts (consecutive streams each, no exchange
    per beta): every part draws its rows' streams as the whole path would -- Philox launches of the fused
    kernels, or PCG64 generators of the array code. With exact fields the log weights of forward and reverse AIS
    equal one undivided path's bit for bit, whether the parts run on two threads or one after another."""
    from pgboltz.estimators import ais
    from pgboltz.estimators.ais import _Path

    g = _dyadic(rbm(30, 20, seed=0), seed=1)
    base = {"v": np.round(np.random.default_rng(2).normal(0, 1, 30) * 4) / 8}
    betas = np.linspace(0, 1, 300)
    be = NumpyBackend(seed=3, streams=4, threads=2, dtype=dtype, fused=fused)
    rows = [r for r, _ in _Path(g, base, runs, 3, be, dtype).split()]
    bounds = {c.start for c in be.chunks(runs)}  # cut at stream boundaries, every row once, >= 32 rows a part
    assert rows[0].start == 0 and rows[-1].stop == runs and len(rows) >= 2
    assert all(a.stop == b.start and b.start in bounds for a, b in zip(rows[:-1], rows[1:]))
    assert all(r.stop - r.start >= 32 for r in rows)
    start = {"v": (np.random.default_rng(4).random((runs, 30)) < 0.5) * 1.0}

    def run(reverse, threads):
        return ais(g, base, runs=runs, betas=betas, seed=3, reverse_from=reverse, dtype=dtype,
                   backend=NumpyBackend(seed=3, streams=4, threads=threads, dtype=dtype, fused=fused)).log_weights

    for reverse in (None, start):
        parts = [run(reverse, t) for t in (2, 1)]
        with monkeypatch.context() as m:
            _undivided(m)
            whole = run(reverse, 2)
        assert np.array_equal(parts[0], whole) and np.array_equal(parts[1], whole) and np.ptp(whole) > 0.1


def test_ais_parts_depend_on_runs_and_streams_not_threads():
    """The cut is a property of the run (like the streams' row chunks); threads only decide how many parts run at
    once. Without exact fields too, 2, 3 or 4 threads give the same log weights (BLAS gets the same share of
    the cores: the parts that run at once are the same)."""
    from pgboltz.estimators import ais
    from pgboltz.estimators.ais import _Path

    g, base = rbm(8, 5, seed=0), {"v": np.zeros(8)}

    def cut(runs, **kw):
        parts = _Path(g, base, runs, 0, NumpyBackend(seed=0, **kw), "float32").split()
        return None if parts is None else [r for r, _ in parts]

    for threads in (1, 2, 4):
        assert cut(100, streams=4, threads=threads) == [slice(0, 50), slice(50, 100)]  # 25-row parts: too thin
        assert cut(200, streams=4, threads=threads) == [slice(0, 50), slice(50, 100), slice(100, 150),
                                                         slice(150, 200)]
    assert cut(63, streams=4) is None  # parts thinner than 32 rows
    assert cut(256, streams=4) is None  # enough chains for row chunks on the threads anyway
    assert cut(100, streams=1) is None  # one stream: nothing to cut at

    g = rbm(120, 90, seed=1, scale=0.3)  # fields that round
    w = [ais(g, {"v": np.zeros(120)}, runs=100, betas=np.linspace(0, 1, 400), seed=5,
             backend=NumpyBackend(seed=5, streams=4, threads=t)).log_weights for t in (2, 3, 4)]
    assert np.array_equal(w[0], w[1]) and np.array_equal(w[0], w[2])


def test_ais_parts_share_one_progress_bar_and_the_blas_limit(monkeypatch):
    """The bar shows the steps every part has taken (once, whether the parts run side by side or one after
    another); two threads running AIS at once leave BLAS's thread count as they found it; run from a worker of
    the pool, the parts run there one after another (the pool's other threads may be busy: no deadlock)."""
    import threading

    from threadpoolctl import threadpool_info

    import pgboltz.estimators as estimators
    from pgboltz.backends.numpy_backend import _pool

    ais_module = __import__("sys").modules["pgboltz.estimators.ais"]

    class Bar:
        def __init__(self, total, enabled, desc):
            self.n, self.total, self.steps, self.closed = 0, total, [], False

        def update(self, n=1):
            self.n += n
            self.steps.append(n)

        def close(self):
            self.closed = True

    bars = []
    monkeypatch.setattr(ais_module, "_bar", lambda *a: bars.append(Bar(*a)) or bars[-1])
    g, base, betas = rbm(8, 5, seed=0), {"v": np.zeros(8)}, np.linspace(0, 1, 200)
    for threads in (1, 2):
        be = NumpyBackend(seed=0, streams=4, threads=threads)
        estimators.ais(g, base, runs=100, betas=betas, backend=be)
        assert bars[-1].n == bars[-1].total == 199 and min(bars[-1].steps) > 0 and bars[-1].closed
        assert (be._pool is not None) == (threads > 1)  # the caller's backend is left open (its threads in use)

    def blas():
        return sorted(m["num_threads"] for m in threadpool_info() if m["user_api"] == "blas")

    from pgboltz.backends.numpy_backend import blas_limit

    before = blas()
    a, b = blas_limit(1), blas_limit(1)  # two users, leaving in the order they came (not nested)
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert min(blas()) == 1  # still held for b (a BLAS loaded after the limiter was made is not held)
    b.__exit__(None, None, None)
    assert blas() == before
    users = [threading.Thread(target=estimators.ais, args=(g, base), kwargs=dict(
        runs=100, betas=np.linspace(0, 1, 3000), backend=NumpyBackend(seed=k, streams=4, threads=2)))
        for k in range(2)]
    for t in users:
        t.start()
    for t in users:
        t.join()
    assert blas() == before

    names = []

    def nested():
        be = NumpyBackend(seed=0, streams=4, threads=2)
        return be.run_parts([lambda stop: names.append(threading.current_thread().name)] * 2), \
            threading.current_thread().name

    _, caller = _pool(2).submit(nested).result(timeout=60)
    assert names == [caller, caller]


def test_two_stage_and_conditional_ais_in_parts_equal_one_path(monkeypatch):
    """The centred DBM path hands the first stage's final states to the second (the parts' states come back
    to the path), and conditional AIS splits its inputs with the runs: both equal one undivided path."""
    from pgboltz.estimators import centred_ais, conditional_ais
    from pgboltz.models import crbm, dbm

    g = _dyadic(dbm([10, 6, 8], seed=0), seed=5)
    centres = {"h1": np.full(6, 0.5), "h2": np.full(8, 0.25)}
    c = _dyadic(crbm(6, 5, order=1, seed=0), seed=6)
    u = {"lag1": (np.random.default_rng(7).random((10, 6)) < 0.5) * 1.0}

    def run():
        kw = dict(runs=100, betas=np.linspace(0, 1, 60), gammas=np.linspace(0, 1, 60), seed=1)
        deep = centred_ais(g, {"v": np.zeros(10)}, centres, backend=NumpyBackend(seed=1, streams=4, threads=2), **kw)
        cond = conditional_ais(c, u, {"v": np.zeros(6)}, runs_per_row=10, betas=np.linspace(0, 1, 80), seed=2,
                               backend=NumpyBackend(seed=2, streams=4, threads=2))
        return deep.log_weights, cond.log_z

    parts = run()
    with monkeypatch.context() as m:
        _undivided(m)
        whole = run()
    assert np.array_equal(parts[0], whole[0]) and np.array_equal(parts[1], whole[1]) and np.ptp(whole[1]) > 0.1


def test_ais_parts_stop_together_when_one_fails(monkeypatch):
    """An error in one part stops the others at their next beta and reaches the caller."""
    from pgboltz.estimators import ais
    from pgboltz.estimators.ais import _Path

    steps, original = {}, _Path.log_step

    def log_step(self, b_to, b_from, pieces):
        steps[id(self)] = steps.get(id(self), 0) + 1
        if steps[id(self)] == 300 and self.sampler.chains == 51:  # the second part (rows 50-100) fails
            raise FloatingPointError("planted")
        return original(self, b_to, b_from, pieces)

    monkeypatch.setattr(_Path, "log_step", log_step)
    closed = []
    monkeypatch.setattr(__import__("sys").modules["pgboltz.estimators.ais"], "_bar",
                        lambda *a: type("Bar", (), {"update": lambda self, n=1: None,
                                                    "close": lambda self: closed.append(True)})())
    with pytest.raises(FloatingPointError, match="planted"):
        ais(rbm(8, 5, seed=0), {"v": np.zeros(8)}, runs=101, betas=np.linspace(0, 1, 4000), seed=0,
            backend=NumpyBackend(seed=0, streams=4, threads=2))
    assert len(steps) == 2 and max(steps.values()) < 3000  # the other part did not walk on to the end (3999)
    assert closed == [True]  # and the progress bar was closed


def test_several_biases_go_to_the_kernel_as_their_sum():
    """An AIS path adds a base-model bias to the model's own: both are handed to the fused kernel, summed over
    the units (not added to every chain's field one after the other), and follow in-place changes."""
    from pgboltz import Bias

    g = rbm(6, 4, seed=0)
    g.add_factor(Bias("v", np.zeros(6), name="extra"))
    s = GibbsSampler(g, chains=4000, backend=NumpyBackend(seed=0))
    update = next(u for block in s.model.updates for u in block if u.group == "v")
    assert update.terms.bias is not None and len(update.terms.by_slot["linear"]) == 1  # the product alone
    k = next(i for i, f in enumerate(g.factors) if f.name == "extra")
    s.model.params[k]["b"][...] = 50.0
    s.model.params[k].bump()
    s.sweep(1)
    assert s.get_states()["v"].min() == 1.0
    s.model.params[k]["b"][...] = -50.0
    s.model.params[k].bump()
    s.sweep(1)
    assert s.get_states()["v"].max() == 0.0


@pytest.mark.parametrize("chains, beta", [(40, 1.0), (7, "per-chain"), (3, 0.5)])
def test_whole_field_updates_draw_every_stream_in_one_call_as_chunk_by_chunk(monkeypatch, chains, beta):
    """Few chains: fields for all chains at once, then each stream's rows drawn with its own launch -- by one
    kernel call over the chunks (``streams``) or one call per chunk: the same states and launch counts."""
    g = GRAPH_BUILDERS["mixed"]()
    b = np.linspace(0.2, 1.5, chains) if beta == "per-chain" else beta
    runs = []
    for one_call in (True, False):
        s = GibbsSampler(g, chains=chains, beta=b, backend=NumpyBackend(seed=6))
        assert s.model._whole
        if not one_call:
            for block in s.model.updates:
                for u in block:
                    if getattr(u.kernel, "streams", None) is not None:
                        kernel = u.kernel
                        u.kernel = lambda *a, kernel=kernel, **kw: kernel(*a, **kw)  # the same kernel, no streams
                        u.kernel.takes_bias, u.kernel.takes_index = kernel.takes_bias, kernel.takes_index
        s.sweep(4)
        runs.append((s.get_states(), [ln.count for ln in s.model.backend.kernels().launches]))
    assert all(np.array_equal(runs[0][0][k], runs[1][0][k]) for k in runs[0][0])
    assert runs[0][1] == runs[1][1]


def test_a_negative_number_of_sweeps_is_refused_and_the_streams_stay_as_they_were():
    from pgboltz.errors import DataError

    for g in (_sparse_glass(), GRAPH_BUILDERS["rbm"]()):  # the whole-sweep loop and the update-by-update path
        s = GibbsSampler(g, chains=8, backend=NumpyBackend(seed=0))
        with pytest.raises(DataError, match="sweeps must be >= 0"):
            s.sweep(-1)
        assert [ln.count for ln in s.model.backend.kernels().launches] == [0] * 4
        s.sweep(1)


def test_draws_from_given_fields_equal_draws_with_several_biases():
    """``field`` and the fused kernel add a group's several biases as the same sum: drawing from given fields
    (what AIS reuses) equals drawing normally, even where (theta + b1) + b2 and theta + (b1 + b2) round apart."""
    from pgboltz import Bias
    from pgboltz.model import CompiledModel

    g = rbm(50, 60, seed=0, scale=0.3)
    g.factors[2].params["b"][...] = 1e4 + np.random.default_rng(0).normal(0, 1, 60)  # large, cancelling biases
    g.add_factor(Bias("h", np.full(60, -1e4), name="offset"))
    out = []
    for given in (True, False):
        m = CompiledModel(g, 4000, seed=2)
        m.draw(["h"], given={"h": m.field("h")} if given else None)
        out.append(m.get_states()["h"])
    assert np.array_equal(out[0], out[1])


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("name, chains", [("rbm", 601), ("mixed", 601), ("large-rbm", 3000)])  # the last: on
def test_a_threads_chunks_drawn_as_one_task_equal_chunk_by_chunk(name, chains, threads):  # the thread pool
    """With fewer threads than streams, each thread computes its consecutive chunks' fields in one product and
    draws them, each with its own stream, in one kernel call: the states and launch counts of one task per
    chunk."""
    g = rbm(100, 80, seed=1) if name == "large-rbm" else GRAPH_BUILDERS[name]()
    runs = []
    for grouped in (True, False):
        s = GibbsSampler(g, chains=chains, backend=NumpyBackend(seed=3, streams=4, threads=threads))
        assert not s.model._whole and (s.model._stream_groups is not None) == (threads < 4)
        s.model._parts = False  # update by update (independent parts: test_sweeps_in_parts_equal_one_model)
        if not grouped:
            s.model._stream_groups = None
        s.sweep(5)
        runs.append((s.get_states(), [ln.count for ln in s.model.backend.kernels().launches]))
    assert all(np.array_equal(runs[0][0][k], runs[1][0][k]) for k in runs[0][0])
    assert runs[0][1] == runs[1][1]


def _sweep_model(name):
    from pgboltz import Bias

    if name == "large-rbm":
        return rbm(100, 80, seed=1, scale=0.3)
    if name == "rbm-extra-bias":  # a summed bias handed to the kernel
        g = rbm(60, 40, seed=2, scale=0.3)
        g.add_factor(Bias("v", np.full(60, 0.25), name="extra"))
        return g
    from .builders import pooling_graph

    return {"gb-rbm": lambda: gb_rbm(seed=3, nv=30, nh=20), "dbm": lambda: small_dbm(seed=4, sizes=(40, 30, 20)),
            "pooling": pooling_graph}.get(name, lambda: GRAPH_BUILDERS[name]())()


@pytest.mark.parametrize("name, dtype, fused, threads, tempered", [
    ("large-rbm", "float32", True, 2, False), ("large-rbm", "float32", True, 3, True),
    ("large-rbm", "float64", True, 2, False), ("large-rbm", "float32", False, 2, False),
    ("rbm-extra-bias", "float32", True, 2, True), ("spin-rbm", "float32", True, 2, False),
    ("gb-rbm", "float32", True, 2, False), ("dbm", "float32", True, 2, False), ("mixed", "float32", True, 2, False),
    ("pooling", "float32", True, 2, False)])
def test_sweeps_in_parts_equal_one_model(name, dtype, fused, threads, tempered):
    """Chains are independent, so sweeps of many chains run as one part per worker thread (the rows each thread
    updates anyway), every part sweeping on its own with no exchange per update. The parts share the model's
    parameters (a change reaches them) and their streams' keys and counters (after a reseed too): the states and launch counts equal
    sweeping the whole model update by update, bit for bit (the products are over the same rows)."""
    g = _sweep_model(name)
    widest = max(u.n_elements for block in GibbsSampler(g, chains=1).model.updates for u in block)
    chains = max(601, -(-(1 << 16) // widest))  # an update large enough to use the threads
    beta = np.random.default_rng(1).uniform(0.5, 1.0, chains) if tempered else 1.0
    runs = []
    for parts in (True, False):
        s = GibbsSampler(g, chains=chains, dtype=dtype, beta=beta,
                         backend=NumpyBackend(seed=5, streams=4, threads=threads, dtype=dtype, fused=fused))
        if not parts:
            s.model._parts = False
        s.sweep(3)
        k = next(i for i, f in enumerate(g.factors) if f.params)
        first = next(iter(g.factors[k].params))
        s.model.set_params(k, **{first: 0.5 * g.factors[k].params[first]})
        s.sweep(2)
        s.model.backend.reseed([9, 1])  # as a trainer does every epoch: the parts follow the new streams
        s.sweep(1)
        if tempered:
            s.model.beta = beta[::-1].copy()
            s.sweep(1)
        counts = [ln.count for ln in s.model.backend.kernels().launches] if s.model.backend.fused else []
        runs.append((s.get_states(), counts, s.model._parts))
    assert runs[0][2] and len(runs[0][2]) >= 2  # it ran in parts
    assert all(np.array_equal(runs[0][0][k], runs[1][0][k]) for k in runs[0][0])
    assert runs[0][1] == runs[1][1]


def test_sweeps_run_in_parts_only_where_updates_use_the_threads():
    g = rbm(100, 80, seed=1)

    def parts(chains, **kw):
        s = GibbsSampler(g, chains=chains, backend=NumpyBackend(seed=0, **kw))
        return s.model._sweep_parts()

    assert [r for r, _ in parts(1000, streams=4, threads=2)] == [slice(0, 500), slice(500, 1000)]
    assert len(parts(1000, streams=4, threads=4)) == 4
    assert parts(1000, streams=4, threads=1) is None  # no threads
    assert parts(200, streams=4, threads=2) is None  # few chains: whole fields, BLAS on every core
    assert parts(600, streams=4, threads=2) is None  # updates below the size worth threads (run inline)
    clamped = GibbsSampler(g, chains=1000, backend=NumpyBackend(seed=0, streams=4, threads=2),
                           clamp={"v": np.zeros(100)})
    clamped.model.set_states({"v": np.full((1000, 100), 0.3)}, expectations=True)  # mean-field values, not states
    assert len(clamped.model._sweep_parts()) == 2
    means = []
    for split in (True, False):  # conditional means after sweeps in parts: the same as update by update
        s = GibbsSampler(g, chains=1000, backend=NumpyBackend(seed=0, streams=4, threads=2))
        if not split:
            s.model._parts = False
        means.append(s.sweep(2, means=["h", "v"]))
    assert all(np.array_equal(means[0][k], means[1][k]) for k in ("h", "v"))


def test_whole_sweep_loop_tiles_across_streams_and_threads_without_changing_a_draw():
    """Tiles may hold chains of several streams (each row keeps its stream's key, counters and row number) and
    the chains are split between threads at tile boundaries: the states do not depend on the thread count and
    equal the class-by-class updates."""
    g = _sparse_glass(seed=4, n=300)
    runs = []
    for threads, fast in ((1, True), (2, True), (2, False)):
        s = GibbsSampler(g, chains=301, backend=NumpyBackend(seed=8, streams=4, threads=threads))
        assert s.model._sparse_sweep is not None
        if fast:
            s.sweep(4)
        else:
            for _ in range(4):
                s.model.draw(["s"])
        runs.append((s.get_states()["s"], [ln.count for ln in s.model.backend.kernels().launches]))
    assert all(np.array_equal(runs[0][0], r[0]) and runs[0][1] == r[1] for r in runs[1:])
