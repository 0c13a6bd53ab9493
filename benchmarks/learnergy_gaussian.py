"""Gaussian-Bernoulli RBM: pgboltz against learnergy's GaussianRBM (PyTorch on the CPU), one run.

    python benchmarks/learnergy_gaussian.py            # 64x20 on 8x8 whitened patches, 20 epochs
    python benchmarks/learnergy_gaussian.py --quick    # a smoke run

``pip install torch learnergy`` (not pgboltz dependencies). Both libraries train a GB-RBM with
``--hidden`` binary hiddens on the same 20,000 whitened 8x8 natural-image patches (``--data
patches``, scaled to unit variance per pixel), with CD-1, the same batch size, learning rate,
momentum, float32 and cores, from the same initial weights (W ~ N(0, 0.01^2), zero biases).

The models differ as the libraries do, and the table says so:

* learnergy's GaussianRBM has sigma = 1 fixed and takes the *mean* of p(v | h) as its negative
  visible states (no sampling noise); it also standardises every batch (``normalize``; off here,
  the data already have unit variance);
* pgboltz learns log sigma per pixel (at a tenth of the learning rate) and samples v ~ p(v | h).

Reported per library: seconds per epoch (median after the first, wall clock, as shipped),
reconstruction error (mean over test pixels of (v - E[v | h = E[h | v]])^2, one definition for
both) and the **exact** test log-likelihood of the trained model (2^hidden states enumerated, the
Gaussian visibles integrated out, by pgboltz for both: learnergy's weights are loaded into a
pgboltz GB-RBM with sigma = 1), next to the independent Gaussian's.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from pgboltz import data
from pgboltz.estimators import exact_log_likelihood
from pgboltz.exact import log_z
from pgboltz.learning import OptimConfig, TrainConfig, Trainer
from pgboltz.models import gb_rbm


def recon_error(W, b, c, sigma, x):
    """Mean over pixels of (v - E[v | h = E[h | v]])^2 for a GB-RBM (energy v^2/2s^2 - b.v - v.W h/1 - c.h)."""
    s2 = sigma**2
    h = 1 / (1 + np.exp(-(x @ W + c)))
    return float(((x - s2 * (b + h @ W.T)) ** 2).mean())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=20)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--momentum", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    import torch
    from learnergy.models.gaussian import GaussianRBM

    if a.quick:
        a.hidden, a.epochs = 6, 3
    threads = a.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    d = data.load("patches")
    scale = d.train.reshape(len(d.train), -1).std(axis=0)
    x = (d.train.reshape(len(d.train), -1) / scale).astype(np.float32)
    xt = (d.test.reshape(len(d.test), -1) / scale).astype(np.float32)
    if a.quick:
        x, xt = x[:2000], xt[:500]
    n_v = x.shape[1]
    print(f"machine: {platform.machine()}, {threads} threads, numpy {np.__version__}, torch {torch.__version__}; "
          f"GB-RBM {n_v}x{a.hidden}, {len(x)} train / {len(xt)} test patches (unit variance), CD-1, batch "
          f"{a.batch_size}, lr {a.lr}, momentum {a.momentum}, {a.epochs} epochs, {time.strftime('%Y-%m-%d')}")
    rng = np.random.default_rng(0)
    W0 = rng.normal(0, 0.01, (n_v, a.hidden))

    # pgboltz: learned sigma, sampled negative phase
    g = gb_rbm(n_v, a.hidden, W=W0.copy(), sigma=1.0)
    cfg = TrainConfig(method="cd", k=1, epochs=a.epochs, batch_size=a.batch_size, seed=0,
                      optim=OptimConfig(lr=a.lr, momentum=a.momentum, final_momentum=a.momentum, weight_decay=0.0))
    t = Trainer(g, {"v": x}, cfg)
    times = []
    t.fit(callback=lambda tr, m: times.append(m["seconds"]))
    ours = dict(seconds=statistics.median(times[1:] or times),
                W=g.factor("W").params["W"], b=g.factor("b").params["b"], c=g.factor("c").params["b"],
                sigma=np.exp(g.factor("sigma").params["log_sigma"]))
    ours["ll"] = exact_log_likelihood(g, {"v": xt}, log_z(g))

    # learnergy: sigma = 1, mean-field negative visibles
    torch.manual_seed(0)
    m = GaussianRBM(n_visible=n_v, n_hidden=a.hidden, steps=1, learning_rate=a.lr, momentum=a.momentum,
                    decay=0.0, normalize=False, input_normalize=False)
    with torch.no_grad():
        m.W.copy_(torch.from_numpy(W0.astype(np.float32)))
        m.a.zero_()
        m.b.zero_()
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.zeros(len(x)))
    theirs_times = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        m.fit(ds, batch_size=a.batch_size, epochs=1)
        theirs_times.append(time.perf_counter() - t0)
    Wl, al, bl = (p.detach().numpy().astype(np.float64) for p in (m.W, m.a, m.b))
    h = gb_rbm(n_v, a.hidden, W=Wl, b=al, c=bl, sigma=1.0)
    theirs = dict(seconds=statistics.median(theirs_times[1:] or theirs_times), W=Wl, b=al, c=bl,
                  sigma=np.ones(n_v), ll=exact_log_likelihood(h, {"v": xt}, log_z(h)))

    var = x.var(axis=0)
    indep = float(np.mean(-0.5 * (((xt - x.mean(axis=0)) ** 2) / var).sum(axis=1) - 0.5 * np.log(2 * np.pi * var).sum()))
    print("\n| library | model | s / epoch | reconstruction error | exact test log-likelihood (nats) |")
    print("|---|---|---|---|---|")
    for name, r, what in (("pgboltz", ours, "sigma learned (median %.2f), sampled v" % np.median(ours["sigma"])),
                          ("learnergy", theirs, "sigma = 1, mean-field v")):
        err = recon_error(r["W"], r["b"], r["c"], r["sigma"], xt)
        print(f"| {name} | {what} | {r['seconds']:.3f} | {err:.4f} | {r['ll']:.2f} |")
    print(f"| — | independent Gaussian (fitted) | — | — | {indep:.2f} |")
    print(f"\nlearnergy / pgboltz time per epoch: {theirs['seconds'] / ours['seconds']:.2f}")
    return ours, theirs


if __name__ == "__main__":
    main()
