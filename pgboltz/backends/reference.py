"""NumPy references of the fused CUDA kernels, bit for bit.

The kernels in ``kernels/updates.cu`` do their per-element work in ``__host__ __device__``
functions (``kernels/pgboltz_elements.cuh``) built only from correctly rounded float32
operations, evaluated in a fixed order without FMA contraction. The functions here
repeat the same operations in the same order on float32 arrays, so a kernel's output
can be compared with them exactly: on the host in CI (the header compiled by ``nvcc``
for the CPU) and on a GPU whenever one is available.

Randomness is Philox4x32-10 (Salmon, Moraes, Dror & Shaw 2011, "Parallel random
numbers: as easy as 1, 2, 3"), a counter-based generator: a launch is identified by
a 64-bit key and two counter words; element ``e`` of a launch uses word ``e & 3`` of
the block computed from counter ``(e >> 2, c2, c3)``.

These functions are slow (they exist to be exact, not fast); the sampler's NumPy path
is elsewhere.
"""

from __future__ import annotations

import numpy as np

F = np.float32
MASK = 0xFFFFFFFF
PHILOX_M = (0xD2511F53, 0xCD9E8D57)
PHILOX_W = (0x9E3779B9, 0xBB67AE85)


# -- Philox4x32-10 ---------------------------------------------------------------------
def philox(c0, c1, c2, c3, k0, k1) -> np.ndarray:
    """Philox4x32-10 of counters (c0, c1, c2, c3) and keys (k0, k1) (ints or uint32 arrays,
    broadcast): an array ``(..., 4)`` of uint32 words."""
    c = [np.asarray(x, dtype=np.uint64) & MASK for x in (c0, c1, c2, c3)]
    k = [np.asarray(x, dtype=np.uint64) & MASK for x in (k0, k1)]
    c = list(np.broadcast_arrays(*c, *k))[:4]
    for r in range(10):
        if r:
            k = [(k[0] + PHILOX_W[0]) & MASK, (k[1] + PHILOX_W[1]) & MASK]
        p0 = np.uint64(PHILOX_M[0]) * c[0]
        p1 = np.uint64(PHILOX_M[1]) * c[2]
        c = [(p1 >> np.uint64(32)) ^ c[1] ^ k[0], p1 & MASK, (p0 >> np.uint64(32)) ^ c[3] ^ k[1], p0 & MASK]
    return np.stack(c, axis=-1).astype(np.uint32)


