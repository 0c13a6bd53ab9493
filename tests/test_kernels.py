"""The fused CUDA kernels, verified without a GPU.

* every kernel source compiles with nvcc for sm_90 and sm_80;
* the kernels' per-element logic (``__host__ __device__`` functions), compiled for the
  host, equals the NumPy references in :mod:`pgboltz.backends.reference` bit for bit --
  Philox4x32-10 against Random123's published known-answer vectors too;
* the elementary functions are accurate and the updates draw from the right distributions.

Skipped only where nvcc is missing (it is installed on the project's machines).
"""

import subprocess

import numpy as np
import pytest

from pgboltz.backends import reference as ref
from pgboltz.backends.fused import NVRTC_OPTIONS, kernel_source
from pgboltz.verify import family_z_limit

from .kernel_host import NVCC, Host, build

pytestmark = pytest.mark.skipif(NVCC is None, reason="nvcc not found (install the CUDA toolkit)")

KEY, COUNTER = (0x12345678, 0x9ABCDEF0), (7, 1)


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    return Host(build(tmp_path_factory.mktemp("kernels")))


@pytest.mark.parametrize("arch", ["sm_90", "sm_80"])
def test_kernel_sources_compile(arch, tmp_path):
    src = tmp_path / "updates.cu"
    src.write_text(kernel_source())  # exactly what the backend hands to NVRTC, header inlined
    res = subprocess.run([NVCC, *NVRTC_OPTIONS, f"-arch={arch}", "-cubin", "-o", str(tmp_path / "k.cubin"), str(src)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "k.cubin").stat().st_size > 0


# Random123's known-answer vectors for Philox4x32-10 (its tests/kat_vectors)
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("ctr,key,expected", KAT)
def test_philox_known_answers(host, ctr, key, expected):
    assert tuple(ref.philox(*ctr, *key).tolist()) == expected
    assert tuple(host.philox(np.array(ctr), np.array(key))[0].tolist()) == expected


def test_philox_stream_bit_for_bit(host, rng):
    ctr = rng.integers(0, 2**32, size=(5000, 4), dtype=np.uint64).astype(np.uint32)
    key = rng.integers(0, 2**32, size=(5000, 2), dtype=np.uint64).astype(np.uint32)
    assert np.array_equal(host.philox(ctr, key), ref.philox(*ctr.T, *key.T))
    words = ref.launch_words(1001, KEY, COUNTER)
    u, uo = host.uniform(words)
    assert np.array_equal(u, ref.uniform(words)) and np.array_equal(uo, ref.uniform_open(words))
    assert u.min() >= 0 and u.max() < 1 and uo.min() > 0 and uo.max() <= 1


def _interesting_floats(rng, lo, hi, n=200_000):
    x = rng.uniform(lo, hi, n).astype(np.float32)
    edges = np.array([0.0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 88.6, 88.7, 88.70001, 100, -86.8, -86.9, -86.90001, -87.0, -200,
                      np.inf, -np.inf], np.float32)
    return np.concatenate([x, edges])


def test_exp_bit_for_bit_and_accurate(host, rng):
    x = _interesting_floats(rng, -100, 100)
    y = host.exp(x)
    assert np.array_equal(y.view(np.uint32), ref.exp(x).view(np.uint32))
    ok = (x >= np.float32(-86.9)) & (x < np.float32(88.7))
    exact = np.exp(x[ok].astype(np.float64))
    assert np.max(np.abs(y[ok] / exact - 1)) < 3e-7
    assert np.all(y[x < np.float32(-86.9)] == 0) and np.all(np.isinf(y[x >= 88.7]))
    assert np.isnan(host.exp(np.array([np.nan], np.float32)))[0]


def test_log_and_cossin_bit_for_bit_and_accurate(host, rng):
    u = ref.uniform_open(rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32))
    u = np.concatenate([u, np.array([2.0**-33, 0.5, 0.70710677, 0.70710683, 1.0], np.float32)])
    y = host.log(u)
    assert np.array_equal(y.view(np.uint32), ref.log(u).view(np.uint32))
    assert np.max(np.abs(y - np.log(u.astype(np.float64)))) < 3e-7 * np.max(np.abs(np.log(u.astype(np.float64))))
    t = ref.uniform(rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32))
    t = np.concatenate([t, np.array([0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1 - 2.0**-24], np.float32)])
    c, s = host.cossin(t)
    rc, rs = ref.cossin_2pi(t)
    assert np.array_equal(c.view(np.uint32), rc.view(np.uint32)) and np.array_equal(s.view(np.uint32), rs.view(np.uint32))
    angle = 2 * np.pi * t.astype(np.float64)
    assert np.max(np.abs(c - np.cos(angle))) < 4e-7 and np.max(np.abs(s - np.sin(angle))) < 4e-7


