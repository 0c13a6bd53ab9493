"""Gibbs throughput on an RBM against peers measured in the same run.

Prints unit updates per second (chains x (n_visible + n_hidden) per sweep) for

* pgboltz (NumPy backend, the library's generic blocked Gibbs sampler),
* a careful hand-written NumPy sampler (preallocated buffers, in-place ufuncs, one generator),
* the bare-GEMM bound: the sweep's two matrix products alone, nothing else,
* scikit-learn's BernoulliRBM.gibbs (if scikit-learn is installed),

and each one's ratio to the bare-GEMM bound. Same model, chains and dtype for all.

    python benchmarks/gibbs_rbm.py                      # 784x500, 1000 chains, float32
    python benchmarks/gibbs_rbm.py --quick              # small, for a smoke test
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from pgboltz import GibbsSampler
from pgboltz.models import rbm

#: seconds between samplers (OpenBLAS's idle threads spin for a while before they sleep)
PAUSE = 0.5


def timeit(run, sweeps):
    """Seconds per sweep of one call ``run(sweeps)`` (as a user would run them), after a pause: BLAS worker
    threads left spinning by the previous sampler would otherwise compete with this one's threads."""
    time.sleep(PAUSE)
    t0 = time.perf_counter()
    run(sweeps)
    return (time.perf_counter() - t0) / sweeps


def loop(sweep):
    def run(n):
        for _ in range(n):
            sweep()

    return run


def hand_written(W, b, c, chains, dtype, seed):
    """A careful plain-NumPy sampler: preallocated, in place, single generator."""
    rng = np.random.default_rng(seed)
    nv, nh = W.shape
    v = (rng.random((chains, nv)) < 0.5).astype(dtype)
    h = np.empty((chains, nh), dtype)
    fh, fv = np.empty_like(h), np.empty_like(v)
    uh, uv = np.empty_like(h), np.empty_like(v)
    WT = W.T

    def half(x, M, bias, field, u, out):
        np.matmul(x, M, out=field)
        field += bias
        np.negative(field, out=field)
        np.exp(field, out=field)
        field += 1.0  # 1 + exp(-a) = 1 / sigma(a)
        rng.random(out=u, dtype=dtype)
        np.multiply(field, u, out=field)
        np.less(field, 1.0, out=out)  # u < sigma(a)

    def sweep():
        with np.errstate(over="ignore"):
            half(v, W, c, fh, uh, h)
            half(h, WT, b, fv, uv, v)

    return sweep


def bare_gemm(W, chains, dtype, seed):
    rng = np.random.default_rng(seed)
    nv, nh = W.shape
    v = (rng.random((chains, nv)) < 0.5).astype(dtype)
    h = (rng.random((chains, nh)) < 0.5).astype(dtype)
    fh, fv = np.empty_like(h), np.empty_like(v)
    WT = W.T

    def sweep():
        np.matmul(v, W, out=fh)
        np.matmul(h, WT, out=fv)

    return sweep


def sklearn_gibbs(W, b, c, chains, dtype, seed):
    try:
        from sklearn.neural_network import BernoulliRBM
    except ImportError:
        return None
    nv, nh = W.shape
    m = BernoulliRBM(n_components=nh, random_state=seed)
    m.components_ = W.T.astype(dtype).copy()
    m.intercept_hidden_ = c.astype(dtype)
    m.intercept_visible_ = b.astype(dtype)
    m.random_state_ = np.random.RandomState(seed)
    state = {"v": (np.random.default_rng(seed).random((chains, nv)) < 0.5).astype(dtype)}

    def sweep():
        state["v"] = m.gibbs(state["v"])

    return loop(sweep)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--visible", type=int, default=784)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--chains", type=int, default=1000)
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--sweeps", type=int, default=20, help="sweeps per timed repeat")
    p.add_argument("--repeats", type=int, default=7, help="rounds, each timing every sampler in turn")
    p.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    a = p.parse_args(argv)
    if a.quick:
        a.visible, a.hidden, a.chains, a.sweeps, a.repeats = 64, 32, 128, 3, 2
    dtype = np.dtype(a.dtype).type
    g = rbm(a.visible, a.hidden, scale=0.05, seed=0)
    W = g.factors[0].params["W"].astype(dtype)
    b = np.zeros(a.visible, dtype)
    c = np.zeros(a.hidden, dtype)

    sampler = GibbsSampler(g, chains=a.chains, seed=0, dtype=a.dtype)
    sampler2 = GibbsSampler(g, chains=a.chains, seed=0, dtype=a.dtype, streams=2)
    peers = {
        "bare-GEMM bound (2 matmuls)": loop(bare_gemm(W, a.chains, dtype, 0)),
        "pgboltz NumPy (default, 4 streams)": sampler.sweep,
        "pgboltz NumPy (streams=2)": sampler2.sweep,
        "hand-written NumPy": loop(hand_written(W, b, c, a.chains, dtype, 0)),
        "scikit-learn BernoulliRBM.gibbs": sklearn_gibbs(W, b, c, a.chains, dtype, 0),
    }
    updates = a.chains * (a.visible + a.hidden)
    print(f"RBM {a.visible}x{a.hidden}, {a.chains} chains, {a.dtype}; {a.repeats} rounds of {a.sweeps} sweeps per "
          "sampler")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}; "
          f"{time.strftime('%Y-%m-%d')}")
    for name, step in list(peers.items()):
        if step is None:
            print(f"  {name:<34} skipped (not installed)")
            del peers[name]
        else:
            step(3)  # warm-up
    # the machine's speed drifts: every sampler is timed in each round, and its ratio to the bound is taken
    # within the round
    rounds = [{name: timeit(step, a.sweeps) for name, step in peers.items()} for _ in range(a.repeats)]
    bound_name = "bare-GEMM bound (2 matmuls)"
    results = {name: statistics.median(r[name] for r in rounds) for name in peers}
    print(f"  {'':<34} {'ms/sweep':>9} {'updates/s':>11} {'vs bound, within a round':>26}")
    for name, t in results.items():
        ratios = sorted(r[bound_name] / r[name] for r in rounds)
        ratio = f"{statistics.median(ratios):.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f})"
        print(f"  {name:<34} {t * 1e3:>9.3f} {updates / t:>11.3g} {ratio:>26}")
    sampler.backend.close()
    sampler2.backend.close()
    return results


if __name__ == "__main__":
    main()
