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


def _check_array(a, dtype):
    assert isinstance(a, ndarray) and a.flags.c_contiguous and a.dtype == dtype, (type(a), getattr(a, "dtype", None))
    return a.view(np.ndarray)


def _pointer(a, dtype):
    """A nullable pointer argument: NULL is passed as np.uint64(0)."""
    if isinstance(a, np.uint64):
        assert a == 0
        return None
    return _check_array(a, dtype)


class _Kernel:
    """A launch of one of pgboltz's fused kernels, run by the NumPy reference (bit for bit the same
    per-element logic), with the argument types a real launch needs checked first."""

    def __init__(self, name):
        self.name = name

    def __call__(self, grid, block, args):
        from pgboltz.backends import reference as ref

        *args, k0, k1, c2, c3 = args
        assert all(isinstance(v, np.uint32) for v in (k0, k1, c2, c3))
        key, counter = (int(k0), int(k1)), (int(c2), int(c3))
        f32 = np.float32
        if self.name == "pgb_binary_update":
            field, bias, beta_rows, beta, gap, lo, hi, out, count, n = args
            assert isinstance(count, np.uint64) and isinstance(n, np.int32)
            assert all(isinstance(v, np.float32) for v in (beta, gap, lo, hi))
            rows = int(count) // int(n)
            _check_array(out, f32).reshape(rows, int(n))[...] = ref.binary_update(
                _check_array(field, f32).reshape(rows, int(n)), _pointer(bias, f32), _pointer(beta_rows, f32), beta,
                gap, lo, hi, key, counter)
        elif self.name == "pgb_gaussian_update":
            eta, lam, beta_rows, beta, out, count, n = args
            rows = int(count) // int(n)
            _check_array(out, f32).reshape(rows, int(n))[...] = ref.gaussian_update(
                _check_array(eta, f32).reshape(rows, int(n)), _check_array(lam, f32).reshape(rows, int(n)),
                _pointer(beta_rows, f32), beta, key, counter)
        elif self.name == "pgb_pool_update":
            det, pool, beta_rows, beta, det_out, pool_out, count, K, H, W, C1, C2 = args
            K, H, W, C1, C2 = (int(v) for v in (K, H, W, C1, C2))
            rows = int(count) // (K * (H // C1) * (W // C2))
            d, p = ref.pool_update(_check_array(det, f32).reshape(rows, -1), _check_array(pool, f32).reshape(rows, -1),
                                   _pointer(beta_rows, f32), beta, (K, H, W), (C1, C2), key, counter)
            _check_array(det_out, f32).reshape(rows, -1)[...] = d
            _check_array(pool_out, f32).reshape(rows, -1)[...] = p
        elif self.name == "pgb_checkerboard_update":
            x, Jr, Jd, h, count, H, W, colour, beta_gap, lo, hi, uniform = args
            assert isinstance(lo, np.int8) and isinstance(hi, np.int8) and isinstance(beta_gap, np.float32)
            assert isinstance(uniform, np.int32)
            H, W = int(H), int(W)
            xs = _check_array(x, np.int8).reshape(-1, H, W)
            assert int(count) == xs.shape[0] * H * (W // 2)
            params = [_check_array(a, f32) for a in (Jr, Jd, h)]
            params = [np.full((H, W), a[0]) if uniform else a.reshape(H, W) for a in params]
            xs[...] = ref.checkerboard_update(xs, *params, int(colour), beta_gap, lo, hi, key, counter)
        else:  # pragma: no cover
            raise AssertionError(f"unknown kernel {self.name}")


class RawModule:
    def __init__(self, code=None, path=None, options=(), name_expressions=None):
        assert "--fmad=false" in options and '#include "pgboltz_elements.cuh"' not in code  # header inlined
        self.code = code

    def get_function(self, name):
        assert f"void {name}(" in self.code, name
        return _Kernel(name)


def _csr_matrix(arg, shape):  # cupyx.scipy.sparse.csr_matrix((data, indices, indptr), shape=...)
    import scipy.sparse

    data, indices, indptr = arg
    assert indices.dtype == np.int32 and indptr.dtype == np.int32 and isinstance(data, ndarray)

    class _Csr:
        def __init__(self):
            self.m = scipy.sparse.csr_matrix((np.asarray(data), np.asarray(indices), np.asarray(indptr)), shape=shape)

        def __matmul__(self, x):
            assert isinstance(x, ndarray) and x.ndim == 2
            return _wrap(np.asarray(self.m @ np.asarray(x)))

    return _Csr()


def make():
    m = types.SimpleNamespace()
    for name in ("matmul", "multiply", "exp", "greater", "tanh", "maximum", "log1p", "abs", "roll", "zeros", "float64",
                 "intp", "full", "diag", "ascontiguousarray", "concatenate", "sqrt", "divide", "isfinite",
                 "cumsum", "arange", "where", "zeros_like", "swapaxes", "diagonal", "log", "linalg"):
        setattr(m, name, getattr(np, name))
    m.int8, m.float32 = np.int8, np.float32
    m.lib = np.lib
    m.ndarray = ndarray
    m.take = _take
    m.asarray = lambda x, dtype=None: _wrap(np.array(x, dtype=dtype, copy=True))
    m.empty = lambda shape, dtype=np.float64: _wrap(np.empty(shape, dtype))
    m.zeros = lambda shape, dtype=np.float64: _wrap(np.zeros(shape, dtype))
    m.empty_like = lambda a: _wrap(np.empty_like(a))
    m.asnumpy = lambda x: np.asarray(x).view(np.ndarray).copy()
    m.random = types.SimpleNamespace(default_rng=_Generator)
    stream = types.SimpleNamespace(synchronize=lambda: None)
    m.RawModule = RawModule
    m.sparse = types.SimpleNamespace(csr_matrix=_csr_matrix)
    m.cuda = types.SimpleNamespace(get_current_stream=lambda: stream,
                                   runtime=types.SimpleNamespace(getDeviceCount=lambda: 1,
                                                                 memGetInfo=lambda: (8 << 30, 16 << 30)),
                                   Device=lambda i=0: types.SimpleNamespace(
                                       use=lambda: None, attributes={"MultiProcessorCount": 4}))
    return m
