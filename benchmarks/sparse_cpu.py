"""Sparse custom topology on the CPU: a Pegasus spin glass, pgboltz against D-Wave's C++ sampler, same run.

The graph is ``pgboltz.bqm.hardware_graph("pegasus", m)``: the Pegasus-m topology of dwave-networkx
(m = 16: 5,640 spins, 40,484 couplers, degree up to 15), couplings J_ij ~ N(0, 1), no fields,
E(s) = -sum_ij J_ij s_i s_j. Both samplers run at the same fixed inverse temperature beta on the
same energy (``pgboltz.bqm.to_bqm`` gives the dimod BQM, b_ij = -J_ij) and both start from random
states. Prints spin updates ("flips", accepted or not) per nanosecond,
chains x spins x sweeps / seconds, for

* pgboltz's ``GibbsSampler`` (NumPy backend, float32): heat-bath updates
  P(s_i = +1 | rest) = sigma(2 beta theta_i), all spins of one colour class at once, every chain in
  one array; the classes come from colouring the graph (their number is printed);
* ``dwave.samplers.SimulatedAnnealingSampler`` held at one beta (``beta_schedule_type="custom"``,
  ``beta_schedule=[beta]``, ``num_sweeps_per_beta=sweeps``): single-site updates in C++, one read after
  the other in one thread, in sequential variable order; with ``proposal_acceptance_criteria``
  "Metropolis" (its default) and "Gibbs" (the heat-bath rule pgboltz draws).

* THRML (Extropic's block-Gibbs library on JAX, CPU), when installed: ``IsingEBM`` with the same
  couplings and pgboltz's colour classes as its free blocks, chains by ``jax.vmap`` of
  ``sample_states``, timed after its JIT compilation (printed separately).

The peer's rate uses the C++ loop's own time (``info["timing"]["sampling_ns"]``, which leaves out its
Python pre- and post-processing), and the cores each sampler kept busy are measured (process CPU
time / wall time). Per core: pgboltz's rate over the cores it may use, the peer's over one.

    python benchmarks/sparse_cpu.py                     # Pegasus-16, 256 chains, 100 sweeps
    python benchmarks/sparse_cpu.py --quick             # Pegasus-4, for a smoke test
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

import pgboltz
from pgboltz import GibbsSampler
from pgboltz.bqm import hardware_graph, to_bqm


def clocks(fn):
    """(wall seconds, process CPU seconds) of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def time_pgboltz(sampler, sweeps, repeats):
    """Median seconds per sweep and the cores kept busy (CPU time / wall time), after a warm-up."""
    sampler.sweep(2)
    runs = [clocks(lambda: sampler.sweep(sweeps)) for _ in range(repeats)]
    wall = statistics.median(w for w, _ in runs)
    return wall / sweeps, sum(c for _, c in runs) / sum(w for w, _ in runs)


def time_dwave(bqm, reads, sweeps, repeats, beta, criterion, seed):
    """Median seconds per sweep (C++ loop only, and whole call), cores used, and the last sample set."""
    from dwave.samplers import SimulatedAnnealingSampler

    sa = SimulatedAnnealingSampler()

    def call(n_reads, n_sweeps, s):
        return sa.sample(bqm, num_reads=n_reads, beta_schedule_type="custom", beta_schedule=[beta],
                         num_sweeps_per_beta=n_sweeps, proposal_acceptance_criteria=criterion, seed=s)

    call(1, 2, seed)  # warm-up
    loop, whole, cpu, out = [], [], [], {}
    for k in range(repeats):
        w, c = clocks(lambda k=k: out.__setitem__("ss", call(reads, sweeps, seed + k)))
        loop.append(out["ss"].info["timing"]["sampling_ns"] * 1e-9 / sweeps)
        whole.append(w / sweeps)
        cpu.append((c, w))
    busy = sum(c for c, _ in cpu) / sum(w for _, w in cpu)
    return statistics.median(loop), statistics.median(whole), busy, out["ss"]


