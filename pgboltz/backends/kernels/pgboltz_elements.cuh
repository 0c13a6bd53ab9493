// Per-element logic of pgboltz's fused sampling kernels.
//
// Every function here is __host__ __device__: the kernels in updates.cu call them on
// the GPU, and the tests compile the same functions for the host and compare them bit
// for bit with the NumPy references in pgboltz/backends/reference.py. To make bit-exact
// agreement possible, only correctly rounded IEEE operations are used (+, -, *, /,
// sqrt, float<->int conversions, floor): the transcendental functions are our own
// polynomials (Cody-Waite reduction, Cephes-style minimax coefficients) evaluated in a
// fixed order, and the code is compiled without FMA contraction (--fmad=false on the
// device, -ffp-contract=off on the host).
//
// Random numbers: Philox4x32-10 (Salmon, Moraes, Dror & Shaw 2011), a counter-based
// generator: a 128-bit counter and a 64-bit key give four 32-bit words. Element e of a
// launch uses word (e & 3) of the block (e >> 2); the launch's counter words 2 and 3
// and the key identify the draw (seed, stream and a per-backend launch counter).
#pragma once

#ifndef __CUDACC__
#define __host__
#define __device__
#define __forceinline__ inline
#endif

#if !defined(__CUDA_ARCH__)
#include <math.h>
#include <string.h>
#endif

#define PGB_HD __host__ __device__ __forceinline__

typedef unsigned int pgb_u32;
typedef unsigned long long pgb_u64;

PGB_HD float pgb_as_float(pgb_u32 bits) {
#ifdef __CUDA_ARCH__
    return __uint_as_float(bits);
#else
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
#endif
}

PGB_HD pgb_u32 pgb_as_uint(float f) {
#ifdef __CUDA_ARCH__
    return __float_as_uint(f);
#else
    pgb_u32 bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
#endif
}

#define PGB_INF pgb_as_float(0x7f800000u)

// ---- Philox4x32-10 ---------------------------------------------------------------
struct pgb_words {
    pgb_u32 w[4];
};

PGB_HD pgb_words pgb_philox(pgb_u32 c0, pgb_u32 c1, pgb_u32 c2, pgb_u32 c3, pgb_u32 k0, pgb_u32 k1) {
    for (int round = 0; round < 10; ++round) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        pgb_u64 p0 = (pgb_u64)0xD2511F53u * c0;
        pgb_u64 p1 = (pgb_u64)0xCD9E8D57u * c2;
        pgb_u32 hi0 = (pgb_u32)(p0 >> 32), lo0 = (pgb_u32)p0;
        pgb_u32 hi1 = (pgb_u32)(p1 >> 32), lo1 = (pgb_u32)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    pgb_words r = {{c0, c1, c2, c3}};
    return r;
}

// The four words of block ``block`` of a launch with counter words (c2, c3) and key (k0, k1).
PGB_HD pgb_words pgb_block(pgb_u64 block, pgb_u32 c2, pgb_u32 c3, pgb_u32 k0, pgb_u32 k1) {
    return pgb_philox((pgb_u32)block, (pgb_u32)(block >> 32), c2, c3, k0, k1);
}

// U[0, 1) on the 2^24 grid: exact in float32.
PGB_HD float pgb_uniform(pgb_u32 x) { return (float)(x >> 8) * 5.9604644775390625e-08f; }

// U(0, 1]: never 0, so its logarithm is finite (smallest value 2^-33).
PGB_HD float pgb_uniform_open(pgb_u32 x) { return ((float)x + 0.5f) * 2.3283064365386963e-10f; }

// ---- elementary functions from correctly rounded operations -----------------------
// exp(x): relative error below 2e-7 on [-86.9, 88.7); 0 below -86.9, +inf from 88.7, NaN stays NaN.
PGB_HD float pgb_exp(float x) {
    if (!(x < 88.7f)) return x != x ? x : PGB_INF;
    if (x < -86.9f) return 0.0f;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * z + r + 1.0f;
    // 2^n as 2 * 2^(n-1): n - 1 stays in the normal exponent range for every x above
    return (y * 2.0f) * pgb_as_float((pgb_u32)((int)n - 1 + 127) << 23);
}

