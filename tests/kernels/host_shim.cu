// Host entry points to the fused kernels' per-element logic, for the bit-for-bit tests.
// Compiled by nvcc into a shared library and called through ctypes; each *_update loops
// over the Philox blocks of a launch exactly as the kernels' grid-stride loops do.
#include "pgboltz_elements.cuh"

extern "C" {

void host_philox(const pgb_u32* ctr, const pgb_u32* key, pgb_u32* out, long n) {
    for (long i = 0; i < n; ++i) {
        pgb_words w = pgb_philox(ctr[4 * i], ctr[4 * i + 1], ctr[4 * i + 2], ctr[4 * i + 3], key[2 * i], key[2 * i + 1]);
        for (int j = 0; j < 4; ++j) out[4 * i + j] = w.w[j];
    }
}

void host_uniform(const pgb_u32* x, float* u, float* u_open, long n) {
    for (long i = 0; i < n; ++i) {
        u[i] = pgb_uniform(x[i]);
        u_open[i] = pgb_uniform_open(x[i]);
    }
}

void host_exp(const float* x, float* y, long n) {
    for (long i = 0; i < n; ++i) y[i] = pgb_exp(x[i]);
}

void host_log(const float* x, float* y, long n) {
    for (long i = 0; i < n; ++i) y[i] = pgb_log(x[i]);
}

void host_cossin(const float* t, float* c, float* s, long n) {
    for (long i = 0; i < n; ++i) pgb_cossin_2pi(t[i], &c[i], &s[i]);
}

void host_categorical_off(const float* z, int n, const float* u, int* state, long m) {
    for (long i = 0; i < m; ++i) state[i] = pgb_categorical_off(z + i * n, n, u[i]);
}

void host_binary_update(const float* field, const float* bias, const float* beta_rows, float beta_scalar, float gap,
                        float lo, float hi, float* out, pgb_u64 count, int n, pgb_u32 k0, pgb_u32 k1, pgb_u32 c2,
                        pgb_u32 c3) {
    pgb_launch L = {k0, k1, c2, c3};
    for (pgb_u64 blk = 0; 4 * blk < count; ++blk)
        pgb_binary_block(blk, L, field, bias, beta_rows, beta_scalar, gap, lo, hi, out, count, n);
}

void host_gaussian_update(const float* eta, const float* lam, const float* beta_rows, float beta_scalar, float* out,
                          pgb_u64 count, int n, pgb_u32 k0, pgb_u32 k1, pgb_u32 c2, pgb_u32 c3) {
    pgb_launch L = {k0, k1, c2, c3};
    for (pgb_u64 blk = 0; 4 * blk < count; ++blk) pgb_gaussian_block(blk, L, eta, lam, beta_rows, beta_scalar, out, count, n);
}

void host_pool_update(const float* det, const float* pool, const float* beta_rows, float beta_scalar, float* det_out,
                      float* pool_out, pgb_u64 count, int K, int H, int W, int C1, int C2, pgb_u32 k0, pgb_u32 k1,
                      pgb_u32 c2, pgb_u32 c3) {
    pgb_launch L = {k0, k1, c2, c3};
    for (pgb_u64 blk = 0; 4 * blk < count; ++blk)
        pgb_pool_block(blk, L, det, pool, beta_rows, beta_scalar, det_out, pool_out, count, K, H, W, C1, C2);
}

void host_checkerboard_update(signed char* x, const float* Jr, const float* Jd, const float* h, pgb_u64 count, int H,
                              int W, int colour, float beta_gap, signed char lo, signed char hi, int uniform,
                              pgb_u32 k0, pgb_u32 k1, pgb_u32 c2, pgb_u32 c3) {
    pgb_launch L = {k0, k1, c2, c3};
    for (pgb_u64 blk = 0; 4 * blk < count; ++blk)
        pgb_checkerboard_block(blk, L, x, Jr, Jd, h, count, H, W, colour, beta_gap, lo, hi, uniform);
}
}
