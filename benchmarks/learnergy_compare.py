"""Training time per epoch of pgboltz against learnergy (PyTorch on the CPU), in one run.

    python benchmarks/learnergy_compare.py               # RBM 784x500 and DBN 784-500-500, 20 epochs each
    python benchmarks/learnergy_compare.py --quick       # tiny sizes, for a smoke run

learnergy (and PyTorch) are not pgboltz dependencies: ``pip install torch learnergy``
(CPU-only wheels: ``pip install --index-url https://download.pytorch.org/whl/cpu torch``).

Both libraries train on the same binarised MNIST-5k images (4000 training images; the 1000 test
images are only used for the errors), with the same batch size, number of Gibbs steps k, float32,
and the same number of cores: the process is pinned to ``--threads`` cores, PyTorch gets that many
intra-op threads and NumPy's BLAS at most that many.

* **RBM** (784 x ``--hidden``), CD-k. The two estimators are the same: h ~ P(h | v_data), k times
  v ~ P(v | h), h ~ P(h | v), and the gradient <v h>_data - <v h>_recon with h replaced by
  P(h = 1 | v) on both sides (learnergy differentiates the free energy, pgboltz averages the hidden
  units out). Both start from the same weights (W ~ N(0, 0.01^2), zero biases, drawn by pgboltz).
* **DBN** (784 - ``--dbn``), greedy layer by layer with CD-k: pgboltz's ``train_dbn_greedy`` and
  learnergy's ``DBN`` with Bernoulli RBMs on every layer (learnergy's default above the first layer
  is its real-valued ``sigmoid4deep`` RBM, so the model names are given explicitly). Every layer
  starts from the weights pgboltz draws for it (seed + layer).

Optimiser (the same on both sides): SGD with learning rate ``--lr``, momentum ``--momentum`` from the
first epoch (pgboltz's switch to ``final_momentum`` is disabled), weight decay ``--weight-decay``,
constant learning rate. PyTorch's ``buf <- m buf + g; theta <- theta - lr buf`` equals pgboltz's
``v <- m v + lr g; theta <- theta + v`` at a constant learning rate.

Differences their APIs leave:

* weight decay: learnergy (PyTorch's SGD) decays every parameter, biases included; pgboltz only W;
* learnergy's ``fit`` also computes, on every batch, the squared error of the CD sample and a
  pseudo-likelihood (two more free energies); pgboltz computes its reconstruction error once per
  epoch, on at most 2000 training images. Both are part of each library's epoch as shipped. The
  "update loop only" rows leave them out: pgboltz's own per-epoch time of its update loop, and
  learnergy's RBM trained by a loop over its own ``gibbs_sampling``, ``energy`` and optimiser
  (what its ``fit`` does, less the per-batch metrics and the DataLoader);
* DBN upper layers: learnergy trains layer k+1 on the *probabilities* P(h_k = 1 | input), recomputed
  through the lower layers for every batch of every epoch (and calls its RBM's ``fit`` once per
  batch); pgboltz trains it on one binary draw of h_k per image, made once after layer k;
* learnergy keeps the last incomplete batch, pgboltz drops it (none here: 4000 = 40 x 100).

Reported, for each model:

* seconds per epoch: the median over the epochs after the first (wall clock). RBM: around each
  epoch, as shipped. DBN, per layer: pgboltz's own per-epoch time of its update loop (its per-epoch
  reconstruction error is not included; the RBM rows show its size), learnergy's from the end of
  one epoch's last batch to the next (so including its re-encoding through the lower layers);
  the "whole training" row is the wall time of each library's one greedy training call, divided by
  layers x epochs (first epochs and the data passed between layers included);
* reconstruction error, one definition for both: the mean over test pixels of
  (v - E[v | h = E[h | v]])^2, mean field through every layer up and back down (pgboltz's
  definition; learnergy's own figure, printed below the table, is a sum over the pixels of one
  image of (v - v_k)^2 with v_k the CD sample, averaged over the last epoch's batches);
* for the RBMs, the AIS test log-likelihood of *both* trained models by pgboltz's estimator
  (forward AIS from the base-rate model, optimistic, with +-3 sigma; ``--ais-betas 0`` skips it).
  With the default 5000 intermediate distributions it is less accurate than the 14500 of
  train_mnist.py: compare the two models, not the numbers with RESULTS.md.

The CPU time other processes took during the run is printed last: timings taken while other work
shared the cores are not comparable between libraries run at different moments (PyTorch's OpenMP
threads suffer most: a 784x32 learnergy epoch once took 7 s instead of 0.06 s beside a test run).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import time

import numpy as np

from pgboltz import data
from pgboltz.errors import DataError
from pgboltz.estimators import evaluate
from pgboltz.learning import OptimConfig, TrainConfig, Trainer, train_dbn_greedy
from pgboltz.models import rbm


def import_peers():
    """(torch, learnergy), or exit with the command that installs the missing one."""
    try:
        import torch
    except ImportError:
        sys.exit("this benchmark needs PyTorch, which pgboltz does not depend on: pip install torch "
                 "(CPU-only: pip install --index-url https://download.pytorch.org/whl/cpu torch)")
    try:
        import learnergy
        import learnergy.models.bernoulli  # noqa: F401
        import learnergy.models.deep  # noqa: F401
    except ImportError:
        sys.exit("this benchmark needs learnergy, which pgboltz does not depend on: pip install learnergy")
    return torch, learnergy


def pin_threads(n: int | None, torch) -> int:
    """Run this process on ``n`` cores (default: all it may use): CPU affinity, PyTorch's intra-op
    threads and NumPy's BLAS. Returns the number of cores.

    pgboltz's NumPy backend sizes its worker pool and BLAS share from the affinity, so pinning
    before any trainer is built gives both libraries the same cores."""
    from threadpoolctl import threadpool_limits

    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))
    n = len(cpus) if n is None else max(1, min(n, len(cpus)))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus[:n])
    torch.set_num_threads(n)
    threadpool_limits(limits=n, user_api="blas")
    return n


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "?")
    except OSError:
        return platform.processor() or platform.machine()


def cpu_seconds():
    """(CPU seconds used by the whole machine, by this process) so far; the first is None off Linux."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except OSError:
        return None, own.ru_utime + own.ru_stime
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK"), own.ru_utime + own.ru_stime