// log(x) for positive normal x (the uniforms above): relative error below 2e-7.
PGB_HD float pgb_log(float x) {
    pgb_u32 bits = pgb_as_uint(x);
    float e = (float)((int)((bits >> 23) & 0xffu) - 126);
    float m = pgb_as_float((bits & 0x007fffffu) | 0x3f000000u);  // x = m 2^e, m in [0.5, 1)
    if (m < 0.70710678118654752f) {
        e = e - 1.0f;
        m = m + m - 1.0f;
    } else {
        m = m - 1.0f;
    }
    float z = m * m;
    float p = 7.0376836292e-2f;
    p = p * m - 1.1514610310e-1f;
    p = p * m + 1.1676998740e-1f;
    p = p * m - 1.2420140846e-1f;
    p = p * m + 1.4249322787e-1f;
    p = p * m - 1.6668057665e-1f;
    p = p * m + 2.0000714765e-1f;
    p = p * m - 2.4999993993e-1f;
    p = p * m + 3.3333331174e-1f;
    float y = p * m * z;
    y = y + e * -2.12194440e-4f;
    y = y - 0.5f * z;
    float r = m + y;
    return r + e * 0.693359375f;
}

// cos(2 pi t) and sin(2 pi t) for t in [0, 1): quadrant from 4t, polynomials on [-pi/4, pi/4].
PGB_HD void pgb_cossin_2pi(float t, float* c, float* s) {
    float y = t * 4.0f;
    float q = floorf(y + 0.5f);
    float phi = (y - q) * 1.57079632679489662f;
    float z = phi * phi;
    float sp = -1.9515295891e-4f;
    sp = sp * z + 8.3321608736e-3f;
    sp = sp * z - 1.6666654611e-1f;
    sp = sp * z * phi + phi;
    float cp = 2.443315711809948e-5f;
    cp = cp * z - 1.388731625493765e-3f;
    cp = cp * z + 4.166664568298827e-2f;
    cp = cp * z * z - 0.5f * z + 1.0f;
    switch (((int)q) & 3) {
        case 0: *c = cp; *s = sp; break;
        case 1: *c = -sp; *s = cp; break;
        case 2: *c = -cp; *s = -sp; break;
        default: *c = sp; *s = -cp; break;
    }
}

// Standard normal for element e of a launch (Box-Muller): words (0, 1) give elements 0, 1
// of the block, words (2, 3) elements 2, 3 (cosine for even, sine for odd elements).
PGB_HD float pgb_normal(pgb_words b, int lane) {
    int pair = lane >> 1;
    float u1 = pgb_uniform_open(b.w[2 * pair]);
    float u2 = pgb_uniform(b.w[2 * pair + 1]);
    float radius = sqrtf(-2.0f * pgb_log(u1));
    float c, s;
    pgb_cossin_2pi(u2, &c, &s);
    return radius * ((lane & 1) ? s : c);
}

// ---- unit updates -------------------------------------------------------------------
// Binary units {lo, hi}: hi with probability sigma(a), a = beta * gap * theta, decided as
// u * (1 + exp(-a)) < 1 -- exact at any field (a = +-inf included), no division.
PGB_HD bool pgb_binary_hi(float theta, float beta_gap, float u) {
    float e = pgb_exp(-(beta_gap * theta));
    return u * (1.0f + e) < 1.0f;
}

// Gaussian units: N(eta / lam, 1 / (beta lam)) from a standard normal z.
PGB_HD float pgb_gaussian(float eta, float lam, float beta, float z) {
    float mean = eta / lam;
    float scale = sqrtf(beta * lam);
    return mean + z / scale;
}

// A block of n detectors with logits z[0..n) (beta applied) plus an "off" state with
// logit 0: returns 0 for off, k + 1 for detector k on. Thresholds e0, e0 + e1, ... summed
// in order; the state is how many of the first n lie at or below u * total.
PGB_HD int pgb_categorical_off(const float* z, int n, float u) {
    float m = 0.0f;
    for (int k = 0; k < n; ++k) m = fmaxf(m, z[k]);
    float e0 = pgb_exp(-m);
    float total = e0;
    for (int k = 0; k < n; ++k) total = total + pgb_exp(z[k] - m);
    float target = u * total;
    float t = e0;
    int state = 0;
    for (int k = 0; k < n; ++k) {
        if (t <= target) state = k + 1;
        if (k + 1 < n) t = t + pgb_exp(z[k] - m);
    }
    return state;
}