@pytest.mark.parametrize("spin", [False, True])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("per_row_beta", [False, True])
def test_binary_update_bit_for_bit(host, rng, spin, bias, per_row_beta):
    rows, n = 37, 53  # count not a multiple of 4: the last Philox block is partial
    field = rng.normal(0, 3, (rows, n)).astype(np.float32)
    field[0, :4] = [np.inf, -np.inf, 1e30, -1e30]
    b = rng.normal(0, 1, n).astype(np.float32) if bias else None
    beta_rows = rng.uniform(0.2, 1.5, (rows, 1)).astype(np.float32) if per_row_beta else None
    lo, hi, gap = (-1.0, 1.0, 2.0) if spin else (0.0, 1.0, 1.0)
    out = host.binary_update(field, b, beta_rows, 0.7, gap, lo, hi, KEY, COUNTER)
    expected = ref.binary_update(field, b, beta_rows, 0.7, gap, lo, hi, KEY, COUNTER)
    assert np.array_equal(out, expected)
    assert out[0, 0] == hi and out[0, 1] == lo and out[0, 2] == hi and out[0, 3] == lo


def test_binary_update_frequencies():
    """P(hi) = sigma(beta * gap * theta): 200,000 draws per unit, 8 z-scores within the family limit."""
    rows, thetas = 200_000, np.array([-3, -1, -0.2, 0, 0.1, 0.5, 1, 2.5], np.float32)
    field = np.tile(thetas, (rows, 1))
    x = ref.binary_update(field, None, None, 0.8, 2.0, -1.0, 1.0, KEY, COUNTER)
    p = 1 / (1 + np.exp(-1.6 * thetas.astype(np.float64)))
    freq = (x == 1).mean(axis=0)
    assert np.max(np.abs(freq - p) / np.sqrt(p * (1 - p) / rows)) < family_z_limit(8, batches=10**6)


@pytest.mark.parametrize("per_row_beta", [False, True])
def test_gaussian_update_bit_for_bit(host, rng, per_row_beta):
    rows, n = 29, 31
    eta = rng.normal(0, 2, (rows, n)).astype(np.float32)
    lam = rng.uniform(0.3, 4, (rows, n)).astype(np.float32)
    beta_rows = rng.uniform(0.2, 1.5, (rows, 1)).astype(np.float32) if per_row_beta else None
    out = host.gaussian_update(eta, lam, beta_rows, 1.0, KEY, COUNTER)
    assert np.array_equal(out.view(np.uint32), ref.gaussian_update(eta, lam, beta_rows, 1.0, KEY, COUNTER).view(np.uint32))


def test_gaussian_update_moments():
    """N(eta/lam, 1/(beta lam)): mean, variance and kurtosis of 10^6 draws within 5 standard errors."""
    rows = 250_000
    eta = np.tile(np.array([0.0, 1.0, -2.0, 0.5], np.float32), (rows, 1))
    lam = np.tile(np.array([1.0, 2.0, 0.5, 4.0], np.float32), (rows, 1))
    x = ref.gaussian_update(eta, lam, None, 0.5, KEY, COUNTER).astype(np.float64)
    mean, var = eta[0] / lam[0], 1 / (0.5 * lam[0])
    z = (x - mean) / np.sqrt(var)
    limit = family_z_limit(12, batches=10**6)  # 12 moment z-scores of independent draws (normal: huge dof)
    assert np.max(np.abs(z.mean(axis=0)) / np.sqrt(1 / rows)) < limit
    assert np.max(np.abs((z**2).mean(axis=0) - 1) / np.sqrt(2 / rows)) < limit
    assert np.max(np.abs((z**4).mean(axis=0) - 3) / np.sqrt(96 / rows)) < limit
    # lanes pair up in Box-Muller (cos and sin of one draw): neighbouring columns must be uncorrelated
    for a, b in ((0, 1), (2, 3), (0, 2)):
        assert abs(np.mean(z[:, a] * z[:, b])) < family_z_limit(3) * np.sqrt(1 / rows)
    all_z = z.ravel()
    for k in (1, 2, 3):  # tail masses of the pooled draws against the normal's
        from math import erfc, sqrt

        p = erfc(k / sqrt(2))
        assert abs((np.abs(all_z) > k).mean() - p) < family_z_limit(3, batches=10**6) * np.sqrt(p * (1 - p) / all_z.size)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 3), (2, 3)])
