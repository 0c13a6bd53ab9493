"""Fused sampling kernels: CUDA C++ sources shipped with pgboltz, launched through CuPy.

After the matrix product that fills a group's field (cuBLAS through CuPy), one kernel
adds the bias, applies beta and the unit type's nonlinearity, draws its randomness
from an in-kernel Philox4x32-10 generator and writes the new states -- no uniform
buffer is written to memory and no host synchronisation happens. Kernels:

* ``pgb_binary_update`` -- Bernoulli and spin units (any {lo, hi});
* ``pgb_gaussian_update`` -- Gaussian units with a diagonal precision;
* ``pgb_pool_update`` -- probabilistic max pooling (a categorical with an off state);
* ``pgb_checkerboard_update`` -- one colour of a 2-D lattice on int8 states
  (:class:`pgboltz.sampling.CheckerboardSampler`).

A launch is identified by a key (from the seed and stream) and a 64-bit launch counter,
so the same seed gives the same random numbers on every run and every GPU (the states are
equal too wherever the matrix products round alike, e.g. the same GPU and cuBLAS). The per-element
logic lives in ``kernels/pgboltz_elements.cuh`` as ``__host__ __device__`` functions;
:mod:`pgboltz.backends.reference` repeats it in NumPy bit for bit, which is how the
kernels are verified on machines without a GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

KERNEL_DIR = Path(__file__).resolve().parent / "kernels"
SOURCE = KERNEL_DIR / "updates.cu"
HEADER = KERNEL_DIR / "pgboltz_elements.cuh"
#: no FMA contraction, IEEE division and square root, no flushing of denormals: the kernels must round
#: exactly like the host build and the NumPy reference
NVRTC_OPTIONS = ("--fmad=false", "--prec-div=true", "--prec-sqrt=true", "--ftz=false", "--std=c++14")


def kernel_source() -> str:
    """updates.cu with its header inlined, so that the compiled-module cache sees every line of both."""
    return SOURCE.read_text().replace('#include "pgboltz_elements.cuh"', HEADER.read_text())
THREADS = 256
NULL = np.uint64(0)  # a null pointer argument


def launch_key(seed, stream: int) -> tuple[int, int]:
    """Philox key (two uint32 words) of random stream ``stream`` of ``seed`` (an int or a list of ints)."""
    entropy = [int(v) for v in np.atleast_1d(seed).tolist()]
    words = np.random.SeedSequence([*entropy, int(stream), 0x70676278]).generate_state(2, np.uint32)
    return int(words[0]), int(words[1])


class Launches:
    """Key and launch counter of one random stream: each launch draws a fresh counter block."""

    def __init__(self, seed, stream: int = 0):
        self.key = launch_key(seed, stream)
        self.count = 0

    def next(self) -> tuple[int, int]:
        """Counter words (c2, c3) for the next launch."""
        c = self.count
        self.count += 1
        return c & 0xFFFFFFFF, c >> 32

    def take(self, n: int) -> np.ndarray:
        """Counter words of the next ``n`` launches, ``(n, 2)`` uint32: row i is what the i-th :meth:`next`
        would give."""
        if int(n) < 0:
            raise ValueError(f"take: n must be >= 0, got {n}")
        c = np.arange(self.count, self.count + int(n), dtype=np.uint64)
        self.count += int(n)
        return np.stack([c & np.uint64(0xFFFFFFFF), c >> np.uint64(32)], axis=1).astype(np.uint32)


class FusedKernels:
    """The compiled module on one device, with launch helpers (float32 arrays only)."""

    def __init__(self, cupy, launches: Launches):
        self.cp = cupy
        self.launches = launches
        self.module = cupy.RawModule(code=kernel_source(), options=NVRTC_OPTIONS)
        self._functions = {}
        try:
            self.max_blocks = 32 * cupy.cuda.Device().attributes["MultiProcessorCount"]
        except Exception:  # the NumPy stand-in
            self.max_blocks = 4096

    def _function(self, name):
        if name not in self._functions:
            self._functions[name] = self.module.get_function(name)
        return self._functions[name]

    def _launch(self, name, count, args):
        blocks = (int(count) + 3) // 4
        grid = max(1, min(self.max_blocks, (blocks + THREADS - 1) // THREADS))
        k0, k1 = self.launches.key
        c2, c3 = self.launches.next()
        self._function(name)((grid,), (THREADS,), (*args, np.uint32(k0), np.uint32(k1), np.uint32(c2), np.uint32(c3)))

    @staticmethod
    def _beta(beta):
        """(pointer-or-NULL, scalar) for a scalar beta or a per-row column."""
        if np.ndim(beta) == 0:
            return NULL, np.float32(beta)
        return beta, np.float32(1.0)

    def binary(self, stream, field, bias, beta, gap, lo, hi, out, index=None):
        """``stream`` is ignored (one launch stream on a GPU); ``index`` is not supported (None)."""
        if index is not None:
            raise ValueError("the GPU binary kernel writes contiguous columns; index must be None")
        rows, n = field.shape
        beta_rows, beta_scalar = self._beta(beta)
        self._launch("pgb_binary_update", field.size,
                     (field, NULL if bias is None else bias, beta_rows, beta_scalar, np.float32(gap), np.float32(lo),
                      np.float32(hi), out, np.uint64(field.size), np.int32(n)))

    def gaussian(self, stream, eta, lam, beta, out):
        rows, n = eta.shape
        beta_rows, beta_scalar = self._beta(beta)
        self._launch("pgb_gaussian_update", eta.size,
                     (eta, lam, beta_rows, beta_scalar, out, np.uint64(eta.size), np.int32(n)))

    def pool(self, stream, det, pool, beta, det_out, pool_out, shape, size):
        K, H, W = shape
        C1, C2 = size
        beta_rows, beta_scalar = self._beta(beta)
        self._launch("pgb_pool_update", pool.size,
                     (det, pool, beta_rows, beta_scalar, det_out, pool_out, np.uint64(pool.size), np.int32(K),
                      np.int32(H), np.int32(W), np.int32(C1), np.int32(C2)))

    def checkerboard(self, x, J_right, J_down, h, colour, beta_gap, lo, hi, uniform=False):
        """One colour of a half-sweep; ``uniform``: J_right, J_down and h hold one value each."""
        chains, H, W = x.shape
        count = chains * H * (W // 2)
        self._launch("pgb_checkerboard_update", count,
                     (x, J_right, J_down, h, np.uint64(count), np.int32(H), np.int32(W), np.int32(colour),
                      np.float32(beta_gap), np.int8(lo), np.int8(hi), np.int32(bool(uniform))))
