"""CuPy backend: the same array code as NumPy, run on a CUDA device.

The only module in pgboltz that imports CuPy. Importing pgboltz never needs it:
``get_backend('cupy')`` imports it on demand and says clearly what is missing.
All chains form one row chunk; the GPU parallelises inside each kernel.

In float32, binary, Gaussian (diagonal precision) and max-pooling updates run as **fused kernels** (:mod:`pgboltz.backends.fused`): one
launch per update after the matrix products, drawing Philox4x32-10 randomness inside
the kernel, with the bias of the updated group folded in. ``fused=False`` (and float64)
runs the array code instead: a noise buffer from ``cupy.random.Generator`` and the unit
type's ``sample_``, the reference the kernels are tested against.

``precision='tf32'`` lets cuBLAS run float32 products on TF32 tensor cores during sweeps
(10-bit mantissas in the products' inputs); its effect on sampled distributions is measured
by ``benchmarks/gpu_sampling.py --precision``.
"""

from __future__ import annotations

import numpy as np

from ..errors import BackendUnavailable
from .base import Backend


def import_cupy():
    """Import CuPy and check that a CUDA device is visible; clear errors otherwise."""
    try:
        import cupy
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise BackendUnavailable(
            "the 'cupy' backend needs CuPy: install it with `pip install 'pgboltz[gpu]'` "
            "(or the cupy-cudaXXx wheel matching your CUDA), or use --backend numpy"
        ) from exc
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing, etc.
        raise BackendUnavailable(f"CuPy is installed but CUDA is not usable here ({exc}); use --backend numpy") from exc
    if n < 1:
        raise BackendUnavailable("CuPy is installed but no CUDA device is visible; use --backend numpy")
    return cupy


class CupyBackend(Backend):
    """``module`` replaces the imported CuPy (the tests pass a NumPy-backed stand-in
    with exactly the CuPy calls used here, to exercise this code without a GPU)."""

    name = "cupy"
    max_pool_block = 64  # PGB_MAX_POOL of the CUDA kernel

    PRECISIONS = ("float32", "tf32")

    def __init__(self, seed=0, dtype="float32", device: int | None = None, module=None, fused: bool = True,
                 precision: str = "float32"):
        cupy = import_cupy() if module is None else module
        self.xp = cupy
        if device is not None:
            cupy.cuda.Device(int(device)).use()
        if precision not in self.PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(self.PRECISIONS)}, got {precision!r}")
        self.precision = precision
        super().__init__(seed=seed, dtype=dtype, streams=1)
        self.fused = bool(fused) and self.dtype == np.float32 and hasattr(cupy, "RawModule")
        if module is None:
            import cupyx.scipy.sparse as sparse
        else:
            sparse = getattr(module, "sparse", None)
        self._sparse = sparse
        self.has_sparse = sparse is not None
        if precision == "tf32" and self.dtype != np.float32:
            raise ValueError("precision='tf32' applies to float32 products; use dtype='float32'")

    def reseed(self, entropy):
        super().reseed(entropy)
        self._entropy = entropy
        if getattr(self, "_kernels", None) is not None:  # compiled updates hold this object: new key, same module
            from .fused import Launches

            self._kernels.launches = Launches(entropy, 0)
        else:
            self._kernels = None

    def kernels(self):
        """The fused kernels (compiled on first use; CuPy caches the compiled module on disk)."""
        if self._kernels is None:
            from .fused import FusedKernels, Launches

            self._kernels = FusedKernels(self.xp, Launches(self._entropy, 0))
        return self._kernels

    def csr(self, data, indices, indptr, shape):
        return self._sparse.csr_matrix((data, indices, indptr), shape=shape)

    def hot_loop(self, pooled: bool = True):
        if self.precision == "float32":
            return super().hot_loop(pooled)
        import contextlib

        stack = contextlib.ExitStack()
        stack.enter_context(super().hot_loop(pooled))
        stack.enter_context(_tf32(self.xp))
        return stack

    def available_memory(self):
        free, _ = self.xp.cuda.runtime.memGetInfo()
        return int(free)

    def _make_generator(self, seed_seq):
        return self.xp.random.default_rng(seed_seq)

    def uniform_(self, stream, out):
        self.streams[stream].random(size=out.shape, dtype=out.dtype, out=out)

    def normal_(self, stream, out):
        self.streams[stream].standard_normal(size=out.shape, dtype=out.dtype, out=out)

    def asarray(self, x, dtype=None):
        if isinstance(x, self.xp.ndarray):
            return x.astype(self.dtype if dtype is None else dtype, copy=False)
        return super().asarray(x, dtype)

    def to_numpy(self, x):
        return self.xp.asnumpy(x) if isinstance(x, self.xp.ndarray) else np.asarray(x)

    def synchronize(self):
        self.xp.cuda.get_current_stream().synchronize()

    def errstate(self):
        # CuPy kernels never raise floating-point warnings; keep NumPy quiet for host-side math.
        return np.errstate(over="ignore", invalid="ignore")


class _tf32:
    """Context: cuBLAS float32 products on TF32 tensor cores (CuPy's compute-type switch), restored after."""

    def __init__(self, cupy):
        try:
            from cupy._core import _routines_linalg as linalg
        except ImportError as exc:  # pragma: no cover - depends on the CuPy version
            raise BackendUnavailable("this CuPy has no compute-type switch; use precision='float32'") from exc
        self.linalg = linalg

    def __enter__(self):
        self.old = self.linalg.get_compute_type(np.float32)
        self.linalg.set_compute_type(np.float32, self.linalg.COMPUTE_TYPE_TF32)

    def __exit__(self, *exc):
        self.linalg.set_compute_type(np.float32, self.old)