def other_load(start, wall: float) -> str:
    """How much CPU time other processes took while the benchmark ran (they distort its timings)."""
    machine, own = cpu_seconds()
    if machine is None or start[0] is None:
        return "CPU time of other processes: unknown (needs /proc/stat)"
    others = max(0.0, (machine - start[0]) - (own - start[1]))
    return (f"other processes used {others:.2f} CPU seconds during the {wall:.0f} s run "
            f"({100 * others / (wall * (os.cpu_count() or 1)):.1f}% of the machine)")


def median_after_first(times) -> float:
    """Median seconds per epoch over the epochs after the first (warm-up: allocation, caches)."""
    times = list(times)
    return statistics.median(times[1:] if len(times) > 1 else times)


# -- parameters and the shared metrics --------------------------------------------------------------

def pgboltz_layers(graph):
    """(W (n_v, n_h), b (n_v,), c (n_h,)) of a pgboltz RBM graph, as float64 host arrays."""
    f = {factor.name: factor for factor in graph.factors}
    return np.asarray(f["W"].params["W"], np.float64), np.asarray(f["b"].params["b"], np.float64), \
        np.asarray(f["c"].params["b"], np.float64)


def learnergy_layers(model):
    """(W, b, c) of a learnergy Bernoulli RBM (its ``W`` is (n_v, n_h), ``a`` visible, ``b`` hidden biases)."""
    return tuple(p.detach().cpu().numpy().astype(np.float64) for p in (model.W, model.a, model.b))


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def reconstruction_error(layers, x) -> float:
    """Mean over pixels of (v - v_hat)^2, v_hat from a mean-field pass up every layer and back down:
    h_k = sigma(c_k + h_{k-1} W_k), then h_{k-1} = sigma(b_k + h_k W_k^T). ``x``: (n, n_visible)."""
    h = np.asarray(x, np.float64)
    for W, _, c in layers:
        h = sigmoid(c + h @ W)
    for W, b, _ in reversed(layers):
        h = sigmoid(b + h @ W.T)
    return float(np.mean((x - h) ** 2))


