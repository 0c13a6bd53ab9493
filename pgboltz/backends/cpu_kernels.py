"""Fused update kernels for the CPU, compiled with Numba: the GPU kernels' twins.

After the matrix products that fill a group's field, one compiled loop adds the bias, applies
beta and the unit type's nonlinearity, draws its randomness from Philox4x32-10 and writes the
new states: no noise buffer is written to memory and the field is read once. Measured on one
core: a binary update takes 0.7-0.8 ns per unit where NumPy's array code (PCG64 uniforms, then
four elementwise passes) takes 2.2 ns; a Gaussian one 1.5 ns against about 9; Philox gives a
word in 0.3 ns against 1.3 ns for a PCG64 float.

Kernels: ``binary`` (Bernoulli and spin units; ``binary_streams``: several row chunks, each with its
own stream, in one call), ``gaussian`` (diagonal precision), ``pool`` (probabilistic max pooling),
``checkerboard`` (one colour of a 2-D lattice on int8 states), ``sparse_sweep`` (whole sweeps over
the colour classes of a sparse group, on tiles of chains held transposed), and, drawing nothing,
``csr_rows`` (sparse factors' fields), ``scatter_columns`` (writing a colour class back into its group)
and ``binary_log_step`` (AIS weight increments of binary units, accurate in float32; it has no CUDA
twin and is checked against float64 instead).

The drawing kernels' per-element logic is the same as the CUDA kernels' (``kernels/pgboltz_elements.cuh``):
the same counter-based generator keyed by seed and stream, the same exp/log/sincos
polynomials from correctly rounded float32 operations in the same order, no FMA
contraction (Numba, like LLVM, contracts only under fast-math, which is off here). So the
drawing kernels equal :mod:`pgboltz.backends.reference` bit for bit, which is what the tests
check, and a NumPy run with one stream draws exactly the GPU's random numbers.

A kernel works on one row chunk, ``(rows, n)`` float32 arrays, and releases the GIL: the NumPy
backend's worker threads run the chunks in parallel, so the kernels themselves are serial
(Numba's own thread pool would nest inside ours).

Compiled on first use (about a second per kernel) and cached on disk by Numba.
"""

from __future__ import annotations

import numpy as np

import importlib.util

F = np.float32
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint32(0x9E3779B9), np.uint32(0xBB67AE85)
_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)


def available() -> bool:
    """True if Numba is installed (the kernels can be compiled); it is imported only when they are built."""
    return importlib.util.find_spec("numba") is not None


_compiled = {}


def kernels():
    """The compiled kernels by name (see the module's docstring), compiled or loaded from Numba's cache once."""
    if not _compiled:
        try:
            _compiled.update(_build(cache=True))
        except RuntimeError:  # no writable cache directory (Numba: "no locator available"): compile per process
            _compiled.update(_build(cache=False))
    return _compiled


