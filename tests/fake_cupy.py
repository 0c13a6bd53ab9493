"""A NumPy-backed stand-in for the part of CuPy's API that pgboltz's CuPy backend uses.

Only what CuPy really offers is provided, with CuPy's signatures -- e.g. ``take``
without NumPy's ``mode`` argument and ``Generator.random(size, dtype, out)`` -- so
that running the sampler on it checks our CuPy code path for API misuse on machines
without a GPU. It says nothing about speed or device memory.
"""

import types

import numpy as np


class ndarray(np.ndarray):
    pass


def _wrap(x):
    return np.asarray(x).view(ndarray) if isinstance(x, np.ndarray) else x


class _Generator:
    def __init__(self, seed):
        self._g = np.random.default_rng(seed)

    def standard_normal(self, size=None, dtype=np.float64, out=None):  # CuPy's signature
        if out is None:
            return _wrap(self._g.standard_normal(size, dtype=dtype))
        assert out.flags.c_contiguous and tuple(size) == out.shape and np.dtype(dtype) == out.dtype
        self._g.standard_normal(out=out.view(np.ndarray), dtype=out.dtype.type)
        return out

    def random(self, size=None, dtype=np.float64, out=None):  # CuPy's signature
        if out is None:
            return _wrap(self._g.random(size, dtype=dtype))
        assert out.flags.c_contiguous and tuple(size) == out.shape and np.dtype(dtype) == out.dtype
        self._g.random(out=out.view(np.ndarray), dtype=out.dtype.type)
        return out


def _take(a, indices, axis=None, out=None):  # CuPy's take has no `mode`
    return np.take(a, indices, axis=axis, out=out)


def make():
    m = types.SimpleNamespace()
    for name in ("matmul", "multiply", "exp", "greater", "tanh", "maximum", "log1p", "abs", "roll", "zeros", "float64",
                 "intp", "full", "diag", "ascontiguousarray", "concatenate", "sqrt", "divide", "isfinite",
                 "cumsum", "arange", "where", "zeros_like", "swapaxes", "diagonal", "log", "linalg"):
        setattr(m, name, getattr(np, name))
    m.ndarray = ndarray
    m.take = _take
    m.asarray = lambda x, dtype=None: _wrap(np.array(x, dtype=dtype, copy=True))
    m.empty = lambda shape, dtype=np.float64: _wrap(np.empty(shape, dtype))
    m.zeros = lambda shape, dtype=np.float64: _wrap(np.zeros(shape, dtype))
    m.empty_like = lambda a: _wrap(np.empty_like(a))
    m.asnumpy = lambda x: np.asarray(x).view(np.ndarray).copy()
    m.random = types.SimpleNamespace(default_rng=_Generator)
    stream = types.SimpleNamespace(synchronize=lambda: None)
    m.cuda = types.SimpleNamespace(get_current_stream=lambda: stream,
                                   runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
                                   Device=lambda i: types.SimpleNamespace(use=lambda: None))
    return m