def launch_words(count: int, key, counter) -> np.ndarray:
    """The word of every element ``e < count`` of a launch: (count,) uint32."""
    blocks = np.arange((int(count) + 3) // 4, dtype=np.uint64)
    w = philox(blocks & MASK, blocks >> np.uint64(32), counter[0], counter[1], key[0], key[1])
    return w.reshape(-1)[:count]


def launch_blocks(count: int, key, counter) -> np.ndarray:
    """The four words of the block of every element: (count, 4) uint32."""
    blocks = np.arange(int(count), dtype=np.uint64) >> np.uint64(2)
    return philox(blocks & MASK, blocks >> np.uint64(32), counter[0], counter[1], key[0], key[1])


def uniform(x) -> np.ndarray:
    """U[0, 1) on the 2^24 grid from uint32 words."""
    return (np.asarray(x, np.uint32) >> np.uint32(8)).astype(F) * F(5.9604644775390625e-08)


def uniform_open(x) -> np.ndarray:
    """U(0, 1] from uint32 words (never 0)."""
    return (np.asarray(x, np.uint32).astype(F) + F(0.5)) * F(2.3283064365386963e-10)


# -- elementary functions ----------------------------------------------------------------
def _poly(x, coefficients):
    p = F(coefficients[0])
    for c in coefficients[1:]:
        p = p * x + F(c)
    return p


def exp(x) -> np.ndarray:
    """``pgb_exp``: exp from correctly rounded float32 operations (0 below -86.9, inf from 88.7)."""
    x = np.asarray(x, F)
    with np.errstate(over="ignore", invalid="ignore"):
        xc = np.where(np.isnan(x), F(0), np.clip(x, F(-86.9), F(88.7)))
        n = np.floor(xc * F(1.44269504088896341) + F(0.5))
        r = xc - n * F(0.693359375)
        r = r - n * F(-2.12194440e-4)
        z = r * r
        p = _poly(r, (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
                      5.0000001201e-1))
        y = p * z + r + F(1.0)
        scale = ((n.astype(np.int32) - 1 + 127).astype(np.uint32) << np.uint32(23)).view(F)
        out = (y * F(2.0)) * scale
    out = np.where(x < F(-86.9), F(0.0), out)
    return np.where(x < F(88.7), out, np.where(np.isnan(x), x, F(np.inf))).astype(F)


def log(x) -> np.ndarray:
    """``pgb_log``: log of positive normal float32 numbers."""
    x = np.asarray(x, F)
    bits = x.view(np.uint32)
    e = (((bits >> np.uint32(23)) & np.uint32(0xFF)).astype(np.int32) - 126).astype(F)
    m = ((bits & np.uint32(0x007FFFFF)) | np.uint32(0x3F000000)).view(F)
    small = m < F(0.70710678118654752)
    e = np.where(small, e - F(1.0), e)
    m = np.where(small, m + m - F(1.0), m - F(1.0))
    z = m * m
    p = _poly(m, (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
                  -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1))
    y = p * m * z
    y = y + e * F(-2.12194440e-4)
    y = y - F(0.5) * z
    r = m + y
    return r + e * F(0.693359375)


def cossin_2pi(t):
    """``pgb_cossin_2pi``: (cos 2 pi t, sin 2 pi t) for t in [0, 1)."""
    t = np.asarray(t, F)
    y = t * F(4.0)
    q = np.floor(y + F(0.5))
    phi = (y - q) * F(1.57079632679489662)
    z = phi * phi
    sp = _poly(z, (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1))
    sp = sp * z * phi + phi
    cp = _poly(z, (2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2))
    cp = cp * z * z - F(0.5) * z + F(1.0)
    quad = q.astype(np.int32) & 3
    c = np.select([quad == 0, quad == 1, quad == 2], [cp, -sp, -cp], sp)
    s = np.select([quad == 0, quad == 1, quad == 2], [sp, cp, -sp], -cp)
    return c.astype(F), s.astype(F)


def normal(block_words, lane) -> np.ndarray:
    """``pgb_normal``: Box-Muller normals from (n, 4) block words and lanes in 0..3."""
    lane = np.asarray(lane)
    pair = lane >> 1
    rows = np.arange(len(block_words))
    u1 = uniform_open(block_words[rows, 2 * pair])
    u2 = uniform(block_words[rows, 2 * pair + 1])
    radius = np.sqrt(F(-2.0) * log(u1))
    c, s = cossin_2pi(u2)
    return radius * np.where(lane & 1, s, c)


# -- unit updates -------------------------------------------------------------------------
def binary_hi(theta, beta_gap, u) -> np.ndarray:
    """``pgb_binary_hi``: True where the unit goes to its high state."""
    e = exp(-(np.asarray(beta_gap, F) * np.asarray(theta, F)))
    return np.asarray(u, F) * (F(1.0) + e) < F(1.0)


def _beta_of_rows(beta_rows, beta_scalar, rows):
    return F(beta_scalar) if beta_rows is None else np.asarray(beta_rows, F).reshape(-1)[rows]


def binary_update(field, bias, beta_rows, beta_scalar, gap, lo, hi, key, counter) -> np.ndarray:
    """``pgb_binary_update`` on a (rows, n) float32 field; bias (n,) or None; beta per row or scalar."""
    field = np.asarray(field, F)
    rows, n = field.shape
    theta = field if bias is None else field + np.asarray(bias, F)[None, :]
    beta = _beta_of_rows(beta_rows, beta_scalar, np.arange(rows))
    beta_gap = (np.reshape(beta, (-1, 1)) if np.ndim(beta) else beta) * F(gap)
    u = uniform(launch_words(field.size, key, counter)).reshape(rows, n)
    return np.where(binary_hi(theta, beta_gap, u), F(hi), F(lo))


def gaussian_update(eta, lam, beta_rows, beta_scalar, key, counter) -> np.ndarray:
    """``pgb_gaussian_update``: N(eta / lam, 1 / (beta lam)) on (rows, n) arrays."""
    eta, lam = np.asarray(eta, F), np.asarray(lam, F)
    rows, n = eta.shape
    e = np.arange(eta.size)
    z = normal(launch_blocks(eta.size, key, counter), e & 3).reshape(rows, n)
    beta = _beta_of_rows(beta_rows, beta_scalar, np.arange(rows))
    beta = np.reshape(beta, (-1, 1)) if np.ndim(beta) else beta
    mean = eta / lam
    scale = np.sqrt(beta * lam)
    return mean + z / scale


def categorical_off(z, u) -> np.ndarray:
    """``pgb_categorical_off`` for (m, n) logits and (m,) uniforms: states 0 (off) .. n."""
    z = np.asarray(z, F)
    n = z.shape[1]
    m = np.maximum(F(0.0), z.max(axis=1))
    e0 = exp(-m)
    total = e0.copy()
    for k in range(n):
        total = total + exp(z[:, k] - m)
    target = np.asarray(u, F) * total
    t = e0.copy()
    state = np.zeros(len(z), np.int64)
    for k in range(n):
        state = np.where(t <= target, k + 1, state)
        if k + 1 < n:
            t = t + exp(z[:, k] - m)
    return state


def pool_update(det, pool, beta_rows, beta_scalar, shape, size, key, counter):
    """``pgb_pool_update``: detectors (rows, K*H*W) and pooling units (rows, K*H/C1*W/C2) -> new states."""
    K, H, W = shape
    C1, C2 = size
    det, pool = np.asarray(det, F), np.asarray(pool, F)
    rows = det.shape[0]
    Hb, Wb = H // C1, W // C2
    blocks = det.reshape(rows, K, Hb, C1, Wb, C2).transpose(0, 1, 2, 4, 3, 5).reshape(rows * K * Hb * Wb, C1 * C2)
    beta = _beta_of_rows(beta_rows, beta_scalar, np.arange(rows))
    beta = np.repeat(np.reshape(beta, -1), K * Hb * Wb)[:, None] if np.ndim(beta) else beta
    z = beta * (blocks + pool.reshape(-1, 1))
    u = uniform(launch_words(pool.size, key, counter))
    state = categorical_off(z, u)
    onehot = (np.arange(1, C1 * C2 + 1)[None, :] == state[:, None]).astype(F)
    det_out = onehot.reshape(rows, K, Hb, Wb, C1, C2).transpose(0, 1, 2, 4, 3, 5).reshape(rows, -1)
    return det_out, (state > 0).astype(F).reshape(rows, -1)


def lattice_field(x, J_right, J_down, h) -> np.ndarray:
    """``pgb_lattice_field`` at every site of (chains, H, W) states, periodic indexing."""
    x = np.asarray(x).astype(F)
    Jr, Jd, h = (np.asarray(a, F) for a in (J_right, J_down, h))
    f = Jr * np.roll(x, -1, axis=2)
    f = f + np.roll(Jr, 1, axis=1) * np.roll(x, 1, axis=2)
    f = f + Jd * np.roll(x, -1, axis=1)
    f = f + np.roll(Jd, 1, axis=0) * np.roll(x, 1, axis=1)
    return f + h


def checkerboard_update(x, J_right, J_down, h, colour, beta_gap, lo, hi, key, counter) -> np.ndarray:
    """``pgb_checkerboard_update``: one colour of a half-sweep of int8 states (chains, H, W), returned as a copy."""
    x = np.array(x, dtype=np.int8)
    chains, H, W = x.shape
    theta = lattice_field(x, J_right, J_down, h)
    r = np.arange(H)[:, None]
    c = 2 * np.arange(W // 2)[None, :] + ((r + colour) & 1)  # (H, W/2): the site of lane order (row, k)
    count = chains * H * (W // 2)
    u = uniform(launch_words(count, key, counter)).reshape(chains, H, W // 2)
    rr = np.broadcast_to(r, c.shape)
    up = binary_hi(theta[:, rr, c], F(beta_gap), u)
    x[:, rr, c] = np.where(up, np.int8(hi), np.int8(lo))
    return x
