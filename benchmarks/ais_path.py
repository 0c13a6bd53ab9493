"""Where along the annealing path forward AIS loses its runs: the spread of the log weights, and each group's
mean activity, at marks between beta = 0 and 1.

A well-behaved path adds variance to the log weights slowly and evenly; a first-order transition shows up
as a jump of their standard deviation over a short range of beta, where the groups' activities switch
(for the MNIST DBM of benchmarks/RESULTS.md: h1 switches on between beta 0.75 and 0.9, and the standard
deviation jumps from 3 to 22 nats). More betas spread evenly do not cure that; the printout says where to
look.

    python benchmarks/ais_path.py dbm-mnist.npz --data mnist5k          # a trained checkpoint
    python benchmarks/ais_path.py dbm-small --betas 200 --runs 50       # any spec or example name
"""

from __future__ import annotations

import argparse

import numpy as np

from pgboltz.estimators import base_rate_biases, default_betas
from pgboltz.estimators.ais import _Path

MARKS = (0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


def load_graph(source):
    if str(source).endswith(".npz"):
        from pgboltz.checkpoint import load_model

        return load_model(source)[0]
    from pgboltz.specs import load

    return load(source)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="a checkpoint (.npz) or a spec / example name")
    p.add_argument("--data", default=None, help="data set for the base-rate model (default: uniform visibles)")
    p.add_argument("--betas", type=int, default=4000)
    p.add_argument("--schedule", choices=("linear", "default"), default="linear",
                   help="evenly spaced betas, or the evaluate command's default schedule")
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    graph = load_graph(a.source)
    base = {}
    if a.data:
        from pgboltz import data

        base = base_rate_biases(graph, data.load(a.data).for_graph(graph))
    betas = np.linspace(0, 1, a.betas) if a.schedule == "linear" else default_betas(a.betas)
    path = _Path(graph, base, a.runs, a.seed, "numpy", "float32")
    print(f"{graph.name}: forward AIS, {a.runs} runs x {len(betas)} {a.schedule} betas; summed out: "
          f"{', '.join(path.summed)}; sampled: {', '.join(path.kept)}")
    marks = {int(np.searchsorted(betas, q)) for q in MARKS}
    log_w = np.zeros(a.runs)
    rows = []
    with path.model.running():
        path.sample_base()
        for k, (b0, b1) in enumerate(zip(betas[:-1], betas[1:]), start=1):
            log_w += path.be.to_numpy(path.log_step(b1, b0, path.pieces()))
            path.transition(b1)
            if k in marks:
                act = {g: float(np.mean(path.be.to_numpy(x))) for g, x in path.model.states.items()}
                rows.append((b1, float(log_w.std()), float(np.ptp(log_w)), act))
    groups = list(rows[0][3]) if rows else []
    print("| beta | sd of log w | spread | " + " | ".join(f"mean {g}" for g in groups) + " |")
    print("|---|---|---|" + "---|" * len(groups))
    for b, sd, spread, act in rows:
        print(f"| {b:.3f} | {sd:.2f} | {spread:.1f} | " + " | ".join(f"{act[g]:.3f}" for g in groups) + " |")
    w = np.exp(log_w - log_w.max())
    print(f"effective sample size {w.sum() ** 2 / (w ** 2).sum():.1f} of {a.runs}")
    return rows


if __name__ == "__main__":
    main()
