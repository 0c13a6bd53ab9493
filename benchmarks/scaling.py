"""Scaling of a Gibbs sweep with the number of chains and with the model's size, for each kind of model.

Four kinds, each sampled by pgboltz's ``GibbsSampler`` (NumPy backend, float32):

* ``rbm`` -- a dense bipartite RBM n x n (``pgboltz.models.rbm``): one GEMM per half-sweep;
* ``sparse`` -- a custom topology: one group of spins joined by a ``Sparse`` factor over random edges,
  mean degree 14 (the edge-list path that ``pgboltz.bqm`` and ``pgboltz.interop`` use; the schedule
  comes from colouring the graph, once per size, and is reused across chain counts);
* ``ising`` -- a 2-D periodic L x L Ising lattice (``pgboltz.models.ising``, checkerboard halves);
* ``conv`` -- a convolutional RBM (``pgboltz.models.conv_rbm``): a 1 x H x H image, 8 kernels 5 x 5,
  2 x 2 probabilistic max pooling.

Size is measured in unit-level couplings, the pairs (i, j) with an energy term w_ij x_i x_j: n^2 for the
RBM, the edges for ``sparse``, 2 L^2 for the lattice, 8 x 25 x (H - 4)^2 for the conv RBM (shared
kernels counted at every position), so one sweep's arithmetic per chain is proportional to it.

Two curves per kind: seconds per sweep against chains (1 to 1e5, log-spaced) at a fixed size
(``--size`` couplings), and against size (1e3 to 1e6 couplings) at fixed ``--chains``. A point is
skipped when its estimated memory (``pgboltz.model.state_bytes``, parameters, conv buffers) exceeds
``--max-gib`` or when the previous point, scaled linearly, predicts a sweep longer than
``--max-seconds``; a curve stops at its first skipped point. Each point: one warm-up sweep and a short
calibration, then the median over ``--repeats`` of runs of about ``--target`` seconds. The log-log slope is fitted
(``np.polyfit``) on the upper half of each curve's points. Writes ``scaling_chains.png``,
``scaling_size.png`` and ``scaling.csv`` into ``--out-dir`` and prints Markdown tables.

    python benchmarks/scaling.py                        # full curves (several minutes on 2 cores)
    python benchmarks/scaling.py --quick --out-dir /tmp/scaling      # a smoke test, under a minute
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

import pgboltz
from pgboltz import Bias, FactorGraph, GibbsSampler, Sparse
from pgboltz.model import state_bytes
from pgboltz.models import conv_rbm, ising, rbm

KINDS = ("rbm", "sparse", "ising", "conv")
DEGREE = 14  # mean degree of the random sparse graph
CONV_MAPS, CONV_KERNEL, CONV_POOL = 8, 5, 2


def random_sparse(n_units, n_edges, seed=0):
    """One spin group, ``n_edges`` distinct random pairs i < j with weights N(0, 0.3^2), zero fields."""
    r = np.random.default_rng(seed)
    i, j = r.integers(0, n_units, (2, 2 * n_edges))
    keep = i < j
    flat = np.unique(i[keep].astype(np.int64) * n_units + j[keep])
    flat = r.permutation(flat)[:n_edges]
    g = FactorGraph("random-sparse", f"{n_units} spins, {len(flat)} random couplings")
    g.add_group("s", n_units, "spin")
    g.add_factor(Sparse("s", "s", np.stack([flat // n_units, flat % n_units], 1), r.normal(0, 0.3, len(flat))))
    g.add_factor(Bias("s", np.zeros(n_units)))
    return g, len(flat)


def even(x, least=2):
    return max(least, 2 * round(x / 2))


def build(kind, couplings):
    """(graph, unit-level couplings, extra scratch elements per chain) for about ``couplings`` couplings."""
    if kind == "rbm":
        n = max(2, round(math.sqrt(couplings)))
        return rbm(n, n, scale=0.05, seed=0), n * n, 0
    if kind == "sparse":
        g, edges = random_sparse(max(2 * DEGREE, round(2 * couplings / DEGREE)), int(couplings))
        return g, edges, 0
    if kind == "ising":
        L = even(math.sqrt(couplings / 2), least=4)
        return ising(L, L, J=0.4), 2 * L * L, 0
    if kind == "conv":
        per = CONV_MAPS * CONV_KERNEL ** 2  # couplings per detector position (one image channel)
        Ho = even(math.sqrt(couplings / per), least=CONV_POOL)
        H = Ho + CONV_KERNEL - 1
        g = conv_rbm((1, H, H), CONV_MAPS, CONV_KERNEL, CONV_POOL, scale=0.05, seed=0)
        # im2col buffers towards the maps and towards the image, and the products, per chain
        extra = 2 * Ho * Ho * CONV_KERNEL ** 2 + 2 * Ho * Ho * CONV_MAPS + H * H
        return g, per * Ho * Ho, extra
    raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")


def memory_bytes(graph, chains, extra, itemsize=4):
    params = sum(np.asarray(v).size for f in graph.factors for v in f.params.values()) * itemsize
    return state_bytes(graph, chains, itemsize) + chains * extra * itemsize + params


def time_sweep(sampler, target, repeats):
    """Median seconds per sweep: one warm-up sweep, a calibration (doubling the sweeps until they take a
    fifth of ``target``), then ``repeats`` runs of about ``target`` seconds each."""
    sampler.sweep(1)
    k = 1
    while True:
        t0 = time.perf_counter()
        sampler.sweep(k)
        spent = time.perf_counter() - t0
        if spent >= target / 5 or k >= 64:
            break
        k *= 2
    n = max(1, min(200, round(target * k / max(spent, 1e-9))))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sampler.sweep(n)
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def curve(kind, axis, xs, fixed, a, log):
    """Points ``(x, chains, units, couplings, seconds per sweep, construction seconds)`` of one curve."""
    points, blocks, cache = [], None, None
    for x in xs:
        if axis == "chains":
            chains = int(x)
            if cache is None:
                cache = build(kind, fixed)
            graph, couplings, extra = cache
        else:
            chains = fixed
            graph, couplings, extra = build(kind, x)
            blocks = None
        need = memory_bytes(graph, chains, extra)
        if need > a.max_gib * 2**30:
            log(f"  {kind}, {axis} = {x:g}: skipped, needs about {need / 2**30:.1f} GiB (> {a.max_gib:g})")
            break
        if points:
            px = points[-1][1] if axis == "chains" else points[-1][3]
            guess = points[-1][4] * (chains if axis == "chains" else couplings) / px
            if guess > a.max_seconds:
                log(f"  {kind}, {axis} = {x:g}: skipped, a sweep would take about {guess:.1f} s (> {a.max_seconds:g})")
                break
        t0 = time.perf_counter()
        sampler = GibbsSampler(graph, chains=chains, seed=0, dtype="float32", blocks=blocks)
        built = time.perf_counter() - t0
        if kind == "sparse" and axis == "chains":
            blocks = sampler.blocks  # the colouring depends on the graph only
        t = time_sweep(sampler, a.target, a.repeats)
        sampler.backend.close()
        del sampler
        points.append((x, chains, graph.n_units(), couplings, t, built))
        log(f"  {kind}, {axis} = {x:g}: {chains} chains, {graph.n_units()} units, {couplings} couplings: "
            f"{t * 1e3:.3f} ms / sweep (built in {built:.2f} s)")
    return points


def slope(points, axis):
    """Log-log slope of seconds per sweep against chains or couplings, fitted on the upper half."""
    upper = points[len(points) // 2:]
    if len(upper) < 2:
        return float("nan"), upper
    x = [p[1] if axis == "chains" else p[3] for p in upper]
    return float(np.polyfit(np.log(x), np.log([p[4] for p in upper]), 1)[0]), upper


def plot(results, axis, title, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.add_subplot()
    for kind, curves in results.items():
        pts = curves[axis]
        if not pts:
            continue
        s, _ = slope(pts, axis)
        x = [p[1] if axis == "chains" else p[3] for p in pts]
        ax.loglog(x, [p[4] for p in pts], "o-", label=f"{kind} (slope {s:.2f})")
    ax.set_xlabel("chains" if axis == "chains" else "unit-level couplings")
    ax.set_ylabel("seconds per sweep")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--size", type=float, default=1e5, help="couplings of the models on the chains curve")
    p.add_argument("--chains", type=int, default=16, help="chains on the size curve")
    p.add_argument("--chain-range", type=float, nargs=2, default=(1, 1e5), metavar=("LO", "HI"))
    p.add_argument("--size-range", type=float, nargs=2, default=(1e3, 1e6), metavar=("LO", "HI"))
    p.add_argument("--points", type=int, default=11, help="log-spaced points on the chains curve")
    p.add_argument("--size-points", type=int, default=7, help="log-spaced points on the size curve")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per point; the median is reported")
    p.add_argument("--target", type=float, default=0.25, help="seconds per timed repeat (sweeps chosen to fit)")
    p.add_argument("--max-seconds", type=float, default=2.0, help="skip points whose sweep would take longer")
    p.add_argument("--max-gib", type=float, default=2.0, help="skip points whose memory would exceed this")
    p.add_argument("--out-dir", default="benchmarks/scaling", help="where the PNGs and the CSV go")
    p.add_argument("--quick", action="store_true", help="few small points, for a smoke test (< 1 minute)")
    a = p.parse_args(argv)
    if a.quick:
        a.size, a.chain_range, a.points = 1e4, (1, 1e4), 5
        a.size_range, a.size_points, a.repeats, a.target = (1e3, 1e5), 3, 3, 0.03
    out = Path(a.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs ({cores} usable), "
          f"Python {platform.python_version()}, numpy {np.__version__}, pgboltz {pgboltz.__version__}; "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"GibbsSampler, NumPy backend, float32; chains curve at {a.size:g} couplings, size curve at "
          f"{a.chains} chains; median of {a.repeats} runs of ~{a.target:g} s per point", flush=True)

    chain_xs = np.unique(np.round(np.logspace(*np.log10(a.chain_range), a.points)).astype(int))
    size_xs = np.unique(np.round(np.logspace(*np.log10(a.size_range), a.size_points)).astype(int))
    results = {}
    started = time.perf_counter()
    for kind in a.kinds:
        results[kind] = {"chains": curve(kind, "chains", chain_xs, a.size, a, lambda s: print(s, flush=True)),
                         "size": curve(kind, "size", size_xs, a.chains, a, lambda s: print(s, flush=True))}

    print(f"\nall points in {time.perf_counter() - started:.1f} s\n")
    print("| kind | axis | chains | units | couplings | ms / sweep | ns / (chain x coupling) | built in s |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for kind, curves in results.items():
        for axis, pts in curves.items():
            for x, chains, units, couplings, t, built in pts:
                rows.append((kind, axis, chains, units, couplings, t, built))
                print(f"| {kind} | {axis} | {chains} | {units} | {couplings} | {t * 1e3:.3f} "
                      f"| {t / (chains * couplings) * 1e9:.3f} | {built:.2f} |")
    print("\nLog-log slopes of seconds per sweep, fitted on the upper half of each curve's points:\n")
    print("| kind | vs chains | chains fitted | vs couplings | couplings fitted |")
    print("|---|---|---|---|---|")
    for kind, curves in results.items():
        cells = []
        for axis in ("chains", "size"):
            s, upper = slope(curves[axis], axis)
            span = (f"{upper[0][1 if axis == 'chains' else 3]:g} - {upper[-1][1 if axis == 'chains' else 3]:g}"
                    if len(upper) >= 2 else "too few points")
            cells += [f"{s:.2f}", span]
        print(f"| {kind} | " + " | ".join(cells) + " |")

    with open(out / "scaling.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["kind", "axis", "chains", "units", "couplings", "seconds_per_sweep", "construction_seconds"])
        w.writerows(rows)
    try:
        plot(results, "chains", f"seconds per sweep vs chains, {a.size:g} couplings", out / "scaling_chains.png")
        plot(results, "size", f"seconds per sweep vs size, {a.chains} chains", out / "scaling_size.png")
        print(f"\nwrote {out / 'scaling_chains.png'}, {out / 'scaling_size.png'}, {out / 'scaling.csv'}")
    except ImportError:
        print(f"\nwrote {out / 'scaling.csv'} (no plots: pip install matplotlib)")
    return results


if __name__ == "__main__":
    main()