def _build(cache: bool):
    import numba

    jit = numba.njit(nogil=True, cache=cache, boundscheck=False, error_model="numpy")
    inline = numba.njit(inline="always", boundscheck=False)

    @inline
    def philox_into(first, last, c2, c3, k0, k1, words):
        """words[4 i + j] = word j of Philox block ``first + i``, for blocks first..last."""
        for b in range(first, last + 1):
            bb = np.uint64(b)
            x0 = np.uint32(bb & _LOW)
            x1 = np.uint32(bb >> _SHIFT)
            x2, x3, y0, y1 = c2, c3, k0, k1
            for r in range(10):
                if r:
                    y0 = np.uint32(y0 + _W0)
                    y1 = np.uint32(y1 + _W1)
                p0 = np.uint64(x0) * _M0
                p1 = np.uint64(x2) * _M1
                x0, x1, x2, x3 = (np.uint32(p1 >> _SHIFT) ^ x1 ^ y0, np.uint32(p1 & _LOW),
                                  np.uint32(p0 >> _SHIFT) ^ x3 ^ y1, np.uint32(p0 & _LOW))
            i = 4 * (b - first)
            words[i] = x0
            words[i + 1] = x1
            words[i + 2] = x2
            words[i + 3] = x3

    @inline
    def exp_into(x, out, bits, n):
        """out[j] = pgb_exp(x[j]) for j < n: the polynomial and the exponent's bits in one loop, the bit cast
        and the edges (as selects) in another, so that both vectorise (a per-element helper, measured, kept
        them scalar: 5x slower). ``bits``: uint32 scratch of at least n; ``out`` must not be ``x``."""
        for j in range(n):
            xc = min(max(x[j], F(-86.9)), F(88.7))
            m = np.floor(xc * F(1.44269504088896341) + F(0.5))
            t = xc - m * F(0.693359375)
            t = t - m * F(-2.12194440e-4)
            z = t * t
            p = F(1.9875691500e-4)
            p = p * t + F(1.3981999507e-3)
            p = p * t + F(8.3334519073e-3)
            p = p * t + F(4.1665795894e-2)
            p = p * t + F(1.6666665459e-1)
            p = p * t + F(5.0000001201e-1)
            out[j] = (p * z + t + F(1.0)) * F(2.0)
            bits[j] = np.uint32(np.int32(m) + 126) << np.uint32(23)  # 2^(m - 1)
        scale = bits.view(np.float32)
        for j in range(n):
            xj = x[j]
            e = out[j] * scale[j]
            e = F(0.0) if xj < F(-86.9) else e
            e = e if xj < F(88.7) else F(np.inf)
            out[j] = xj if xj != xj else e

    @jit
    def binary(field, bias, has_bias, beta_rows, has_beta_rows, beta_scalar, gap, lo, hi, out, index, has_index,
               k0, k1, c2, c3):
        # pgb_binary_element: hi where u * (1 + pgb_exp(-(beta gap theta))) < 1; element j of a row goes to
        # out[row, index[j]] when has_index (a colour class written straight into its group's states)
        rows, n = field.shape
        words = np.empty(n + 8, np.uint32)
        x = np.empty(n, np.float32)
        e = np.empty(n, np.float32)
        bits = np.empty(n, np.uint32)
        for r in range(rows):
            start = r * n
            philox_into(start >> 2, (start + n - 1) >> 2, c2, c3, k0, k1, words)
            off = start & 3
            beta_gap = (beta_rows[r] if has_beta_rows else beta_scalar) * gap
            f = field[r]
            for j in range(n):
                theta = f[j] + bias[j] if has_bias else f[j]
                x[j] = -(beta_gap * theta)
            exp_into(x, e, bits, n)
            o = out[r]
            if has_index:
                for j in range(n):
                    u = F(words[off + j] >> np.uint32(8)) * F(5.9604644775390625e-08)
                    o[index[j]] = hi if u * (F(1.0) + e[j]) < F(1.0) else lo
            else:
                for j in range(n):
                    u = F(words[off + j] >> np.uint32(8)) * F(5.9604644775390625e-08)
                    o[j] = hi if u * (F(1.0) + e[j]) < F(1.0) else lo

    @inline
    def log_into(x, out, mbits, n):
        """out[j] = pgb_log(x[j]) for positive normal x[j] (relative error below 2e-7), in loops that vectorise
        like exp_into's. ``mbits``: uint32 scratch of at least n."""
        xbits = x.view(np.uint32)
        for j in range(n):
            mbits[j] = (xbits[j] & np.uint32(0x007FFFFF)) | np.uint32(0x3F000000)
        mant = mbits.view(np.float32)
        for j in range(n):
            e = F(np.int32((xbits[j] >> np.uint32(23)) & np.uint32(0xFF)) - 126)
            m = mant[j]
            small = m < F(0.70710678118654752)
            e = e - F(1.0) if small else e
            m = m + m - F(1.0) if small else m - F(1.0)
            z = m * m
            p = F(7.0376836292e-2)
            p = p * m - F(1.1514610310e-1)
            p = p * m + F(1.1676998740e-1)
            p = p * m - F(1.2420140846e-1)
            p = p * m + F(1.4249322787e-1)
            p = p * m - F(1.6668057665e-1)
            p = p * m + F(2.0000714765e-1)
            p = p * m - F(2.4999993993e-1)
            p = p * m + F(3.3333331174e-1)
            y = p * m * z
            y = y + e * F(-2.12194440e-4)
            y = y - F(0.5) * z
            out[j] = (m + y) + e * F(0.693359375)

    @inline
    def sum64(x, n, acc):
        """sum of x[:n] (float32) in float64, by eight partial sums ``acc`` (float64 scratch of 8) updated a
        vector at a time (one chain of adds would cost its latency per element)."""
        for k in range(8):
            acc[k] = 0.0
        n8 = n - n % 8
        for j in range(0, n8, 8):
            for k in range(8):
                acc[k] += np.float64(x[j + k])
        for j in range(n8, n):
            acc[0] += np.float64(x[j])
        return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))

    @inline
    def expm1_series(x):
        """expm1(x) by its series to x^8 / 8!: within a rounding or two for |x| < 0.35."""
        p = F(2.4801587301587302e-05)
        p = p * x + F(1.9841269841269841e-04)
        p = p * x + F(1.3888888888888889e-03)
        p = p * x + F(8.3333333333333333e-03)
        p = p * x + F(4.1666666666666667e-02)
        p = p * x + F(1.6666666666666667e-01)
        p = p * x + F(0.5)
        return (p * x) * x + x

    @inline
    def sigmoid_pair(b, e):
        """(sigma(b), sigma(-b)) from e = exp(-|b|), neither cancelling."""
        inv = F(1.0) / (F(1.0) + e)
        return (inv, e * inv) if b >= F(0.0) else (e * inv, inv)

    @jit
    def binary_log_step(field, dbeta_gap, from_gap, dbeta_lo, symmetric, out):
        # out[r] += sum_j log Z(b_to theta_j) - log Z(b_from theta_j) of binary units {lo, lo + gap}, where
        # log Z(beta theta) = beta theta lo + softplus(beta theta gap); dbeta_gap = (b_to - b_from) gap,
        # from_gap = b_from gap, dbeta_lo = (b_to - b_from) lo. With b = from_gap theta and d = dbeta_gap theta,
        # the increment is a single log, with no cancellation:
        # * {0, 1} (and any lo when not symmetric): softplus(b + d) - softplus(b) = log1p(y), y = sigma(b)
        #   expm1(d), u = 1 + y = sigma(-b) + sigma(b) e^d; plus dbeta_lo theta summed apart when lo != 0;
        # * symmetric units {-c, c} (spins; ``symmetric``) with |delta| < 0.35, delta = d / 2: the log Z's are
        #   log 2 cosh(x), x = b / 2, and the increment is log(cosh(x + delta) / cosh(x)) = log1p(y), y =
        #   tanh(x) sinh(delta) + (cosh(delta) - 1), u = 1 + y = (e^(s delta) + A e^(-s delta)) / (1 + A),
        #   s = sign(x), A = e^(-2|x|) (the other form's dbeta_lo theta would cancel against its log1p);
        #   larger steps take the first form, dbeta_lo theta added apart.
        # expm1, sinh and cosh - 1 by their series near 0; log1p(y) as log(u) y / (u - 1), u a sum of positive
        # terms, so it is accurate where y is near -1 too. Each element is within a few float32 roundings of its
        # own increment (and of what rounding b and d to float32 moves it by), except where dbeta_lo theta is
        # added apart (lo not in {0, -hi}, or a symmetric step with |delta| >= 0.35): there within a few
        # roundings of that term. Rows sum in float64. An element with |d| > 80, or u below float32's normal
        # range (a step of tens of nats: no annealing schedule), or sigma(b) below float32's range with d > 0
        # is recomputed in float64.
        rows, n = field.shape
        na = np.empty(n, np.float32)
        dd = np.empty(n, np.float32)
        E = np.empty(n, np.float32)
        Ed = np.empty(n, np.float32)
        bits = np.empty(n, np.uint32)
        y = np.empty(n, np.float32)
        u = np.empty(n, np.float32)
        L = np.empty(n, np.float32)
        acc8 = np.empty(8, np.float64)
        far = np.empty(n, np.int32)
        lo_part = np.empty(n, np.float32)
        half = F(0.5) if symmetric else F(1.0)
        for r in range(rows):
            f = field[r]
            for j in range(n):
                na[j] = -abs(from_gap * f[j])
                dd[j] = (dbeta_gap * f[j]) * half
            exp_into(na, E, bits, n)  # exp(-|b|) (exp_into reads its argument after writing out: not in place)
            steep = symmetric
            for j in range(n):
                steep |= abs(dd[j]) >= F(0.35)
            if steep:  # exp(d), or exp(delta); a row of small steps only (most rows) takes e^d = 1 + expm1(d)
                exp_into(dd, Ed, bits, n)
            if symmetric:
                for j in range(n):
                    b = from_gap * f[j]
                    x = na[j]  # -|b| = -2|x|
                    em1 = expm1_series(x) if x > F(-0.35) else E[j] - F(1.0)
                    t = -em1 / (F(1.0) + E[j])  # tanh(|x|)
                    t = t if b >= F(0.0) else -t
                    dl = dd[j]
                    z = dl * dl
                    ps = F(2.7557319223985891e-06)
                    ps = ps * z + F(1.9841269841269841e-04)
                    ps = ps * z + F(8.3333333333333333e-03)
                    ps = ps * z + F(1.6666666666666667e-01)
                    ie = F(1.0) / Ed[j]
                    sinh = dl + (dl * z) * ps if abs(dl) < F(0.35) else (Ed[j] - ie) * F(0.5)
                    pc = F(2.7557319223985891e-07)
                    pc = pc * z + F(2.4801587301587302e-05)
                    pc = pc * z + F(1.3888888888888889e-03)
                    pc = pc * z + F(4.1666666666666667e-02)
                    pc = pc * z + F(0.5)
                    coshm1 = z * pc if abs(dl) < F(1.0) else (Ed[j] + ie) * F(0.5) - F(1.0)
                    num = Ed[j] + E[j] * ie if b >= F(0.0) else ie + E[j] * Ed[j]
                    # a larger step: the softplus form, sigma(b) expm1(d) with e^d = e^delta squared, and
                    # beta theta lo added apart (y's two terms above would cancel to ulps of sinh(delta))
                    sb, snb = sigmoid_pair(b, E[j])
                    ed = Ed[j] * Ed[j]
                    small = abs(dl) < F(0.35)
                    y[j] = t * sinh + coshm1 if small else sb * (ed - F(1.0))
                    u[j] = max(num / (F(1.0) + E[j]) if small else snb + sb * ed, F(1.1754944e-38))
                    lo_part[j] = F(0.0) if small else dbeta_lo * f[j]
            else:
                for j in range(n):
                    sb, snb = sigmoid_pair(from_gap * f[j], E[j])
                    x = dd[j]
                    small = abs(x) < F(0.35)
                    em1 = expm1_series(x) if small else Ed[j] - F(1.0)
                    y[j] = sb * em1
                    u[j] = max(snb + sb * (F(1.0) + em1 if small else Ed[j]), F(1.1754944e-38))
            log_into(u, L, bits, n)
            rare = 0
            for j in range(n):
                l1p = y[j] if u[j] == F(1.0) else L[j] * (y[j] / (u[j] - F(1.0)))
                outside = (abs(dd[j] / half) > F(80.0)) | (u[j] <= F(1.1754944e-38)) | (
                    (dd[j] > F(0.0)) & (na[j] < F(-80.0)) & ((not symmetric) | (abs(dd[j]) >= F(0.35))))
                L[j] = F(0.0) if outside else l1p
                far[j] = 1 if outside else 0
                rare += far[j]
            total = sum64(L, n, acc8)
            if symmetric:
                for j in range(n):
                    lo_part[j] = F(0.0) if far[j] else lo_part[j]
                total += sum64(lo_part, n, acc8)
            elif dbeta_lo != F(0.0):
                total += np.float64(dbeta_lo) * sum64(f, n, acc8)
            for j in range(n if rare else 0):
                if far[j]:  # left out above: in float64, the whole increment
                    th = np.float64(f[j])
                    b, d = np.float64(from_gap) * th, np.float64(dbeta_gap) * th
                    total += np.logaddexp(0.0, b + d) - np.logaddexp(0.0, b)
                    if symmetric:
                        total += np.float64(dbeta_lo) * th
            out[r] += total

    @jit
    def gaussian(eta, lam, beta_rows, has_beta_rows, beta_scalar, out, k0, k1, c2, c3):
        # pgb_gaussian_element with pgb_normal (Box-Muller on the block's word pair of the element),
        # pgb_log (log_into) and pgb_cossin_2pi written out with selects, in loops that vectorise
        rows, n = eta.shape
        words = np.empty(n + 8, np.uint32)
        u1 = np.empty(n, np.float32)
        mbits = np.empty(n, np.uint32)
        lg = np.empty(n, np.float32)
        u2 = np.empty(n, np.float32)
        odd = np.empty(n, np.int32)
        for r in range(rows):
            start = r * n
            philox_into(start >> 2, (start + n - 1) >> 2, c2, c3, k0, k1, words)
            off = start & 3
            beta = beta_rows[r] if has_beta_rows else beta_scalar
            for j in range(n):
                lane = (off + j) & 3
                first = off + j - lane + 2 * (lane >> 1)  # the element's pair: words (2 pair, 2 pair + 1)
                u1[j] = (F(words[first]) + F(0.5)) * F(2.3283064365386963e-10)
                u2[j] = F(words[first + 1] >> np.uint32(8)) * F(5.9604644775390625e-08)
                odd[j] = lane & 1
            log_into(u1, lg, mbits, n)
            er, lr, o = eta[r], lam[r], out[r]
            for j in range(n):
                radius = np.sqrt(F(-2.0) * lg[j])
                yy = u2[j] * F(4.0)
                q = np.floor(yy + F(0.5))
                phi = (yy - q) * F(1.57079632679489662)
                zz = phi * phi
                sp = F(-1.9515295891e-4)
                sp = sp * zz + F(8.3321608736e-3)
                sp = sp * zz - F(1.6666654611e-1)
                sp = sp * zz * phi + phi
                cp = F(2.443315711809948e-5)
                cp = cp * zz - F(1.388731625493765e-3)
                cp = cp * zz + F(4.166664568298827e-2)
                cp = cp * zz * zz - F(0.5) * zz + F(1.0)
                # cos 2 pi t by quadrant k is (cp, -sp, -cp, sp)[k]; odd elements take the sine, which is the
                # cosine of quadrant k + 3 (sin x = cos(x - pi / 2)); the sign is a product with +-1 (exact)
                k = (np.int32(q) + 3 * odd[j]) & 3
                t = (cp if (k & 1) == 0 else sp) * F(1 - 2 * (((k + 1) >> 1) & 1))
                o[j] = er[j] / lr[j] + (radius * t) / np.sqrt(beta * lr[j])

    @inline
    def csr_into(xt, indptr, indices, data, first, count, acc, m):
        """acc[i, :m] = sum_k data[k] xt[indices[k], :m] over CSR row first + i, for i < count: whole rows of
        chains, so the innermost loop is a vectorised multiply-add over contiguous memory."""
        for i in range(count):
            a = acc[i]
            for c in range(m):
                a[c] = 0
            for k in range(indptr[first + i], indptr[first + i + 1]):
                w = data[k]
                x = xt[indices[k]]
                for c in range(m):
                    a[c] += w * x[c]

    @jit
    def csr_rows(xt, indptr, indices, data, acc):
        # acc[i, :] = sum_k data[k] xt[indices[k], :] over the CSR row of unit i
        csr_into(xt, indptr, indices, data, 0, acc.shape[0], acc, acc.shape[1])

    @jit
    def binary_streams(field, bias, has_bias, beta_rows, has_beta_rows, beta_scalar, gap, lo, hi, out, index,
                       has_index, bounds, words):
        # ``binary`` on each row chunk bounds[c]:bounds[c + 1] with its own launch words[c] (random stream c):
        # a whole-field update's per-stream draws in one call
        for c in range(bounds.shape[0] - 1):
            a, b = bounds[c], bounds[c + 1]
            if b > a:
                binary(field[a:b], bias, has_bias, beta_rows[a:b] if has_beta_rows else beta_rows, has_beta_rows,
                       beta_scalar, gap, lo, hi, out[a:b], index, has_index, words[c, 0], words[c, 1], words[c, 2],
                       words[c, 3])

    @jit
    def sparse_sweep(x, indptr, indices, data, class_start, units, bias, has_bias, beta_rows, has_beta_rows,
                     beta_scalar, gap, lo, hi, keys, counters, row_stream, row_local, sweeps, tile):
        # ``sweeps`` sweeps over the colour classes of one group whose field is one sparse coupling within it
        # (plus a bias), on the chains ``x``, in place. Class c is units[class_start[c]:class_start[c + 1]],
        # its CSR rows the same range of indptr (columns: units of the group). Row r belongs to random stream
        # row_stream[r] (key keys[stream]), where it is row row_local[r] of the stream's chunk; launch (sweep
        # s, class c) of a stream takes counters[stream, s * classes + c]. Chains are independent, so ``tile``
        # chains at a time (of any streams) run every sweep on a (units, tile) transposed copy that stays in
        # cache; the field and the draw of element (local row r, class unit j) are ``csr_rows``' and
        # ``binary``'s (Philox element r nc + j), so the states equal class-by-class updates bit for bit.
        rows, n = x.shape
        classes = class_start.shape[0] - 1
        widest = 0
        for c in range(classes):
            widest = max(widest, class_start[c + 1] - class_start[c])
        xt = np.empty((n, tile), np.float32)
        acc = np.empty((widest, tile), np.float32)
        arg = np.empty(widest * tile, np.float32)
        e = np.empty(widest * tile, np.float32)
        bits = np.empty(widest * tile, np.uint32)
        words = np.empty((tile, widest + 8), np.uint32)
        offs = np.empty(tile, np.int64)
        beta_gap = np.empty(tile, np.float32)
        for t0 in range(0, rows, tile):
            tb = min(tile, rows - t0)
            for q in range(tb):
                beta_gap[q] = (beta_rows[t0 + q] if has_beta_rows else beta_scalar) * gap
                xr = x[t0 + q]
                for i in range(n):
                    xt[i, q] = xr[i]
            for s in range(sweeps):
                for c in range(classes):
                    a = class_start[c]
                    nc = class_start[c + 1] - a
                    launch = s * classes + c
                    csr_into(xt, indptr, indices, data, a, nc, acc, tb)
                    for q in range(tb):
                        st = row_stream[t0 + q]
                        start = row_local[t0 + q] * nc
                        philox_into(start >> 2, (start + nc - 1) >> 2, counters[st, launch, 0],
                                    counters[st, launch, 1], keys[st, 0], keys[st, 1], words[q])
                        offs[q] = start & 3
                    for j in range(nc):
                        aj = acc[j]
                        b = bias[a + j] if has_bias else F(0.0)
                        for q in range(tb):
                            theta = aj[q] + b if has_bias else aj[q]
                            arg[j * tb + q] = -(beta_gap[q] * theta)
                    exp_into(arg, e, bits, nc * tb)
                    for j in range(nc):
                        xs = xt[units[a + j]]
                        for q in range(tb):
                            u = F(words[q, offs[q] + j] >> np.uint32(8)) * F(5.9604644775390625e-08)
                            xs[q] = hi if u * (F(1.0) + e[j * tb + q]) < F(1.0) else lo
            for q in range(tb):
                xr = x[t0 + q]
                for i in range(n):
                    xr[i] = xt[i, q]

    @jit
    def scatter_columns(x, index, values):
        # x[:, index] = values, row by row (NumPy's fancy assignment is 2.5x slower)
        for r in range(x.shape[0]):
            xr, v = x[r], values[r]
            for j in range(index.shape[0]):
                xr[index[j]] = v[j]

    @jit
    def checkerboard(x, Jr, Jd, h, uniform, first, last, H, W, colour, beta_gap, lo, hi, k0, k1, c2, c3):
        # pgb_checkerboard_site for chains first..last-1 of int8 states (chains, H, W), in place: element
        # (chain H + r) W/2 + k is site (r, 2k + ((r + colour) & 1)); the lattice field in the kernel's
        # order (right, left, down, up, bias), then the draw as in ``binary``
        half = W // 2
        words = np.empty(half + 8, np.uint32)
        theta = np.empty(half, np.float32)
        e = np.empty(half, np.float32)
        bits = np.empty(half, np.uint32)
        jr, jd, h0 = Jr[0, 0], Jd[0, 0], h[0, 0]
        for chain in range(first, last):
            xc = x[chain]
            for r in range(H):
                up = H - 1 if r == 0 else r - 1
                down = 0 if r == H - 1 else r + 1
                shift = (r + colour) & 1
                # the sites whose left or right neighbour wraps around are the row's ends, handled apart; the
                # others read c - 1 and c + 1 directly, in branch-free loops that vectorise
                if uniform:
                    for k in range(1, half - 1):
                        c = 2 * k + shift
                        f = jr * F(xc[r, c + 1])
                        f = f + jr * F(xc[r, c - 1])
                        f = f + jd * F(xc[down, c])
                        f = f + jd * F(xc[up, c])
                        theta[k] = f + h0
                else:
                    for k in range(1, half - 1):
                        c = 2 * k + shift
                        f = Jr[r, c] * F(xc[r, c + 1])
                        f = f + Jr[r, c - 1] * F(xc[r, c - 1])
                        f = f + Jd[r, c] * F(xc[down, c])
                        f = f + Jd[up, c] * F(xc[up, c])
                        theta[k] = f + h[r, c]
                for k in (0, half - 1):
                    c = 2 * k + shift
                    cl = W - 1 if c == 0 else c - 1
                    cr = 0 if c == W - 1 else c + 1
                    i = 0 if uniform else 1  # every read is element 0 when uniform (as in the kernel)
                    f = Jr[i * r, i * c] * F(xc[r, cr])
                    f = f + Jr[i * r, i * cl] * F(xc[r, cl])
                    f = f + Jd[i * r, i * c] * F(xc[down, c])
                    f = f + Jd[i * up, i * c] * F(xc[up, c])
                    theta[k] = f + h[i * r, i * c]
                start = (chain * H + r) * half
                philox_into(start >> 2, (start + half - 1) >> 2, c2, c3, k0, k1, words)
                off = start & 3
                for k in range(half):
                    theta[k] = -(beta_gap * theta[k])
                exp_into(theta, e, bits, half)
                for k in range(half):
                    u = F(words[off + k] >> np.uint32(8)) * F(5.9604644775390625e-08)
                    xc[r, 2 * k + shift] = hi if u * (F(1.0) + e[k]) < F(1.0) else lo

    @inline
    def exp_scalar(v, x1, e1, bits1):
        """pgb_exp of one float32, through exp_into on one-element scratch arrays."""
        x1[0] = v
        exp_into(x1, e1, bits1, 1)
        return e1[0]

    @jit
    def pool(det, pool_in, beta_rows, has_beta_rows, beta_scalar, det_out, pool_out, K, H, W, C1, C2,
             k0, k1, c2, c3):
        # pgb_pool_element for every block of every row: logits z = beta (detector + pooling field) of the
        # block's C1 x C2 detectors and an off state (pgb_categorical_off), one Philox word per block
        rows = det.shape[0]
        Hb, Wb = H // C1, W // C2
        P = K * Hb * Wb
        n = C1 * C2
        z = np.empty(n, np.float32)
        words = np.empty(P + 8, np.uint32)
        x1, e1, bits1 = np.empty(1, np.float32), np.empty(1, np.float32), np.empty(1, np.uint32)
        for r in range(rows):
            start = r * P
            philox_into(start >> 2, (start + P - 1) >> 2, c2, c3, k0, k1, words)
            off = start & 3
            beta = beta_rows[r] if has_beta_rows else beta_scalar
            d, dout, pin, pout = det[r], det_out[r], pool_in[r], pool_out[r]
            for j in range(P):
                k = j // (Hb * Wb)
                rem = j - k * Hb * Wb
                bi = rem // Wb
                bj = rem - bi * Wb
                first = k * H * W + bi * C1 * W + bj * C2
                J = pin[j]
                for a in range(C1):
                    for c in range(C2):
                        z[a * C2 + c] = beta * (d[first + a * W + c] + J)
                m = F(0.0)
                for q in range(n):
                    m = z[q] if z[q] > m else m  # fmaxf: a NaN logit is passed over
                e0 = exp_scalar(-m, x1, e1, bits1)
                total = e0
                for q in range(n):
                    total = total + exp_scalar(z[q] - m, x1, e1, bits1)
                target = (F(words[off + j] >> np.uint32(8)) * F(5.9604644775390625e-08)) * total
                t = e0
                state = 0
                for q in range(n):
                    if t <= target:
                        state = q + 1
                    if q + 1 < n:
                        t = t + exp_scalar(z[q] - m, x1, e1, bits1)
                for a in range(C1):
                    for c in range(C2):
                        dout[first + a * W + c] = F(1.0) if state == a * C2 + c + 1 else F(0.0)
                pout[j] = F(1.0) if state > 0 else F(0.0)

    return {"binary": binary, "gaussian": gaussian, "csr_rows": csr_rows, "scatter_columns": scatter_columns,
            "checkerboard": checkerboard, "pool": pool, "sparse_sweep": sparse_sweep,
            "binary_log_step": binary_log_step, "binary_streams": binary_streams}


