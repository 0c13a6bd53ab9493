"""Array backends (NumPy on the CPU, CuPy on CUDA GPUs) behind one interface.

>>> from pgboltz.backends import get_backend
>>> be = get_backend("numpy", seed=0, dtype="float64")
"""

from __future__ import annotations

from .base import Backend, resolve_dtype, row_chunks
from .numpy_backend import NumpyBackend

BACKENDS = ("numpy", "cupy")


def get_backend(name="numpy", seed: int = 0, dtype="float32", **options) -> Backend:
    """Create a backend by name; a Backend instance is passed through unchanged."""
    if isinstance(name, Backend):
        return name
    if name == "numpy":
        return NumpyBackend(seed=seed, dtype=dtype, **options)
    if name == "cupy":
        from .cupy_backend import CupyBackend  # imports CuPy only now

        return CupyBackend(seed=seed, dtype=dtype, **options)
    raise ValueError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")


def cupy_available() -> bool:
    """True if the CuPy backend can run here (CuPy importable and a CUDA device visible)."""
    try:
        from .cupy_backend import import_cupy

        import_cupy()
        return True
    except Exception:
        return False


__all__ = ["Backend", "NumpyBackend", "get_backend", "cupy_available", "resolve_dtype", "row_chunks", "BACKENDS"]