def ais_log_likelihood(layers, d, runs, n_betas, seed):
    """pgboltz's forward AIS test log-likelihood of an RBM given as (W, b, c): (value, low, high)."""
    W, b, c = layers
    g = rbm(W.shape[0], W.shape[1], W=W, b=b, c=c, name="rbm")
    e = evaluate(g, d.for_graph(g, "test"), d.for_graph(g), ais_runs=runs, n_betas=n_betas, seed=seed,
                 reverse=False)
    return e.log_likelihood, e.interval[0], e.interval[1]


# -- the two libraries --------------------------------------------------------------------------

def optim_config(a) -> OptimConfig:
    return OptimConfig(lr=a.lr, momentum=a.momentum, final_momentum=a.momentum, weight_decay=a.weight_decay,
                       schedule="constant")


def train_config(a) -> TrainConfig:
    return TrainConfig(method="cd", k=a.k, epochs=a.epochs, batch_size=a.batch_size, seed=a.seed,
                       dtype="float32", optim=optim_config(a))


def pgboltz_rbm(x, a):
    """Train pgboltz's RBM; returns (graph, wall seconds per epoch, update-loop seconds per epoch)."""
    g = rbm(x.shape[1], a.hidden, seed=a.seed, scale=0.01)
    trainer = Trainer(g, {"v": x}, train_config(a))
    stamps = [time.perf_counter()]
    trainer.fit(callback=lambda _trainer, _metrics: stamps.append(time.perf_counter()))
    trainer.neg.backend.close()
    return g, np.diff(stamps), [m["seconds"] for m in trainer.history]


def learnergy_rbm(torch, x, initial, a):
    """A learnergy RBM with pgboltz's initial parameters ``initial`` = (W, b, c) and the shared settings."""
    from learnergy.models.bernoulli import RBM

    model = RBM(n_visible=x.shape[1], n_hidden=a.hidden, steps=a.k, learning_rate=a.lr, momentum=a.momentum,
                decay=a.weight_decay)
    with torch.no_grad():
        for p, value in zip((model.W, model.a, model.b), initial):
            p.copy_(torch.as_tensor(value, dtype=torch.float32))
    return model


def learnergy_fit(torch, model, x, a):
    """Train with learnergy's own ``fit``, one epoch per call; returns (wall seconds per epoch, its last mse)."""
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(x), torch.zeros(len(x)))
    times, mse = [], None
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        mse, _ = model.fit(dataset, batch_size=a.batch_size, epochs=1)
        times.append(time.perf_counter() - t0)
    return times, float(mse)


def learnergy_update_loop(torch, model, x, a):
    """learnergy's CD update (its ``gibbs_sampling``, ``energy`` and SGD optimiser, as in its ``fit``)
    without the per-batch squared error and pseudo-likelihood; returns wall seconds per epoch."""
    x = torch.as_tensor(x)
    times = []
    for _ in range(a.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(x))
        for start in range(0, len(x), a.batch_size):
            v = x[order[start:start + a.batch_size]]
            *_, v_recon = model.gibbs_sampling(v)
            cost = torch.mean(model.energy(v)) - torch.mean(model.energy(v_recon.detach()))
            model.optimizer.zero_grad()
            cost.backward()
            model.optimizer.step()
        times.append(time.perf_counter() - t0)
    return times


def pgboltz_dbn(x, a):
    """Greedy pgboltz DBN; returns ([layer (W, b, c)], [[update-loop seconds per epoch] per layer], wall s)."""
    t0 = time.perf_counter()
    _, rbms, histories = train_dbn_greedy(x, [x.shape[1], *a.dbn], train_config(a), scale=0.01)
    wall = time.perf_counter() - t0
    return [pgboltz_layers(r) for r in rbms], [[m["seconds"] for m in h] for h in histories], wall


