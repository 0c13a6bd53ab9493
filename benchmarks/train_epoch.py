"""One PCD-1 training epoch of an RBM against scikit-learn and against the epoch's own matrix products.

The workload of the CPU-performance goals: a 784x500 RBM on MNIST-5k (4000 binarised training images),
minibatches of 100, one Gibbs step per update, float32. Measured in one run:

* pgboltz ``Trainer.fit`` (PCD-1), seconds per epoch as a user sees them (including the per-epoch
  reconstruction error), and ``run_epoch`` alone (the updates);
* scikit-learn ``BernoulliRBM.fit`` with the same batch size, learning rate and epochs, on float32
  and on float64 input (it keeps the input's dtype);
* the floor: the five matrix products of each update alone -- hidden fields of the data, the negative
  chains' two fields, the two gradient products -- on arrays of the same shapes, nothing else.

Both libraries update 40 times per epoch from the same data. Medians over repeats.

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


def pgboltz_epochs(x, hidden, batch, lr, epochs):
    """(fit seconds per epoch, run_epoch seconds per epoch) over ``epochs`` epochs after one warm-up."""
    g = rbm(x.shape[1], hidden, scale=0.01, seed=0)
    t = Trainer(g, {"v": x}, TrainConfig(method="pcd", k=1, batch_size=batch, epochs=epochs + 1, seed=0,
                                         optim=OptimConfig(lr=lr, momentum=0.0, final_momentum=0.0,
                                                           weight_decay=0.0)))
    t.fit(1)
    stamps = [time.perf_counter()]
    t.fit(epochs + 1, callback=lambda tr, m: stamps.append(time.perf_counter()))
    per_epoch = np.diff(stamps)
    return statistics.median(per_epoch), statistics.median(m["seconds"] for m in t.history[1:])


def sklearn_epochs(x, hidden, batch, lr, epochs, dtype):
    try:
        from sklearn.neural_network import BernoulliRBM
    except ImportError:
        return None
    xd = x.astype(dtype)
    times = []
    for r in range(3):
        m = BernoulliRBM(n_components=hidden, batch_size=batch, learning_rate=lr, n_iter=epochs, random_state=r)
        t0 = time.perf_counter()
        m.fit(xd)
        times.append((time.perf_counter() - t0) / epochs)
    return statistics.median(times)


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
    for _ in range(max(3, epochs)):
        t0 = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--epochs", type=int, default=8, help="timed epochs per run (medians are reported)")
    p.add_argument("--quick", action="store_true", help="digits 64x32, 2 epochs: a smoke test")
    a = p.parse_args(argv)
    if a.quick:
        d, a.hidden, a.epochs = data.digits(), 32, 2
    else:
        d = data.mnist5k()
    x = d.train.reshape(len(d.train), -1).astype(np.float32)
    n, nv = x.shape
    print(f"PCD-1 on {d.name}: {n} images x {nv} pixels, RBM {nv}x{a.hidden}, batch {a.batch_size}, float32, "
          f"{n // a.batch_size} updates per epoch")
    print(f"machine: {platform.processor() or platform.machine()}, {len(os.sched_getaffinity(0))} cores, "
          f"numpy {np.__version__}")
    fit_s, epoch_s = pgboltz_epochs(x, a.hidden, a.batch_size, a.lr, a.epochs)
    rows = {"pgboltz Trainer.fit (PCD-1)": fit_s, "pgboltz run_epoch (the updates alone)": epoch_s}
    for name, dt in (("scikit-learn BernoulliRBM.fit, float32", np.float32),
                     ("scikit-learn BernoulliRBM.fit, float64", np.float64)):
        s = sklearn_epochs(x, a.hidden, a.batch_size, a.lr, a.epochs, dt)
        if s is not None:
            rows[name] = s
    bound = floor(n, nv, a.hidden, a.batch_size, a.epochs)
    rows["floor: the five products per update alone"] = bound
    ref = rows.get("scikit-learn BernoulliRBM.fit, float32")
    print(f"\n| | ms / epoch | vs floor | speed-up over scikit-learn float32 |\n|---|---|---|---|")
    for name, s in rows.items():
        up = f"{ref / s:.2f}x" if ref else "-"
        print(f"| {name} | {s * 1e3:.1f} | {s / bound:.2f} | {up} |")
    return rows


if __name__ == "__main__":
    main()