// Field on site (r, c) of an H x W lattice (periodic indexing; open lattices have zero
// couplings on the missing bonds): right + left + down + up + bias, in that order. With
// `uniform`, Jr, Jd and h hold one value each (a ferromagnet in a uniform field): the same
// arithmetic as arrays filled with that value, without reading them per site.
PGB_HD float pgb_lattice_field(const signed char* x, const float* Jr, const float* Jd, const float* h, int H, int W,
                               int r, int c, int uniform) {
    pgb_u64 w = (pgb_u64)W, cl = c == 0 ? W - 1 : c - 1, cr = c == W - 1 ? 0 : c + 1;
    pgb_u64 row = (pgb_u64)r * w, up = (pgb_u64)(r == 0 ? H - 1 : r - 1) * w, down = (pgb_u64)(r == H - 1 ? 0 : r + 1) * w;
    pgb_u64 u = uniform ? 0 : 1;  // index multiplier: every read is element 0 when uniform
    float f = Jr[u * (row + c)] * (float)x[row + cr];
    f = f + Jr[u * (row + cl)] * (float)x[row + cl];
    f = f + Jd[u * (row + c)] * (float)x[down + c];
    f = f + Jd[u * (up + c)] * (float)x[up + c];
    return f + h[u * (row + c)];
}

// ---- elements of a launch -------------------------------------------------------------
// A launch covers `count` elements; element e takes word (e & 3) of Philox block e >> 2 of
// the launch (counter words c2, c3, key k0, k1). The kernels give each thread one block.
struct pgb_launch {
    pgb_u32 k0, k1, c2, c3;
};

PGB_HD pgb_words pgb_launch_block(pgb_launch L, pgb_u64 block) { return pgb_block(block, L.c2, L.c3, L.k0, L.k1); }

// Binary update of a (rows, n) array: theta = field[e] + bias[e % n] (bias may be null);
// beta per row (beta_rows, may be null) or beta_scalar.
PGB_HD float pgb_binary_element(pgb_u64 e, pgb_u32 word, const float* field, const float* bias,
                                const float* beta_rows, float beta_scalar, float gap, float lo, float hi, int n) {
    pgb_u64 row = e / (pgb_u64)n;
    float theta = field[e];
    if (bias) theta = theta + bias[e - row * n];
    float beta = beta_rows ? beta_rows[row] : beta_scalar;
    return pgb_binary_hi(theta, beta * gap, pgb_uniform(word)) ? hi : lo;
}

PGB_HD float pgb_gaussian_element(pgb_u64 e, pgb_words b, const float* eta, const float* lam,
                                  const float* beta_rows, float beta_scalar, int n) {
    float beta = beta_rows ? beta_rows[e / (pgb_u64)n] : beta_scalar;
    return pgb_gaussian(eta[e], lam[e], beta, pgb_normal(b, (int)(e & 3)));
}

#define PGB_MAX_POOL 64

// Max-pooling block e (chain-major, then map k, block row, block column): detectors
// (K, H, W) and pooling units (K, H / C1, W / C2) per chain, C1 * C2 <= PGB_MAX_POOL.
PGB_HD void pgb_pool_element(pgb_u64 e, pgb_u32 word, const float* det, const float* pool,
                             const float* beta_rows, float beta_scalar, float* det_out, float* pool_out, int K, int H,
                             int W, int C1, int C2) {
    int Hb = H / C1, Wb = W / C2, P = K * Hb * Wb;
    pgb_u64 D = (pgb_u64)K * H * W;
    pgb_u64 row = e / (pgb_u64)P;
    int j = (int)(e - row * P);
    int k = j / (Hb * Wb), rem = j - k * Hb * Wb, bi = rem / Wb, bj = rem - bi * Wb;
    float beta = beta_rows ? beta_rows[row] : beta_scalar;
    float J = pool[e];
    pgb_u64 first = row * D + (pgb_u64)k * H * W + (pgb_u64)(bi * C1) * W + (pgb_u64)(bj * C2);
    float z[PGB_MAX_POOL];
    for (int a = 0; a < C1; ++a)
        for (int c = 0; c < C2; ++c) z[a * C2 + c] = beta * (det[first + a * W + c] + J);
    int state = pgb_categorical_off(z, C1 * C2, pgb_uniform(word));
    for (int a = 0; a < C1; ++a)
        for (int c = 0; c < C2; ++c) det_out[first + a * W + c] = (state == a * C2 + c + 1) ? 1.0f : 0.0f;
    pool_out[e] = state > 0 ? 1.0f : 0.0f;
}

