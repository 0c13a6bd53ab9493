"""Forward AIS on an RBM against its own matrix-product floor, measured in the same run.

AIS over an RBM keeps v and sums h out analytically. Each intermediate distribution needs the
hidden field v W (for the weights, and for drawing h) and the visible field h W^T (for drawing v):
two products of (runs x n_visible) by (n_visible x n_hidden) per beta, nothing less. This script
times ``pgboltz.estimators.ais`` and those two bare products alone, with the same shapes, dtype
and number of betas, and prints the ratio (the issue's goal: at most 1.2 times the floor).

    python benchmarks/ais_floor.py                    # 784 x 500, 100 runs, 2000 betas, float32
    python benchmarks/ais_floor.py --betas 14500      # the evaluate command's default schedule
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np

from pgboltz.estimators import ais, default_betas
from pgboltz.models import rbm


def floor_seconds(nv, nh, runs, n_betas, dtype):
    """The two products per beta alone, on preallocated arrays (BLAS threads as NumPy leaves them)."""
    rng = np.random.default_rng(0)
    W = rng.normal(0, 0.01, (nv, nh)).astype(dtype)
    v = (rng.random((runs, nv)) < 0.5).astype(dtype)
    h = (rng.random((runs, nh)) < 0.5).astype(dtype)
    fh, fv = np.empty((runs, nh), dtype), np.empty((runs, nv), dtype)
    WT = W.T
    t0 = time.perf_counter()
    for _ in range(n_betas - 1):
        np.matmul(v, W, out=fh)
        np.matmul(h, WT, out=fv)
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--visible", type=int, default=784)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--betas", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=5, help="pairs of runs (pgboltz, then the floor)")
    a = p.parse_args(argv)
    g = rbm(a.visible, a.hidden, seed=0, scale=0.05)
    base = {"v": np.zeros(a.visible)}
    betas = default_betas(a.betas)
    ais(g, base, runs=a.runs, betas=np.linspace(0, 1, 20), seed=0)  # warm-up (and the kernels compiled)
    # the machine's speed drifts: each pgboltz run is paired with a floor run right after it, and the ratio is
    # taken within each pair
    ours, floors = [], []
    for k in range(a.repeats):
        t0 = time.perf_counter()
        ais(g, base, runs=a.runs, betas=betas, seed=k)
        ours.append(time.perf_counter() - t0)
        floors.append(floor_seconds(a.visible, a.hidden, a.runs, len(betas), np.float32))
    ratios = sorted(o / f for o, f in zip(ours, floors))
    print(f"forward AIS, RBM {a.visible}x{a.hidden}, {a.runs} runs, {len(betas)} betas, float32; "
          f"{platform.machine()}, NumPy {np.__version__}; {a.repeats} pairs of runs")
    print(f"  pgboltz ais:                        {min(ours):8.2f} s (fastest; slowest {max(ours):.2f})")
    print(f"  floor (two bare products per beta): {min(floors):8.2f} s (fastest; slowest {max(floors):.2f})")
    print(f"  ratio within a pair:                {statistics.median(ratios):8.2f}x the floor (median; "
          f"{ratios[0]:.2f}-{ratios[-1]:.2f})")


if __name__ == "__main__":
    main()
