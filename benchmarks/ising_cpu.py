"""Checkerboard Gibbs on a 2-D periodic Ising lattice (CPU), against peers measured in the same run.

Prints spin flips (site updates) per nanosecond for

* pgboltz's generic blocked Gibbs sampler, which colours the lattice into two checkerboard halves
  and updates each half: its field on that half only (the other colour copied into compact
  quarters, each neighbour read once), written back through two strided views;
* the same sampler with that half-lattice path switched off (the field of the whole lattice formed
  for every half, then gathered, and the states scattered back by index: the previous behaviour);
* a plain NumPy checkerboard with ``np.roll`` (the field of the whole lattice per half, masked);
* ``CheckerboardSampler`` on the NumPy backend: int8 states, one compiled loop per colour (the CUDA
  checkerboard kernel's CPU twin, Numba), chains in chunks on the backend's threads, Philox drawn in
  the loop.

All draw the same exact heat-bath updates P(s = +1) = sigma(2 beta theta).

    python benchmarks/ising_cpu.py                      # 256 x 256, 16 chains
    python benchmarks/ising_cpu.py --size 64 --chains 4 --sweeps 5    # a smoke test
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

import pgboltz.factors.lattice as lattice
import pgboltz.model as model
from pgboltz import GibbsSampler
from pgboltz.models import ising


def per_sweep(run, sweeps, repeats):
    run(2)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(sweeps)
        times.append((time.perf_counter() - t0) / sweeps)
    return statistics.median(times)


def pgboltz_run(size, chains, J, half=True):
    saved = lattice.checkerboard_parity, model.checkerboard_parity
    if not half:
        lattice.checkerboard_parity = model.checkerboard_parity = lambda *a: None
    try:
        s = GibbsSampler(ising(size, size, J=J), chains=chains, seed=0, dtype="float32")
    finally:
        lattice.checkerboard_parity, model.checkerboard_parity = saved
    return s.sweep


def checkerboard_run(size, chains, J):
    from pgboltz.sampling import CheckerboardSampler

    return CheckerboardSampler(ising(size, size, J=J), chains=chains, backend="numpy", seed=0).sweep


def numpy_roll(size, chains, J, seed=0):
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((chains, size, size)) < 0.5, -1.0, 1.0).astype(np.float32)
    r, c = np.indices((size, size))
    masks = [((r + c) % 2 == p) for p in (0, 1)]
    u = np.empty((chains, size, size), np.float32)

    def run(n):
        for _ in range(n):
            for m in masks:
                theta = J * (np.roll(x, 1, 1) + np.roll(x, -1, 1) + np.roll(x, 1, 2) + np.roll(x, -1, 2))
                rng.random(out=u, dtype=np.float32)
                new = np.where(u < 1.0 / (1.0 + np.exp(-2.0 * theta)), 1.0, -1.0).astype(np.float32)
                x[:, m] = new[:, m]

    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--chains", type=int, default=16)
    p.add_argument("--sweeps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--J", type=float, default=0.4)
    a = p.parse_args(argv)
    flips = a.size * a.size * a.chains
    print(f"2-D periodic Ising {a.size}x{a.size}, {a.chains} chains, float32; {platform.processor() or platform.machine()}, "
          f"NumPy {np.__version__}")
    rows = [("pgboltz (half-lattice field, strided write-back)", pgboltz_run(a.size, a.chains, a.J)),
            ("pgboltz, half-lattice path off (previous behaviour)", pgboltz_run(a.size, a.chains, a.J, half=False)),
            ("plain NumPy checkerboard with np.roll", numpy_roll(a.size, a.chains, a.J)),
            ("CheckerboardSampler (int8, compiled colour loop)", checkerboard_run(a.size, a.chains, a.J))]
    results = []
    for name, sweep in rows:
        run = sweep if name.startswith("plain") else (lambda n, s=sweep: s(n))
        t = per_sweep(run, a.sweeps, a.repeats)
        results.append((name, t))
    base = results[1][1]
    print(f"{'sampler':<54} {'ms/sweep':>9} {'flips/ns':>9} {'vs previous':>12}")
    for name, t in results:
        print(f"{name:<54} {t * 1e3:9.2f} {flips / t / 1e9:9.3f} {base / t:11.2f}x")


if __name__ == "__main__":
    main()
