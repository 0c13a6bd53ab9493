"""The fused kernels' per-element logic compiled for the host (nvcc -> shared library -> ctypes)."""

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from pgboltz.backends.fused import KERNEL_DIR

SHIM = Path(__file__).resolve().parent / "kernels" / "host_shim.cu"
NVCC = shutil.which("nvcc")

f32p = np.ctypeslib.ndpointer(np.float32, flags="C")
u32p = np.ctypeslib.ndpointer(np.uint32, flags="C")
i32p = np.ctypeslib.ndpointer(np.int32, flags="C")
i8p = np.ctypeslib.ndpointer(np.int8, flags="C")
vp = ctypes.c_void_p
u32, u64, i32, f32, i8, lng = (ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int, ctypes.c_float, ctypes.c_int8,
                               ctypes.c_long)
LAUNCH = [u32, u32, u32, u32]
SIGNATURES = {
    "host_philox": [u32p, u32p, u32p, lng],
    "host_uniform": [u32p, f32p, f32p, lng],
    "host_exp": [f32p, f32p, lng],
    "host_log": [f32p, f32p, lng],
    "host_cossin": [f32p, f32p, f32p, lng],
    "host_categorical_off": [f32p, i32, f32p, i32p, lng],
    "host_binary_update": [f32p, vp, vp, f32, f32, f32, f32, f32p, u64, i32, *LAUNCH],
    "host_gaussian_update": [f32p, f32p, vp, f32, f32p, u64, i32, *LAUNCH],
    "host_pool_update": [f32p, f32p, vp, f32, f32p, f32p, u64, i32, i32, i32, i32, i32, *LAUNCH],
    "host_checkerboard_update": [i8p, f32p, f32p, f32p, u64, i32, i32, i32, f32, i8, i8, i32, *LAUNCH],
}


def build(directory: Path) -> ctypes.CDLL:
    """Compile the shim with the flags the kernels use (no FMA contraction) and load it."""
    lib = Path(directory) / "libpgboltz_host.so"
    subprocess.run([NVCC, "--fmad=false", "-Xcompiler", "-fPIC,-ffp-contract=off", "-shared", "-O2",
                    f"-I{KERNEL_DIR}", "-o", str(lib), str(SHIM)], check=True, capture_output=True, text=True)
    dll = ctypes.CDLL(str(lib))
    for name, args in SIGNATURES.items():
        getattr(dll, name).argtypes = args
        getattr(dll, name).restype = None
    return dll


def ptr(a):
    """A nullable array argument (``None`` -> NULL)."""
    return None if a is None else np.ascontiguousarray(a).ctypes.data


class Host:
    """Array-in, array-out wrappers around the shim (inputs are converted to the C types)."""

    def __init__(self, dll):
        self.dll = dll

    def philox(self, ctr, key):
        ctr = np.ascontiguousarray(ctr, np.uint32).reshape(-1, 4)
        key = np.ascontiguousarray(np.broadcast_to(np.asarray(key, np.uint32), (len(ctr), 2)))
        out = np.empty_like(ctr)
        self.dll.host_philox(ctr, key, out, len(ctr))
        return out

    def uniform(self, x):
        x = np.ascontiguousarray(x, np.uint32)
        u, uo = np.empty(x.shape, np.float32), np.empty(x.shape, np.float32)
        self.dll.host_uniform(x, u, uo, x.size)
        return u, uo

    def _map(self, name, x):
        x = np.ascontiguousarray(x, np.float32)
        y = np.empty_like(x)
        getattr(self.dll, name)(x, y, x.size)
        return y

    def exp(self, x):
        return self._map("host_exp", x)

    def log(self, x):
        return self._map("host_log", x)

    def cossin(self, t):
        t = np.ascontiguousarray(t, np.float32)
        c, s = np.empty_like(t), np.empty_like(t)
        self.dll.host_cossin(t, c, s, t.size)
        return c, s

    def categorical_off(self, z, u):
        z = np.ascontiguousarray(z, np.float32)
        u = np.ascontiguousarray(u, np.float32)
        out = np.empty(len(z), np.int32)
        self.dll.host_categorical_off(z, z.shape[1], u, out, len(z))
        return out

    def binary_update(self, field, bias, beta_rows, beta_scalar, gap, lo, hi, key, counter):
        field = np.ascontiguousarray(field, np.float32)
        bias = None if bias is None else np.ascontiguousarray(bias, np.float32)
        beta_rows = None if beta_rows is None else np.ascontiguousarray(beta_rows, np.float32)
        out = np.empty_like(field)
        self.dll.host_binary_update(field, ptr(bias), ptr(beta_rows), beta_scalar, gap, lo, hi, out, field.size,
                                    field.shape[1], *key, *counter)
        return out

    def gaussian_update(self, eta, lam, beta_rows, beta_scalar, key, counter):
        eta, lam = np.ascontiguousarray(eta, np.float32), np.ascontiguousarray(lam, np.float32)
        beta_rows = None if beta_rows is None else np.ascontiguousarray(beta_rows, np.float32)
        out = np.empty_like(eta)
        self.dll.host_gaussian_update(eta, lam, ptr(beta_rows), beta_scalar, out, eta.size, eta.shape[1], *key,
                                      *counter)
        return out

    def pool_update(self, det, pool, beta_rows, beta_scalar, shape, size, key, counter):
        det, pool = np.ascontiguousarray(det, np.float32), np.ascontiguousarray(pool, np.float32)
        beta_rows = None if beta_rows is None else np.ascontiguousarray(beta_rows, np.float32)
        d, p = np.full_like(det, -1.0), np.full_like(pool, -1.0)
        self.dll.host_pool_update(det, pool, ptr(beta_rows), beta_scalar, d, p, pool.size, *shape, *size, *key,
                                  *counter)
        return d, p

    def checkerboard_update(self, x, Jr, Jd, h, colour, beta_gap, lo, hi, key, counter, uniform=False):
        x = np.array(x, dtype=np.int8, order="C")
        chains, H, W = x.shape
        self.dll.host_checkerboard_update(x, *(np.ascontiguousarray(a, np.float32) for a in (Jr, Jd, h)),
                                          chains * H * (W // 2), H, W, colour, beta_gap, lo, hi, int(uniform), *key,
                                          *counter)
        return x