def learnergy_dbn(torch, x, a):
    """Greedy learnergy DBN from the initial weights pgboltz's greedy trainer draws (layer k: seed + k).

    Returns ([layer (W, b, c)], [[wall seconds per epoch] per layer], wall seconds, [last mse per layer]).
    Epoch ends are read from each layer's ``dump`` (called once per epoch by the first layer, once
    per batch by the others) without changing what it records."""
    from learnergy.models.deep import DBN

    sizes = [x.shape[1], *a.dbn]
    n_layers = len(a.dbn)
    model = DBN(model=("bernoulli",) * n_layers, n_visible=sizes[0], n_hidden=tuple(a.dbn), steps=(a.k,) * n_layers,
                learning_rate=(a.lr,) * n_layers, momentum=(a.momentum,) * n_layers,
                decay=(a.weight_decay,) * n_layers, temperature=(1.0,) * n_layers)
    stamps = [[] for _ in range(n_layers)]
    with torch.no_grad():
        for k, layer in enumerate(model.models):
            initial = pgboltz_layers(rbm(sizes[k], sizes[k + 1], seed=a.seed + k, scale=0.01))
            for p, value in zip((layer.W, layer.a, layer.b), initial):
                p.copy_(torch.as_tensor(value, dtype=torch.float32))
            layer.dump = _stamped(layer.dump, stamps[k])
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(x), torch.zeros(len(x)))
    t0 = time.perf_counter()
    mse, _ = model.fit(dataset, batch_size=a.batch_size, epochs=(a.epochs,) * n_layers)
    wall = time.perf_counter() - t0
    batches = -(-len(x) // a.batch_size)
    start, times = t0, []
    for k in range(n_layers):
        ends = stamps[k] if k == 0 else stamps[k][batches - 1::batches]
        times.append(list(np.diff([start, *ends])))
        start = ends[-1]
    return [learnergy_layers(layer) for layer in model.models], times, wall, [float(m) for m in mse]


def _stamped(dump, stamps):
    def record(**metrics):
        stamps.append(time.perf_counter())
        dump(**metrics)

    return record


# -- the run --------------------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=20, help="epochs per model (per layer for the DBN); at least 2")
    p.add_argument("--hidden", type=int, default=500, help="RBM hidden units")
    p.add_argument("--dbn", default="500,500", help="DBN hidden layer sizes")
    p.add_argument("-k", type=int, default=1, help="Gibbs steps of CD-k")
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.5)
    p.add_argument("--weight-decay", type=float, default=2e-4)
    p.add_argument("--threads", type=int, default=None, help="cores for both libraries (default: all available)")
    p.add_argument("--ais-runs", type=int, default=100)
    p.add_argument("--ais-betas", type=int, default=5000, help="AIS intermediate distributions; 0 skips AIS")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    a = p.parse_args(argv)
    if a.quick:
        a.epochs, a.hidden, a.dbn, a.ais_runs, a.ais_betas = 2, 32, "32,32", 10, 100
    a.dbn = [int(s) for s in str(a.dbn).split(",")]
    if a.epochs < 2:
        p.error("--epochs must be at least 2 (the first epoch is left out of the median)")
    torch, learnergy = import_peers()
    start, t_start = cpu_seconds(), time.perf_counter()
    threads = pin_threads(a.threads, torch)
    torch.manual_seed(a.seed)
    try:
        d = data.mnist5k()
    except DataError as exc:
        sys.exit(str(exc))
    x = d.train.reshape(len(d.train), -1).astype(np.float32)
    x_test = d.test.reshape(len(d.test), -1)

    print(f"MNIST-5k: {len(x)} train / {len(x_test)} test images, binarised at {d.threshold}")
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs; both libraries pinned to {threads} core(s): "
          f"torch.get_num_threads() = {torch.get_num_threads()}, pgboltz NumPy backend sized from the affinity")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, PyTorch {torch.__version__}, "
          f"learnergy {getattr(learnergy, '__version__', '?')}")
    print(f"CD-{a.k}, batch {a.batch_size}, float32, {a.epochs} epochs, SGD lr {a.lr} momentum {a.momentum} "
          f"weight decay {a.weight_decay}, seed {a.seed}\n", flush=True)

    rows = []
    name = f"RBM {x.shape[1]}x{a.hidden}"
    g, pg_wall, pg_loop = pgboltz_rbm(x, a)
    pg_layers = pgboltz_layers(g)
    initial = pgboltz_layers(rbm(x.shape[1], a.hidden, seed=a.seed, scale=0.01))
    ln = learnergy_rbm(torch, x, initial, a)
    ln_wall, ln_mse = learnergy_fit(torch, ln, x, a)
    ln_layers = learnergy_layers(ln)
    ln_bare = learnergy_rbm(torch, x, initial, a)
    ln_loop = learnergy_update_loop(torch, ln_bare, x, a)
    print(f"{name}: trained ({sum(pg_wall):.1f} s pgboltz, {sum(ln_wall):.1f} s + {sum(ln_loop):.1f} s learnergy)",
          flush=True)
    ll = {}
    if a.ais_betas > 0:
        t0 = time.perf_counter()
        ll = {lib: ais_log_likelihood(layers, d, a.ais_runs, a.ais_betas, a.seed)
              for lib, layers in (("pgboltz", pg_layers), ("learnergy", ln_layers))}
        print(f"{name}: AIS ({a.ais_runs} runs x {a.ais_betas} betas, both models) in "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    add_pair(rows, name, ("pgboltz", median_after_first(pg_wall), reconstruction_error([pg_layers], x_test),
                          ll.get("pgboltz")),
             ("learnergy `RBM.fit`", median_after_first(ln_wall), reconstruction_error([ln_layers], x_test),
              ll.get("learnergy")))
    add_pair(rows, f"{name}, update loop only", ("pgboltz", median_after_first(pg_loop), None, None),
             ("learnergy model, loop without metrics", median_after_first(ln_loop),
              reconstruction_error([learnergy_layers(ln_bare)], x_test), None))

    dbn_name = f"DBN {'-'.join(map(str, [x.shape[1], *a.dbn]))}"
    pg_dbn_layers, pg_dbn_times, pg_dbn_wall = pgboltz_dbn(x, a)
    ln_dbn_layers, ln_dbn_times, ln_dbn_wall, ln_dbn_mse = learnergy_dbn(torch, x, a)
    print(f"{dbn_name}: trained ({pg_dbn_wall:.1f} s pgboltz, {ln_dbn_wall:.1f} s learnergy)\n", flush=True)
    for k, (pt, lt) in enumerate(zip(pg_dbn_times, ln_dbn_times)):
        add_pair(rows, f"{dbn_name}, layer {k + 1}", ("pgboltz", median_after_first(pt), None, None),
                 ("learnergy `DBN.fit`", median_after_first(lt), None, None))
    layer_epochs = len(a.dbn) * a.epochs
    add_pair(rows, f"{dbn_name}, whole training (wall / layer-epochs)",
             ("pgboltz", pg_dbn_wall / layer_epochs, reconstruction_error(pg_dbn_layers, x_test), None),
             ("learnergy `DBN.fit`", ln_dbn_wall / layer_epochs, reconstruction_error(ln_dbn_layers, x_test), None))

    print_table(rows)
    print(f"\nlearnergy's own reconstruction figure (sum over one image's pixels of (v - CD sample)^2, mean over "
          f"the last epoch's batches): RBM {ln_mse:.2f}; DBN layers {', '.join(f'{m:.2f}' for m in ln_dbn_mse)}")
    if ll:
        print(f"AIS: forward only, {a.ais_runs} runs x {a.ais_betas} betas from the base-rate model, the same "
              "estimator and seed for both models (optimistic)")
    print(other_load(start, time.perf_counter() - t_start))
    return rows


def add_pair(rows, model, ours, theirs):
    """Two table rows, (library, seconds per epoch, reconstruction error, log-likelihood) each; the ratio
    of the times goes on pgboltz's row."""
    rows.append((model, *ours, ours[1] / theirs[1]))
    rows.append((model, *theirs, None))


def print_table(rows):
    print("| model | library | s / epoch | test reconstruction error (per pixel) | "
          "AIS test log-likelihood, ±3σ | pgboltz / learnergy time |")
    print("|---|---|---|---|---|---|")
    for model, lib, seconds, err, lik, ratio in rows:
        err_s = "" if err is None else f"{err:.4f}"
        lik_s = "" if lik is None else f"{lik[0]:.2f} [{lik[1]:.2f}, {lik[2]:.2f}]"
        ratio_s = "" if ratio is None else f"{ratio:.2f}"
        print(f"| {model} | {lib} | {seconds:.3f} | {err_s} | {lik_s} | {ratio_s} |")

if __name__ == "__main__":
    main()
