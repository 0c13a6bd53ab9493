"""Checkerboard Gibbs on compact int8 states for 2-D lattices of binary units.

The generic sampler keeps every state in the backend's float dtype and computes a
lattice's field for the whole lattice with array stencils. For the 2-D lattice models
(Ising ferromagnets, spin glasses) that are sampled at the largest scale, this sampler
keeps the states as int8 and updates one colour of the checkerboard per launch of a
fused kernel (``pgb_checkerboard_update``): each site of the colour reads its four
neighbours and four couplings, adds its bias, applies beta and draws its new state
from the in-kernel Philox generator. Nothing else is written.

On the NumPy backend the same update runs as the kernel's CPU twin compiled by Numba
(:mod:`pgboltz.backends.cpu_kernels`), chains cut into chunks on the backend's threads:
bit for bit what the GPU computes (same seed, same states), about 0.9 spin updates per
nanosecond per core on a 256x256 lattice. With ``fused=False`` (or without Numba) it
runs through :mod:`pgboltz.backends.reference` instead -- slow, the definition.

>>> from pgboltz.models import ising
>>> s = CheckerboardSampler(ising(8, 8, J=0.3), chains=100, backend="numpy", seed=0)
>>> s.sweep(10)
>>> s.get_states()["s"].shape
(100, 64)
"""

from __future__ import annotations

import time

import numpy as np

from ..backends import get_backend
from ..backends.cpu_kernels import launch_words
from ..backends.fused import Launches
from ..errors import GraphError
from ..factors.bias import Bias
from ..factors.lattice import Lattice2D
from .moments import MomentAccumulator


class CheckerboardSampler:
    """Checkerboard Gibbs for a graph of one binary (H, W) group with a ``lattice`` factor and
    optional ``bias`` factors; H and W even. ``backend``: 'cupy' (fused kernel) or 'numpy'
    (its compiled CPU twin, or the NumPy reference with ``fused=False``). ``beta`` is one inverse
    temperature."""

    def __init__(self, graph, chains: int = 1000, backend="cupy", seed: int = 0, beta: float = 1.0):
        self.graph, self.chains, self.seed = graph, int(chains), int(seed)
        if len(graph.groups) != 1:
            raise GraphError(f"{graph.name}: the checkerboard sampler takes one lattice group, "
                             f"got groups {', '.join(graph.groups)}; use GibbsSampler")
        (self.group, grp), = graph.groups.items()
        support = getattr(grp.units, "support", None)
        if support is None or len(support) != 2:
            raise GraphError(f"{graph.name}: the checkerboard sampler needs binary units, "
                             f"group {self.group!r} has {grp.units.name}; use GibbsSampler")
        lattices = [f for f in graph.factors if isinstance(f, Lattice2D)]
        others = [f for f in graph.factors if not isinstance(f, (Lattice2D, Bias))]
        if len(lattices) != 1 or others:
            raise GraphError(f"{graph.name}: the checkerboard sampler needs exactly one lattice factor and "
                             "bias factors only; use GibbsSampler")
        H, W = grp.shape
        if H % 2 or W % 2:
            raise GraphError(f"{graph.name}: the checkerboard sampler needs an even number of rows and columns, "
                             f"got {H}x{W}; use GibbsSampler")
        self.shape = (H, W)
        self.lo, self.hi = (int(v) for v in support)
        self.gap = self.hi - self.lo
        self.beta = float(beta)
        self.backend = be = get_backend(backend, seed=seed, dtype="float32")
        lat = lattices[0]
        h = np.zeros((H, W))
        for f in graph.factors:
            if isinstance(f, Bias):
                h += f.params["b"].reshape(H, W)
        self.host_params = [np.ascontiguousarray(a, np.float32) for a in
                            (lat.params["J_right"], lat.params["J_down"], h)]
        # a ferromagnet in a uniform field (every bond, also the open boundary's, equal) reads
        # three numbers instead of three arrays: the same arithmetic, a third of the memory traffic
        self.uniform = all(np.all(a == a.flat[0]) for a in self.host_params)
        init = grp.units.init_states(be.host_rng, (self.chains, H, W))
        self.x = be.asarray(init, dtype=np.int8)
        if be.name == "cupy":
            if not be.fused:
                raise GraphError("the checkerboard sampler runs fused kernels: use a CuPy backend with fused=True")
            self.kernels = be.kernels()
            self.params = [be.asarray(a.reshape(-1)[:1] if self.uniform else a, dtype=np.float32)
                           for a in self.host_params]
        else:
            self.kernels = None
            self.launches = Launches(seed, 0)  # the GPU's stream 0 for this seed: the same numbers
            # int8 states and float32 parameters whatever the backend's dtype: compiled wherever Numba is
            self.compiled = be.kernels() if be.compiled else None
            self.params = [np.ascontiguousarray(a[:1, :1] if self.uniform else a) for a in self.host_params]
        self.sweeps_done = 0

    def _half(self, colour):
        bg = np.float32(self.beta * self.gap)
        if self.kernels is not None:
            self.kernels.checkerboard(self.x, *self.params, colour, bg, self.lo, self.hi, self.uniform)
        elif self.compiled is not None:  # one launch, its chains cut into chunks on the backend's threads
            words = launch_words(self.launches)

            def chunk(_, rows):
                self.compiled.checkerboard(words, self.x, self.params, self.uniform, rows, self.shape, colour, bg,
                                           self.lo, self.hi)

            self.backend.map_rows(chunk, self.backend.chunks(self.chains))
        else:
            from ..backends import reference

            counter = self.launches.next()
            self.x[...] = reference.checkerboard_update(self.x, *self.host_params, colour, bg, self.lo, self.hi,
                                                        self.launches.key, counter)

    def sweep(self, n: int = 1) -> None:
        """``n`` sweeps: both colours of the checkerboard, colour 0 first."""
        for _ in range(int(n)):
            self._half(0)
            self._half(1)
        self.sweeps_done += int(n)

    def get_states(self) -> dict:
        """Host copy of the states as ``{group: (chains, H * W)}`` float32 (like GibbsSampler)."""
        x = self.backend.to_numpy(self.x)
        return {self.group: x.reshape(self.chains, -1).astype(np.float32)}

    def run(self, sweeps: int, burn_in: int = 0, second_moments: bool = False, batches: int = 16):
        """Burn in, then ``sweeps`` sweeps recording moments after each; returns
        ``(Moments, seconds)``."""
        be = self.backend
        acc = MomentAccumulator(self.graph, be, [self.group], self.chains, second_moments, batches)
        flat = self.x.reshape(self.chains, -1)
        be.synchronize()
        t0 = time.perf_counter()
        self.sweep(burn_in)
        for _ in range(int(sweeps)):
            self.sweep(1)
            acc.update({self.group: flat})
        be.synchronize()
        return acc.result(), time.perf_counter() - t0

    def memory_bytes(self) -> int:
        """Device bytes this sampler holds: int8 states and float32 couplings and biases."""
        H, W = self.shape
        return self.chains * H * W + 3 * 4 * H * W
