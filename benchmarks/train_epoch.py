"""One PCD-1 training epoch of an RBM against scikit-learn and against the epoch's own matrix products.

The workload of the CPU-performance goals: a 784x500 RBM on MNIST-5k (4000 binarised training images),
minibatches of 100, one Gibbs step per update, float32. Measured in one run:

* pgboltz ``Trainer.fit`` (PCD-1), seconds per epoch as a user sees them (including the per-epoch
  reconstruction error), and ``run_epoch`` alone (the updates);
* scikit-learn ``BernoulliRBM.fit`` with the same batch size, learning rate and epochs, on float32
  and on float64 input (it keeps the input's dtype);
* the floor: the five matrix products of each update alone -- hidden fields of the data, the negative
  chains' two fields, the two gradient products -- on arrays of the same shapes, nothing else.

Both libraries update 40 times per epoch from the same data. The machine's speed drifts, so the
contenders take turns: each round times every one of them, and ratios are taken within a round (medians
and ranges over the rounds).

    python benchmarks/train_epoch.py               # 784x500, MNIST-5k
    python benchmarks/train_epoch.py --quick       # digits, 64x32, a smoke test
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from pgboltz import data
from pgboltz.learning import OptimConfig, TrainConfig, Trainer
from pgboltz.models import rbm


class PgboltzRun:
    """A PCD-1 trainer kept across rounds (warmed up by one epoch); ``round(epochs)`` times that many more."""

    def __init__(self, x, hidden, batch, lr):
        g = rbm(x.shape[1], hidden, scale=0.01, seed=0)
        self.t = Trainer(g, {"v": x}, TrainConfig(method="pcd", k=1, batch_size=batch, epochs=10**6, seed=0,
                                                  optim=OptimConfig(lr=lr, momentum=0.0, final_momentum=0.0,
                                                                    weight_decay=0.0)))
        self.t.fit(1)

    def round(self, epochs):
        """(fit seconds per epoch, run_epoch seconds per epoch): medians over ``epochs`` epochs."""
        stamps = [time.perf_counter()]
        done = len(self.t.history)
        self.t.fit(done + epochs, callback=lambda tr, m: stamps.append(time.perf_counter()))
        return statistics.median(np.diff(stamps)), statistics.median(m["seconds"] for m in self.t.history[done:])


def sklearn_epochs(x, hidden, batch, lr, epochs, dtype, seed):
    try:
        from sklearn.neural_network import BernoulliRBM
    except ImportError:
        return None
    m = BernoulliRBM(n_components=hidden, batch_size=batch, learning_rate=lr, n_iter=epochs, random_state=seed)
    t0 = time.perf_counter()
    m.fit(x.astype(dtype))
    return (time.perf_counter() - t0) / epochs


def floor(n, nv, nh, batch, epochs, dtype=np.float32):
    """Seconds per epoch of each update's five products alone (positive fields, the two fields of a Gibbs
    step of the negative chains, the two gradient products), on arrays of the epoch's shapes."""
    rng = np.random.default_rng(0)
    W = (rng.standard_normal((nv, nh)) * 0.01).astype(dtype)
    v, vn = ((rng.random((2, batch, nv)) < 0.3).astype(dtype))
    h, hn = rng.random((2, batch, nh)).astype(dtype)
    fh, fv, gw = np.empty((batch, nh), dtype), np.empty((batch, nv), dtype), np.empty((nv, nh), dtype)
    steps = n // batch

    def epoch():
        for _ in range(steps):
            np.matmul(v, W, out=fh)
            np.matmul(hn, W.T, out=fv)
            np.matmul(vn, W, out=fh)
            np.matmul(v.T, h, out=gw)
            np.matmul(vn.T, hn, out=gw)

    epoch()
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--epochs", type=int, default=3, help="timed epochs of each contender per round")
    p.add_argument("--rounds", type=int, default=5,
                   help="rounds, each timing every contender in turn; ratios are taken within a round")
    p.add_argument("--quick", action="store_true", help="digits 64x32, 2 rounds of 2 epochs: a smoke test")
    a = p.parse_args(argv)
    if a.quick:
        d, a.hidden, a.epochs, a.rounds = data.digits(), 32, 2, 2
    else:
        d = data.mnist5k()
    x = d.train.reshape(len(d.train), -1).astype(np.float32)
    n, nv = x.shape
    print(f"PCD-1 on {d.name}: {n} images x {nv} pixels, RBM {nv}x{a.hidden}, batch {a.batch_size}, float32, "
          f"{n // a.batch_size} updates per epoch; {a.rounds} rounds of {a.epochs} epochs per contender")
    print(f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
          f"numpy {np.__version__}; {time.strftime('%Y-%m-%d')}")
    ours = PgboltzRun(x, a.hidden, a.batch_size, a.lr)
    names = ("pgboltz Trainer.fit (PCD-1)", "pgboltz run_epoch (the updates alone)",
             "scikit-learn BernoulliRBM.fit, float32", "scikit-learn BernoulliRBM.fit, float64",
             "floor: the five products per update alone")
    rounds = []  # the machine's speed drifts: every contender is timed in each round, ratios within a round
    for r in range(a.rounds):
        fit_s, epoch_s = ours.round(a.epochs)
        row = {names[0]: fit_s, names[1]: epoch_s}
        for name, dt in ((names[2], np.float32), (names[3], np.float64)):
            s = sklearn_epochs(x, a.hidden, a.batch_size, a.lr, a.epochs, dt, seed=r)
            if s is not None:
                row[name] = s
        row[names[4]] = floor(n, nv, a.hidden, a.batch_size, a.epochs)
        rounds.append(row)
    med = {k: statistics.median(row[k] for row in rounds) for k in rounds[0]}

    def spread(key, ref):
        values = sorted(row[ref] / row[key] if ref in row else np.nan for row in rounds)
        return statistics.median(values), values[0], values[-1]

    print("\n| | ms / epoch (median) | vs floor, within a round | speed-up over scikit-learn float32, within "
          "a round |\n|---|---|---|---|")
    for name, seconds in med.items():
        f = spread(names[4], name)
        up = spread(name, names[2]) if names[2] in med else (np.nan,) * 3
        print(f"| {name} | {seconds * 1e3:.1f} | {f[0]:.2f} ({f[1]:.2f}-{f[2]:.2f}) | "
              f"{up[0]:.2f}x ({up[1]:.2f}-{up[2]:.2f}) |")
    return med


if __name__ == "__main__":
    main()
