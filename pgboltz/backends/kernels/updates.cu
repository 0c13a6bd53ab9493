// pgboltz's fused sampling kernels (loaded with cupy.RawModule, compiled with --fmad=false).
// After the GEMM that fills a group's field, one launch adds the bias, applies beta and the
// unit type's nonlinearity, draws its own randomness (Philox4x32-10) and writes the new
// states: no uniform buffer is written. Each thread runs Philox blocks (four elements each)
// in a grid-stride loop; the per-element logic is in pgboltz_elements.cuh.
#include "pgboltz_elements.cuh"

#define PGB_GRID_LOOP(count)                                                                 \
    for (pgb_u64 blk = blockIdx.x * (pgb_u64)blockDim.x + threadIdx.x; 4 * blk < (count); \
         blk += (pgb_u64)gridDim.x * blockDim.x)

extern "C" __global__ void pgb_binary_update(const float* __restrict__ field, const float* __restrict__ bias,
                                             const float* __restrict__ beta_rows, float beta_scalar, float gap,
                                             float lo, float hi, float* __restrict__ out, pgb_u64 count, int n,
                                             pgb_u32 k0, pgb_u32 k1, pgb_u32 c2, pgb_u32 c3) {
    pgb_launch L = {k0, k1, c2, c3};
    PGB_GRID_LOOP(count) pgb_binary_block(blk, L, field, bias, beta_rows, beta_scalar, gap, lo, hi, out, count, n);
}

extern "C" __global__ void pgb_gaussian_update(const float* __restrict__ eta, const float* __restrict__ lam,
                                               const float* __restrict__ beta_rows, float beta_scalar,
                                               float* __restrict__ out, pgb_u64 count, int n, pgb_u32 k0, pgb_u32 k1,
                                               pgb_u32 c2, pgb_u32 c3) {
    pgb_launch L = {k0, k1, c2, c3};
    PGB_GRID_LOOP(count) pgb_gaussian_block(blk, L, eta, lam, beta_rows, beta_scalar, out, count, n);
}

extern "C" __global__ void pgb_pool_update(const float* __restrict__ det, const float* __restrict__ pool,
                                           const float* __restrict__ beta_rows, float beta_scalar,
                                           float* __restrict__ det_out, float* __restrict__ pool_out, pgb_u64 count,
                                           int K, int H, int W, int C1, int C2, pgb_u32 k0, pgb_u32 k1, pgb_u32 c2,
                                           pgb_u32 c3) {
    pgb_launch L = {k0, k1, c2, c3};
    PGB_GRID_LOOP(count) pgb_pool_block(blk, L, det, pool, beta_rows, beta_scalar, det_out, pool_out, count, K, H, W, C1, C2);
}

// One colour of a checkerboard half-sweep, in place on int8 states (chains, H, W).
extern "C" __global__ void pgb_checkerboard_update(signed char* x, const float* __restrict__ Jr,
                                                   const float* __restrict__ Jd, const float* __restrict__ h,
                                                   pgb_u64 count, int H, int W, int colour, float beta_gap,
                                                   signed char lo, signed char hi, int uniform, pgb_u32 k0,
                                                   pgb_u32 k1, pgb_u32 c2, pgb_u32 c3) {
    pgb_launch L = {k0, k1, c2, c3};
    PGB_GRID_LOOP(count) pgb_checkerboard_block(blk, L, x, Jr, Jd, h, count, H, W, colour, beta_gap, lo, hi, uniform);
}