#: bytes of a sparse sweep's transposed tile of chains: about a core's share of the level-2 cache
SPARSE_TILE_BYTES = 1 << 20


def sparse_tile(units: int) -> int:
    """Chains per tile of :meth:`CpuKernels.sparse_sweep`: a power of two from 8 to 64 whose float32
    ``(units, tile)`` copy fits in ``SPARSE_TILE_BYTES`` where it can. Each edge then adds a row of ``tile``
    chains; fewer than 8 costs more in loop overhead than the cache saves (Pegasus-16, 5,640 units, two
    cores, 256 chains: tiles of 8 chains 5.3 ms a sweep, 16: 2.9, 32: 2.1, 64: 2.2)."""
    fit = SPARSE_TILE_BYTES // (4 * max(1, int(units)))
    tile = 8
    while tile < 64 and 2 * tile <= fit:
        tile *= 2
    return tile


def launch_words(launches) -> tuple:
    """The key and counter words (k0, k1, c2, c3) of the next launch of ``launches``
    (:class:`pgboltz.backends.fused.Launches`), as the kernels take them."""
    (k0, k1), (c2, c3) = launches.key, launches.next()
    return np.uint32(k0), np.uint32(k1), np.uint32(c2), np.uint32(c3)


class CpuKernels:
    """Launch helpers with the GPU kernels' arguments (:class:`pgboltz.backends.fused.FusedKernels`), one
    :class:`~pgboltz.backends.fused.Launches` per random stream."""

    _NONE = np.zeros(1, np.float32)
    _NO_INDEX = np.zeros(1, np.intp)

    def __init__(self, launches):
        self.launches = launches  # list: stream k -> Launches
        self.k = kernels()

    def _key(self, stream):
        return launch_words(self.launches[stream])

    def _beta(self, beta, rows):
        if type(beta) is float or np.ndim(beta) == 0:  # a float: the common case, without np.ndim's cost
            return self._NONE, False, F(beta)
        b = np.ascontiguousarray(np.reshape(beta, -1), dtype=np.float32)
        if b.size != rows:
            raise ValueError(f"beta has {b.size} rows, the field {rows}")
        return b, True, F(1.0)

    def binary(self, stream, field, bias, beta, gap, lo, hi, out, index=None):
        """``index``: column j of the field goes to column ``index[j]`` of ``out`` (default: the same)."""
        rows = field.shape[0]
        beta_rows, has_beta_rows, beta_scalar = self._beta(beta, rows)
        self.k["binary"](field, self._NONE if bias is None else bias, bias is not None, beta_rows, has_beta_rows,
                         beta_scalar, F(gap), F(lo), F(hi), out, self._NO_INDEX if index is None else index,
                         index is not None, *self._key(stream))

    def binary_streams(self, chunks, field, bias, beta, gap, lo, hi, out, index=None, first=0):
        """:meth:`binary` of every row chunk ``chunks[k]`` of ``field`` with stream ``first + k``, in one call
        (fields computed for several chunks at once; empty chunks draw nothing and take no launch)."""
        # the launch words gathered as Python ints into one array (this runs once per update with few chains:
        # AIS and training minibatches, where per-chunk NumPy scalars cost more than the draws of a small layer)
        flat, starts = [], []
        for k, c in enumerate(chunks):
            starts.append(c.start)
            flat.extend((*self.launches[first + k].key, *self.launches[first + k].next()) if c.stop > c.start
                        else (0, 0, 0, 0))
        starts.append(chunks[-1].stop)
        bounds, words = np.array(starts, np.int64), np.array(flat, np.uint32).reshape(-1, 4)
        beta_rows, has_beta_rows, beta_scalar = self._beta(beta, field.shape[0])
        self.k["binary_streams"](field, self._NONE if bias is None else bias, bias is not None, beta_rows,
                                 has_beta_rows, beta_scalar, F(gap), F(lo), F(hi), out,
                                 self._NO_INDEX if index is None else index, index is not None, bounds, words)

    def pool(self, stream, det, pool, beta, det_out, pool_out, shape, size):
        rows = det.shape[0]
        beta_rows, has_beta_rows, beta_scalar = self._beta(beta, rows)
        (K, H, W), (C1, C2) = shape, size
        self.k["pool"](det, pool, beta_rows, has_beta_rows, beta_scalar, det_out, pool_out, K, H, W, C1, C2,
                       *self._key(stream))

    def checkerboard(self, words, x, params, uniform, chains, shape, colour, beta_gap, lo, hi):
        """One colour of a half-sweep of int8 states ``x`` for chains ``chains`` (a slice) of the launch
        ``words`` (:func:`launch_words`; every chunk of one launch shares them)."""
        H, W = shape
        self.k["checkerboard"](x, *params, uniform, chains.start, chains.stop, H, W, colour, F(beta_gap), np.int8(lo),
                               np.int8(hi), *words)

    def sparse_plan(self, chunks, launches_each):
        """Take ``launches_each`` launches of every stream whose row chunk (``chunks[k]``, stream k) has rows, as
        that many ``binary`` calls per chunk would, and map rows to streams: ``(row_stream, row_local, keys,
        counters)`` for :meth:`sparse_sweep`."""
        n = chunks[-1].stop if chunks else 0
        row_stream, row_local = np.zeros(n, np.int64), np.zeros(n, np.int64)
        keys = np.zeros((len(chunks), 2), np.uint32)
        counters = np.zeros((len(chunks), int(launches_each), 2), np.uint32)
        for k, c in enumerate(chunks):
            row_stream[c] = k
            row_local[c] = np.arange(c.stop - c.start)
            keys[k] = self.launches[k].key
            if c.stop > c.start:
                counters[k] = self.launches[k].take(launches_each)
        return row_stream, row_local, keys, counters

    def sparse_sweep(self, plan, x, layout, beta, gap, lo, hi, sweeps, rows, tile=None):
        """``sweeps`` sweeps of a group's colour classes on the chains ``x[rows]`` in place, each row drawn with
        its stream by ``plan`` (:meth:`sparse_plan`, over all of ``x``); ``layout``: ``(indptr, indices, data,
        class_start, units, bias or None)`` of the classes in order (see the kernel); ``beta``: a number or one
        per row of ``x``; ``tile``: chains per transposed copy (default: :func:`sparse_tile`)."""
        indptr, indices, data, class_start, units, bias = layout
        row_stream, row_local, keys, counters = plan
        xs = x[rows]
        tile = max(1, min(xs.shape[0], sparse_tile(x.shape[1]))) if tile is None else tile  # no wider than xs
        beta_rows, has_beta_rows, beta_scalar = self._beta(beta if np.ndim(beta) == 0 else np.reshape(beta, -1)[rows],
                                                           xs.shape[0])
        self.k["sparse_sweep"](xs, indptr, indices, data, class_start, units, self._NONE if bias is None else bias,
                               bias is not None, beta_rows, has_beta_rows, beta_scalar, F(gap), F(lo), F(hi), keys,
                               counters, row_stream[rows], row_local[rows], int(sweeps), int(tile))

    def binary_log_step(self, field, b_to, b_from, gap, lo, out):
        """``out += sum_j log Z(b_to theta_j) - log Z(b_from theta_j)`` per row of binary units (see the kernel):
        an annealing step's weight increment in float32 without cancellation, summed in float64."""
        self.k["binary_log_step"](field, F((b_to - b_from) * gap), F(b_from * gap), F((b_to - b_from) * lo),
                                  bool(lo + (lo + gap) == 0), out)

    def gaussian(self, stream, eta, lam, beta, out):
        rows = eta.shape[0]
        beta_rows, has_beta_rows, beta_scalar = self._beta(beta, rows)
        self.k["gaussian"](eta, lam, beta_rows, has_beta_rows, beta_scalar, out, *self._key(stream))
