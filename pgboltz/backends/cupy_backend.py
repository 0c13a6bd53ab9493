"""CuPy backend: the same array code as NumPy, run on a CUDA device.

The only module in pgboltz that imports CuPy. Importing pgboltz never needs it:
``get_backend('cupy')`` imports it on demand and says clearly what is missing.
All chains form one row chunk drawn from one device generator (cuRAND XORWOW
through ``cupy.random.Generator``); the GPU parallelises inside each kernel.
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

    def __init__(self, seed=0, dtype="float32", device: int | None = None, module=None):
        cupy = import_cupy() if module is None else module
        self.xp = cupy
        if device is not None:
            cupy.cuda.Device(int(device)).use()
        super().__init__(seed=seed, dtype=dtype, streams=1)

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