// Site e of one colour of a checkerboard half-sweep over (chains, H, W) int8 states
// (H and W even): e runs over chain, row, then the W / 2 sites of that colour in the row.
// Returns the flat index of the site and writes its new value into *value.
PGB_HD pgb_u64 pgb_checkerboard_site(pgb_u64 e, pgb_u32 word, const signed char* x, const float* Jr,
                                     const float* Jd, const float* h, int H, int W, int colour, float beta_gap,
                                     signed char lo, signed char hi, int uniform, signed char* value) {
    int half_w = W / 2;
    pgb_u64 half = (pgb_u64)H * half_w;
    pgb_u64 chain = e / half;
    int rem = (int)(e - chain * half);
    int r = rem / half_w;
    int c = 2 * (rem - r * half_w) + ((r + colour) & 1);
    float theta = pgb_lattice_field(x + chain * H * W, Jr, Jd, h, H, W, r, c, uniform);
    *value = pgb_binary_hi(theta, beta_gap, pgb_uniform(word)) ? hi : lo;
    return chain * H * W + (pgb_u64)r * W + c;
}

// ---- one Philox block of a launch (four elements): the body of every kernel -------------
PGB_HD void pgb_binary_block(pgb_u64 blk, pgb_launch L, const float* field, const float* bias,
                             const float* beta_rows, float beta_scalar, float gap, float lo, float hi, float* out,
                             pgb_u64 count, int n) {
    pgb_words w = pgb_launch_block(L, blk);
    for (int lane = 0; lane < 4; ++lane) {
        pgb_u64 e = 4 * blk + lane;
        if (e < count) out[e] = pgb_binary_element(e, w.w[lane], field, bias, beta_rows, beta_scalar, gap, lo, hi, n);
    }
}

PGB_HD void pgb_gaussian_block(pgb_u64 blk, pgb_launch L, const float* eta, const float* lam,
                               const float* beta_rows, float beta_scalar, float* out, pgb_u64 count, int n) {
    pgb_words w = pgb_launch_block(L, blk);
    for (int lane = 0; lane < 4; ++lane) {
        pgb_u64 e = 4 * blk + lane;
        if (e < count) out[e] = pgb_gaussian_element(e, w, eta, lam, beta_rows, beta_scalar, n);
    }
}

PGB_HD void pgb_pool_block(pgb_u64 blk, pgb_launch L, const float* det, const float* pool, const float* beta_rows,
                           float beta_scalar, float* det_out, float* pool_out, pgb_u64 count, int K, int H, int W,
                           int C1, int C2) {
    pgb_words w = pgb_launch_block(L, blk);
    for (int lane = 0; lane < 4; ++lane) {
        pgb_u64 e = 4 * blk + lane;
        if (e < count) pgb_pool_element(e, w.w[lane], det, pool, beta_rows, beta_scalar, det_out, pool_out, K, H, W, C1, C2);
    }
}

PGB_HD void pgb_checkerboard_block(pgb_u64 blk, pgb_launch L, signed char* x, const float* Jr, const float* Jd,
                                   const float* h, pgb_u64 count, int H, int W, int colour, float beta_gap,
                                   signed char lo, signed char hi, int uniform) {
    pgb_words w = pgb_launch_block(L, blk);
    for (int lane = 0; lane < 4; ++lane) {
        pgb_u64 e = 4 * blk + lane;
        if (e < count) {
            signed char v;
            pgb_u64 site = pgb_checkerboard_site(e, w.w[lane], x, Jr, Jd, h, H, W, colour, beta_gap, lo, hi, uniform, &v);
            x[site] = v;
        }
    }
}