def time_thrml(graph, blocks, chains, sweeps, repeats, beta, seed):
    """THRML on the same spin glass: (seconds per sweep, cores busy, compile seconds, mean energy per spin),
    or None when it is not installed."""
    try:
        import jax
        import jax.numpy as jnp
        import thrml
        from thrml.models import IsingEBM, IsingSamplingProgram, hinton_init
    except ImportError:
        return None
    f = next(f for f in graph.factors if f.kind == "sparse")
    n, (i, j), w = graph.n_units(), f.edges.T, f.params["w"]
    nodes = [thrml.SpinNode() for _ in range(n)]
    model = IsingEBM(nodes, [(nodes[a], nodes[b]) for a, b in zip(i.tolist(), j.tolist())], jnp.zeros(n),
                     jnp.asarray(w, dtype=jnp.float32), jnp.array(float(beta)))
    free = [thrml.Block([nodes[k] for k in b.parts[0].index]) for b in blocks]
    program = IsingSamplingProgram(model, free, clamped_blocks=[])
    k_init, k_run = jax.random.split(jax.random.key(seed))
    init = jax.vmap(lambda k: hinton_init(k, model, free, ()))(jax.random.split(k_init, chains))
    schedule = thrml.SamplingSchedule(n_warmup=sweeps, n_samples=1, steps_per_sample=1)
    run = jax.jit(jax.vmap(lambda k, s: thrml.sample_states(k, program, schedule, s, [], [thrml.Block(nodes)])))
    compile_s, _ = clocks(lambda: jax.block_until_ready(run(jax.random.split(k_run, chains), init)))
    out = {}
    runs = [clocks(lambda r=r: out.__setitem__("x", jax.block_until_ready(
        run(jax.random.split(jax.random.key(seed + 1 + r), chains), init)))) for r in range(repeats)]
    wall = statistics.median(t for t, _ in runs)
    x = np.asarray(out["x"][0])[:, 0, :].astype(np.float64) * 2 - 1  # True -> +1
    energy = float((-(x[:, i] * x[:, j]) @ w).mean()) / n
    return wall / sweeps, sum(c for _, c in runs) / sum(t for t, _ in runs), compile_s, energy


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=16, help="Pegasus size m (16: 5,640 spins)")
    p.add_argument("--chains", type=int, default=256, help="pgboltz chains = D-Wave reads")
    p.add_argument("--sweeps", type=int, default=100, help="sweeps per timed repeat")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats; the median is reported")
    p.add_argument("--beta", type=float, default=1.0, help="inverse temperature, the same for both")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"), help="pgboltz's dtype")
    p.add_argument("--quick", action="store_true", help="Pegasus-4, few sweeps, for a smoke test")
    p.add_argument("--no-thrml", action="store_true", help="leave THRML out even when it is installed")
    a = p.parse_args(argv)
    if a.quick:
        a.size, a.sweeps, a.repeats = 4, 20, 2
    try:
        import dimod
        import dwave.samplers
    except ImportError:
        raise SystemExit("sparse_cpu.py needs dwave-samplers: pip install dwave-samplers") from None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

    t0 = time.perf_counter()
    graph, _ = hardware_graph("pegasus", a.size, seed=0)
    t_graph = time.perf_counter() - t0
    n = graph.n_units()
    edges = sum(len(f.edges) for f in graph.factors if f.kind == "sparse")
    t0 = time.perf_counter()
    sampler = GibbsSampler(graph, chains=a.chains, seed=0, beta=a.beta, dtype=a.dtype)
    t_sampler = time.perf_counter() - t0
    t0 = time.perf_counter()
    bqm = to_bqm(graph)
    t_bqm = time.perf_counter() - t0

    print(f"Pegasus-{a.size} spin glass: {n} spins, {edges} couplers, J ~ N(0, 1), beta = {a.beta}; "
          f"{a.chains} chains / reads, median of {a.repeats} x {a.sweeps} sweeps")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs ({cores} usable), "
          f"Python {platform.python_version()}, numpy {np.__version__}, pgboltz {pgboltz.__version__}, "
          f"dimod {dimod.__version__}, dwave-samplers {dwave.samplers.__version__}; {time.strftime('%Y-%m-%d')}")
    print(f"pgboltz: {len(sampler.model.blocks)} colour classes; graph built in {t_graph:.2f} s, "
          f"GibbsSampler constructed in {t_sampler:.2f} s (colouring included); to_bqm {t_bqm:.2f} s")

    t_ours, busy_ours = time_pgboltz(sampler, a.sweeps, a.repeats)
    e_ours = float(sampler.energy().mean()) / n
    sampler.backend.close()
    jax_peer = None if a.no_thrml else time_thrml(graph, sampler.blocks, a.chains, a.sweeps, a.repeats, a.beta, 1)
    peers = {}
    for criterion in ("Metropolis", "Gibbs"):
        peers[criterion] = time_dwave(bqm, a.chains, a.sweeps, a.repeats, a.beta, criterion, seed=1)

    flips = a.chains * n
    ours = flips / t_ours / 1e9
    rows = [(f"pgboltz GibbsSampler (NumPy, {a.dtype})", cores, busy_ours, t_ours, ours, e_ours)]
    if jax_peer is not None:
        t_j, busy_j, compile_j, e_j = jax_peer
        rows.append(("THRML (JAX, CPU), pgboltz's colour classes", cores, busy_j, t_j, flips / t_j / 1e9, e_j))
    for criterion, (t_loop, _, busy, ss) in peers.items():
        rows.append((f"dwave SA at fixed beta, {criterion}", 1, busy, t_loop, flips / t_loop / 1e9,
                     float(ss.record.energy.mean()) / n))
    ours_per_core = ours / cores
    print()
    print("| sampler | cores counted | cores busy | ms / sweep | flips / ns | flips / ns per core "
          "| pgboltz per core / this | energy per spin |")
    print("|---|---|---|---|---|---|---|---|")
    for name, c, busy, t, rate, e in rows:
        print(f"| {name} | {c} | {busy:.2f} | {t * 1e3:.3f} | {rate:.4f} | {rate / c:.4f} "
              f"| {ours_per_core / (rate / c):.2f} | {e:.4f} |")
    print()
    if jax_peer is not None:
        print(f"THRML: compiled in {jax_peer[2]:.1f} s (not counted)")
    for criterion, (t_loop, t_whole, _, _) in peers.items():
        print(f"dwave {criterion}: the whole call took {t_whole * 1e3:.3f} ms / sweep "
              f"({t_whole / t_loop:.2f}x its C++ loop)")
    ratio = ours_per_core / (flips / peers["Metropolis"][0] / 1e9)
    print(f"goal (pgboltz >= 2x the C++ Metropolis sampler per core): {ratio:.2f}x, "
          f"{'met' if ratio >= 2 else 'not met'}")
    return rows


if __name__ == "__main__":
    main()
