"""CuPy backend on a CUDA device (skipped without one).

Same graphs, same checks as the NumPy tests: every factor kind sampled on the GPU
agrees with exact answers, and CuPy and NumPy statistics agree with each other.
"""

import numpy as np
import pytest

from pgboltz import GibbsSampler
from pgboltz.conditionals import natural_parameters
from pgboltz.exact import exact
from pgboltz.models import rbm

from .builders import GRAPH_BUILDERS
from .conftest import z_scores

pytestmark = pytest.mark.gpu

# bias + dense (rbm), intra dense (general-bm), lattice (ising), sparse + mixed units (mixed)
KINDS = ["rbm", "spin-rbm", "general-bm", "ising-4x4-periodic", "ising-4x5-open", "mixed"]


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cupy_samples_match_exact(name, dtype):
    g = GRAPH_BUILDERS[name]()
    ex = exact(g)
    s = GibbsSampler(g, chains=20000, backend="cupy", seed=3, dtype=dtype)
    m = s.run(200, burn_in=100, second_moments=True, batches=100).moments
    n = m.n_samples * m.n_chains
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), n).max() < 4
    iu = np.triu_indices(len(ex.mean), 1)
    assert z_scores(m.second[iu], ex.second[iu], m.second_se[iu], n).max() < 4


@pytest.mark.parametrize("name", KINDS)
def test_cupy_and_numpy_statistics_agree(name):
    g = GRAPH_BUILDERS[name]()
    means, ses = [], []
    for backend in ("numpy", "cupy"):
        m = GibbsSampler(g, chains=8000, backend=backend, seed=1).run(200, burn_in=100, batches=100).moments
        means.append(m.flat_mean())
        ses.append(m.flat_mean_se())
    se = np.sqrt(ses[0] ** 2 + ses[1] ** 2)
    assert z_scores(means[0], means[1], se, 8000 * 200).max() < 4


@pytest.mark.parametrize("name", KINDS)
def test_cupy_fields_equal_numpy_fields(name, rng):
    from pgboltz.backends import get_backend

    g = GRAPH_BUILDERS[name]()
    states = {n: grp.units.init_states(rng, (64,) + grp.shape) for n, grp in g.groups.items()}
    be = get_backend("cupy", dtype="float64")
    for group in g.groups:
        a = natural_parameters(g, states, group)
        b = natural_parameters(g, states, group, backend=be)
        assert np.allclose(a, b, atol=1e-12)


def test_cupy_large_rbm_runs_and_is_deterministic():
    g = rbm(784, 500, scale=0.05)
    finals = []
    for _ in range(2):
        s = GibbsSampler(g, chains=10000, backend="cupy", seed=9)
        finals.append(s.run(20, collect="none").final["h"])
    assert np.array_equal(finals[0], finals[1])


# -- fused kernels on the device ------------------------------------------------------------
def _device_kernels(seed=0):
    from pgboltz.backends.cupy_backend import CupyBackend

    be = CupyBackend(seed=seed)
    return be, be.kernels()


@pytest.mark.parametrize("spin", [False, True])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("per_row_beta", [False, True])
def test_fused_binary_kernel_equals_the_reference_bit_for_bit(spin, with_bias, per_row_beta):
    from pgboltz.backends import reference as ref

    be, k = _device_kernels(1)
    r = np.random.default_rng(0)
    rows, n = 1001, 333  # count not a multiple of 4, more blocks than one grid pass for small grids
    field = r.normal(0, 3, (rows, n)).astype(np.float32)
    field[0, :4] = [np.inf, -np.inf, 1e30, -1e30]
    bias = r.normal(0, 1, n).astype(np.float32) if with_bias else None
    beta = r.uniform(0.2, 1.5, (rows, 1)).astype(np.float32) if per_row_beta else 0.8
    lo, hi = (-1.0, 1.0) if spin else (0.0, 1.0)
    out = be.empty((rows, n))
    # the default grid, then one block of threads: every thread runs many Philox blocks of the grid-stride loop
    for max_blocks in (k.max_blocks, 1):
        k.max_blocks = max_blocks
        counter = k.launches.count
        k.binary(0, be.asarray(field), None if bias is None else be.asarray(bias),
                 be.asarray(beta) if per_row_beta else beta, hi - lo, lo, hi, out)
        expected = ref.binary_update(field, bias, beta if per_row_beta else None, 0.8, hi - lo, lo, hi,
                                     k.launches.key, (counter, 0))
        assert np.array_equal(be.to_numpy(out), expected)