@pytest.mark.parametrize("per_row_beta", [False, True])
def test_pool_update_bit_for_bit(host, rng, size, per_row_beta):
    rows, K = 11, 2
    C1, C2 = size
    H, W = 2 * C1, 3 * C2
    det = rng.normal(0, 2, (rows, K * H * W)).astype(np.float32)
    pool = rng.normal(0, 1, (rows, K * (H // C1) * (W // C2))).astype(np.float32)
    beta_rows = rng.uniform(0.2, 1.5, (rows, 1)).astype(np.float32) if per_row_beta else None
    d, p = host.pool_update(det, pool, beta_rows, 1.0, (K, H, W), size, KEY, COUNTER)
    rd, rp = ref.pool_update(det, pool, beta_rows, 1.0, (K, H, W), size, KEY, COUNTER)
    assert np.array_equal(d, rd) and np.array_equal(p, rp)
    blocks = d.reshape(rows, K, H // C1, C1, W // C2, C2).sum(axis=(3, 5)).reshape(rows, -1)
    assert blocks.max() <= 1 and np.array_equal(blocks, p)  # at most one detector on; pool on iff one is


def test_categorical_off_bit_for_bit_and_frequencies(host, rng):
    z = rng.normal(0, 2, (5000, 4)).astype(np.float32)
    z[0] = [100, -100, 0, 50]
    u = ref.uniform(rng.integers(0, 2**32, 5000, dtype=np.uint64).astype(np.uint32))
    assert np.array_equal(host.categorical_off(z, u), ref.categorical_off(z, u))
    logits = np.array([0.3, -1.0, 1.2], np.float32)
    n = 300_000
    u = ref.uniform(ref.launch_words(n, KEY, COUNTER))
    states = ref.categorical_off(np.tile(logits, (n, 1)), u)
    p = np.exp(np.concatenate([[0.0], logits]).astype(np.float64))
    p /= p.sum()
    freq = np.bincount(states, minlength=4) / n
    assert np.max(np.abs(freq - p) / np.sqrt(p * (1 - p) / n)) < family_z_limit(4, batches=10**6)


@pytest.mark.parametrize("colour", [0, 1])
def test_checkerboard_update_bit_for_bit(host, rng, colour):
    chains, H, W = 3, 6, 6  # 54 sites per colour: the last Philox block is partial
    x = np.where(rng.random((chains, H, W)) < 0.5, 1, -1).astype(np.int8)
    Jr, Jd, h = (rng.normal(0, 1, (H, W)).astype(np.float32) for _ in range(3))
    a = host.checkerboard_update(x, Jr, Jd, h, colour, 2 * 0.6, -1, 1, KEY, COUNTER)
    b = ref.checkerboard_update(x, Jr, Jd, h, colour, 2 * 0.6, -1, 1, KEY, COUNTER)
    assert np.array_equal(a, b)
    other = (np.indices((H, W)).sum(axis=0) + colour) % 2 == 1
    assert np.array_equal(a[:, other], x[:, other])  # only this colour changed
    # uniform couplings: three numbers read instead of arrays, the same arithmetic
    const = [np.full(1, v, np.float32) for v in (0.7, 0.7, -0.2)]
    full = [np.full((H, W), v, np.float32) for v in (0.7, 0.7, -0.2)]
    a = host.checkerboard_update(x, *const, colour, 1.2, -1, 1, KEY, COUNTER, uniform=True)
    assert np.array_equal(a, ref.checkerboard_update(x, *full, colour, 1.2, -1, 1, KEY, COUNTER))
