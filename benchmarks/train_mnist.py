"""Train the 784x500 RBM on MNIST-5k (4000 train / 1000 test, binarised) with CD-1, CD-25 and PCD,
and report AIS test log-likelihoods with intervals (forward: optimistic, reverse: conservative).

    python benchmarks/train_mnist.py                    # defaults used for benchmarks/RESULTS.md
    python benchmarks/train_mnist.py --epochs 2 --betas 500 --runs 20    # a quick look

Salakhutdinov & Murray (2008) report about -86.3 nats for a CD-25 500-hidden RBM on full MNIST;
this subset is 15 times smaller, so compare the ranking of the methods, not the numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from pgboltz import data
from pgboltz.estimators import evaluate
from pgboltz.learning import OptimConfig, TrainConfig, Trainer
from pgboltz.specs import load

RUNS = {"CD-1": ("cd", 1), "CD-25": ("cd", 25), "PCD": ("pcd", 1)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--runs", type=int, default=100, help="AIS runs")
    p.add_argument("--betas", type=int, default=14500, help="AIS intermediate distributions")
    p.add_argument("--methods", default="CD-1,CD-25,PCD")
    p.add_argument("--backend", default="numpy")
    p.add_argument("--out-dir", default=None, help="write checkpoints here")
    a = p.parse_args(argv)
    d = data.mnist5k()
    print(f"MNIST-5k: {len(d.train)} train / {len(d.test)} test, binarised at {d.threshold}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}; backend {a.backend}")
    rows = []
    for name in a.methods.split(","):
        method, k = RUNS[name]
        g = load("rbm-784x500")
        cfg = TrainConfig(method=method, k=k, epochs=a.epochs, batch_size=a.batch_size, backend=a.backend,
                          optim=OptimConfig(lr=a.lr, weight_decay=2e-4, schedule="linear"))
        t = Trainer(g, d.for_graph(g), cfg)
        t0 = time.perf_counter()
        t.fit()
        train_s = time.perf_counter() - t0
        if a.out_dir:
            os.makedirs(a.out_dir, exist_ok=True)
            t.save(os.path.join(a.out_dir, f"mnist5k-{name.lower()}.npz"))
        t0 = time.perf_counter()
        e = evaluate(g, d.for_graph(g, "test"), d.for_graph(g), ais_runs=a.runs, n_betas=a.betas, backend=a.backend)
        eval_s = time.perf_counter() - t0
        rows.append((name, e, train_s, eval_s, t.history[-1]["reconstruction_error"]))
        print(f"{name}: trained {a.epochs} epochs in {train_s:.0f} s, evaluated in {eval_s:.0f} s\n  {e}", flush=True)
    print("\n| method | AIS test LL (forward, ±3σ) | reverse AIS (conservative, ±3σ) | train s | eval s |")
    print("|---|---|---|---|---|")
    for name, e, ts, es, _ in rows:
        lo, hi = e.interval
        cons = "" if e.conservative is None else f"{e.conservative[0]:.2f} [{e.conservative[1]:.2f}, {e.conservative[2]:.2f}]"
        print(f"| {name} | {e.log_likelihood:.2f} [{lo:.2f}, {hi:.2f}] | {cons} | {ts:.0f} | {es:.0f} |")
    if rows:
        print(f"base-rate model: {rows[0][1].base_rate:.2f} nats")


if __name__ == "__main__":
    main()