def test_fused_gaussian_and_pool_kernels_equal_the_reference_bit_for_bit():
    from pgboltz.backends import reference as ref

    be, k = _device_kernels(2)
    r = np.random.default_rng(1)
    eta = r.normal(0, 2, (513, 77)).astype(np.float32)
    lam = r.uniform(0.3, 4, (513, 77)).astype(np.float32)
    out = be.empty(eta.shape)
    c = k.launches.count
    k.gaussian(0, be.asarray(eta), be.asarray(lam), 0.7, out)
    exp = ref.gaussian_update(eta, lam, None, 0.7, k.launches.key, (c, 0))
    assert np.array_equal(be.to_numpy(out).view(np.uint32), exp.view(np.uint32))
    for C in (1, 2, 3):
        K, H, W = 3, 2 * C, 4 * C
        det = r.normal(0, 2, (257, K * H * W)).astype(np.float32)
        pool = r.normal(0, 1, (257, K * 8)).astype(np.float32)
        d_out, p_out = be.empty(det.shape), be.empty(pool.shape)
        c = k.launches.count
        k.pool(0, be.asarray(det), be.asarray(pool), 1.3, d_out, p_out, (K, H, W), (C, C))
        rd, rp = ref.pool_update(det, pool, None, 1.3, (K, H, W), (C, C), k.launches.key, (c, 0))
        assert np.array_equal(be.to_numpy(d_out), rd) and np.array_equal(be.to_numpy(p_out), rp)


def test_checkerboard_sampler_on_the_gpu_equals_the_numpy_reference_and_exact():
    from pgboltz.models import ising
    from pgboltz.sampling import CheckerboardSampler

    J = np.random.default_rng(5).normal(0, 0.5, size=(2, 4, 4))
    g = ising(4, 4, J=(J[0], J[1]), field=0.1)
    a = CheckerboardSampler(g, chains=256, backend="numpy", seed=9)
    b = CheckerboardSampler(g, chains=256, backend="cupy", seed=9)
    a.sweep(7)
    b.sweep(7)
    assert np.array_equal(a.get_states()["s"], b.get_states()["s"])
    u = ising(6, 8, J=0.4, field=-0.1)  # uniform: the kernel reads three numbers, the reference full arrays
    a, b = (CheckerboardSampler(u, chains=64, backend=be, seed=2) for be in ("numpy", "cupy"))
    assert b.uniform
    a.sweep(5)
    b.sweep(5)
    assert np.array_equal(a.get_states()["s"], b.get_states()["s"])
    ex = exact(g)
    s = CheckerboardSampler(g, chains=50000, backend="cupy", seed=4)
    m, _ = s.run(300, burn_in=100, second_moments=True, batches=100)
    n = m.n_samples * m.n_chains
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), n).max() < 4
    iu = np.triu_indices(16, 1)
    assert z_scores(m.second[iu], ex.second[iu], m.second_se[iu], n).max() < 4.6


@pytest.mark.parametrize("name", ["pooling", "gb-rbm", "dbm"])
def test_fused_pooling_gaussian_and_deep_samples_match_exact(name):
    from .builders import gb_rbm, pooling_graph, small_dbm

    g = {"pooling": pooling_graph, "gb-rbm": lambda: gb_rbm(seed=1, nv=3, nh=3), "dbm": small_dbm}[name]()
    s = GibbsSampler(g, chains=20000, backend="cupy", seed=3)
    assert any(u.kernel is not None for block in s.model.updates for u in block)
    groups = ["h"] if name == "gb-rbm" else None
    m = s.run(200, burn_in=100, batches=100, groups=groups).moments
    ex = exact(g, second_moments=False)
    mean = np.concatenate([ex.mean_of(g, grp).ravel() for grp in m.groups])
    assert z_scores(m.flat_mean(), mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() < 4


def test_tf32_products_sample_the_small_rbm_within_tolerance():
    from pgboltz.backends.cupy_backend import CupyBackend

    from cupy._core import _routines_linalg as linalg

    be = CupyBackend(seed=1, precision="tf32")
    with be.hot_loop():  # the switch is on during sweeps and restored after
        assert linalg.get_compute_type(np.float32) == linalg.COMPUTE_TYPE_TF32
    assert linalg.get_compute_type(np.float32) != linalg.COMPUTE_TYPE_TF32
    g = rbm(12, 2000, scale=0.05, seed=1)  # K = 2000 in the h-to-v product: tensor cores get used
    ex = exact(g, second_moments=False)
    s = GibbsSampler(g, chains=20000, backend=be)
    m = s.run(200, burn_in=100, batches=100).moments
    # TF32 rounds the products' inputs to 10-bit mantissas: fields move by ~1e-4 absolute, which
    # shifts these marginals by far less than their standard error; 2012 z-scores, family-wise 1e-3: 4.9
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() < 4.9


def test_conv_rbm_on_the_gpu_matches_exact():
    from pgboltz.specs import load

    g = load("conv-small")
    ex = exact(g)
    s = GibbsSampler(g, chains=20000, backend="cupy", seed=3)
    m = s.run(200, burn_in=100, batches=100).moments
    assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() < 4.6  # 76 means
