"""GPU sampling and training against peers measured in the same run (needs CuPy and a CUDA GPU).

1. Dense RBM Gibbs (784x500 and 4096x4096; 1k / 10k / 100k chains), milliseconds per sweep:
   * floor -- the sweep's two cuBLAS GEMMs alone at the same precision, nothing else;
   * pgboltz fused -- GibbsSampler on the CuPy backend (fused update kernels, the default);
   * pgboltz unfused -- the same with fused=False (noise buffer + array code);
   * PyTorch -- a careful hand-written sampler (preallocated, in place: addmm, sigmoid, rand, compare).
   Ratios: floor / fused (1.0 is the floor) and PyTorch / fused (speed-up over PyTorch).
2. 2-D periodic Ising 4096^2, checkerboard on int8 states: flips per nanosecond.
   Pegasus-like sparse spin glass (5,600 spins, 40,000 couplers): flips per nanosecond of
   pgboltz (one cuSPARSE CSR product and one fused update per colour) against a hand-written
   PyTorch sampler with torch.sparse CSR products.
3. Training: one PCD-1 epoch of the 784x500 RBM on MNIST-5k (4000 images, batch 100),
   CuPy against the NumPy backend on this machine's CPU.
4. Precision: marginals of a 12x2000 RBM (exact by enumerating v) sampled with float32 and with TF32 products,
   as z-scores against the exact marginals (same chains and sweeps).

    python benchmarks/gpu_sampling.py            # everything (about 3 minutes on an H100)
    python benchmarks/gpu_sampling.py --quick    # small sizes, a smoke test
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np


def gpu_time(run, sweeps, repeats, sync):
    """Median seconds per sweep of ``run(n)`` (one call of n sweeps), after a warm-up."""
    run(2)
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(sweeps)
        sync()
        times.append((time.perf_counter() - t0) / sweeps)
    return statistics.median(times)


def warm_up(seconds=3.0):
    """Run large products until the GPU's clocks have left idle (they start at a few hundred MHz)."""
    import cupy as cp

    a = cp.random.random((4096, 4096), dtype=cp.float32)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10):
            a @ a
        cp.cuda.Device().synchronize()


def tf32_effect():
    """Largest relative change of a float32 product when cuBLAS may use TF32 (0: the switch did nothing)."""
    import cupy as cp

    from pgboltz.backends.cupy_backend import _tf32

    a = cp.random.random((1024, 1024), dtype=cp.float32)
    b = cp.random.random((1024, 1024), dtype=cp.float32)
    exact = a.astype(cp.float64) @ b.astype(cp.float64)
    full = a @ b
    with _tf32(cp):
        fast = a @ b
    rel = lambda x: float(cp.abs(x - exact).max() / cp.abs(exact).max())  # noqa: E731
    return rel(full), rel(fast)


def rbm_rows(sizes, chain_counts, sweeps, repeats):
    import cupy as cp

    from pgboltz import GibbsSampler
    from pgboltz.backends.cupy_backend import CupyBackend
    from pgboltz.models import rbm

    try:
        import torch
    except ImportError:
        torch = None
    sync = cp.cuda.Device().synchronize
    rows = []
    for nv, nh in sizes:
        g = rbm(nv, nh, scale=0.05, seed=0)
        W = g.factor("W").params["W"].astype(np.float32)
        b, c = (g.factor(n).params["b"].astype(np.float32) for n in ("b", "c"))
        for chains in chain_counts:
            Wd = cp.asarray(W)
            v = (cp.random.random((chains, nv), dtype=cp.float32) < 0.5).astype(cp.float32)
            h = cp.empty((chains, nh), cp.float32)
            fv = cp.empty((chains, nv), cp.float32)

            def floor(n):
                for _ in range(n):
                    cp.matmul(v, Wd, out=h)
                    cp.matmul(h, Wd.T, out=fv)

            t_floor = gpu_time(floor, sweeps, repeats, sync)
            del v, h, fv
            res = {}
            for fused in (True, False):
                s = GibbsSampler(g, chains=chains, backend=CupyBackend(seed=0, fused=fused))
                res[fused] = gpu_time(s.sweep, sweeps, repeats, sync)
                del s
            t_torch = None
            if torch is not None:
                dev = "cuda"
                torch.backends.cuda.matmul.allow_tf32 = False
                Wt = torch.from_numpy(W).to(dev)
                bt, ct = torch.from_numpy(b).to(dev), torch.from_numpy(c).to(dev)
                gen = torch.Generator(device=dev).manual_seed(0)
                tv = (torch.rand((chains, nv), device=dev, generator=gen) < 0.5).float()
                th = torch.empty((chains, nh), device=dev)
                fh_, fv_ = torch.empty_like(th), torch.empty_like(tv)
                uh, uv = torch.empty_like(th), torch.empty_like(tv)

                def half(x, M, bias, field, u, out):
                    torch.addmm(bias, x, M, out=field)
                    torch.sigmoid(field, out=field)
                    u.uniform_(generator=gen)
                    torch.lt(u, field, out=out)

                th_b = torch.empty((chains, nh), device=dev, dtype=torch.bool)
                tv_b = torch.empty((chains, nv), device=dev, dtype=torch.bool)

                def torch_run(n):
                    for _ in range(n):
                        half(tv, Wt, ct, fh_, uh, th_b)
                        th.copy_(th_b)
                        half(th, Wt.T, bt, fv_, uv, tv_b)
                        tv.copy_(tv_b)

                t_torch = gpu_time(torch_run, sweeps, repeats, torch.cuda.synchronize)
                del tv, th, fh_, fv_, uh, uv, th_b, tv_b
                torch.cuda.empty_cache()
            cp.get_default_memory_pool().free_all_blocks()
            rows.append((f"{nv}x{nh}", chains, t_floor, res[True], res[False], t_torch))
            print(f"  {nv}x{nh} chains={chains}: floor {t_floor * 1e3:.3f} ms, fused {res[True] * 1e3:.3f}, "
                  f"unfused {res[False] * 1e3:.3f}, torch {'-' if t_torch is None else f'{t_torch * 1e3:.3f}'}",
                  flush=True)
    return rows


def ising_rows(sizes, chain_counts, sweeps, repeats):
    import cupy as cp

    from pgboltz.models import ising
    from pgboltz.sampling import CheckerboardSampler

    rows = []
    for L in sizes:
        for chains in chain_counts:
            s = CheckerboardSampler(ising(L, L, J=0.44), chains=chains, backend="cupy", seed=0)
            t = gpu_time(s.sweep, sweeps, repeats, cp.cuda.Device().synchronize)
            rows.append((L, chains, t, chains * L * L / t / 1e9))
            print(f"  Ising {L}^2 x {chains} chains: {t * 1e3:.3f} ms/sweep, {rows[-1][3]:.1f} flips/ns", flush=True)
            del s
    return rows


def pegasus_like(n_groups=4, size=1400, edges=40000, seed=0):
    """A sparse spin glass shaped like a Pegasus-16 graph (5,600 spins, 40,000 couplers, degree ~14):
    four colour classes of spins with random couplings only between classes, so the schedule is
    the four classes (no unit-level colouring needed)."""
    from pgboltz import Bias, FactorGraph, Sparse

    r = np.random.default_rng(seed)
    g = FactorGraph("pegasus-like")
    for k in range(n_groups):
        g.add_group(f"s{k}", size, "spin")
        g.add_factor(Bias(f"s{k}", r.normal(0, 0.1, size)))
    pairs = [(a, b) for a in range(n_groups) for b in range(a + 1, n_groups)]
    per = edges // len(pairs)
    for a, b in pairs:
        flat = r.choice(size * size, per, replace=False)
        g.add_factor(Sparse(f"s{a}", f"s{b}", np.stack([flat // size, flat % size], 1), r.normal(0, 0.3, per)))
    return g


def sparse_rows(chain_counts, sweeps, repeats):
    import cupy as cp

    from pgboltz import GibbsSampler

    try:
        import torch
    except ImportError:
        torch = None
    g = pegasus_like()
    n = g.n_units()
    rows = []
    for chains in chain_counts:
        s = GibbsSampler(g, chains=chains, backend="cupy", seed=0)
        t_ours = gpu_time(s.sweep, sweeps, repeats, cp.cuda.Device().synchronize)
        del s
        t_torch = None
        if torch is not None:
            # hand-written: states kept transposed (units, chains) so each colour is one CSR x dense product
            dev = "cuda"
            offsets = np.cumsum([0] + [g.group(k).size for k in g.groups])
            index = {k: (offsets[i], offsets[i + 1]) for i, k in enumerate(g.groups)}
            ii, jj, ww = [], [], []
            bias = torch.zeros(n, device=dev)
            for f in g.factors:
                if f.kind == "bias":
                    a0, a1 = index[f.groups[0]]
                    bias[a0:a1] = torch.from_numpy(f.params["b"].astype(np.float32)).to(dev)
                    continue
                (a, b), e = f.groups, f.edges
                i, j = e[:, 0] + index[a][0], e[:, 1] + index[b][0]
                ii += [i, j]
                jj += [j, i]
                ww += [f.params["w"], f.params["w"]]
            ii, jj, ww = np.concatenate(ii), np.concatenate(jj), np.concatenate(ww).astype(np.float32)
            mats = []
            for k in g.groups:
                a0, a1 = index[k]
                keep = (ii >= a0) & (ii < a1)
                coo = torch.sparse_coo_tensor(torch.from_numpy(np.stack([ii[keep] - a0, jj[keep]])),
                                              torch.from_numpy(ww[keep]), (a1 - a0, n))
                mats.append((a0, a1, coo.to_sparse_csr().to(dev)))
            gen = torch.Generator(device=dev).manual_seed(0)
            X = torch.where(torch.rand((n, chains), device=dev, generator=gen) < 0.5, 1.0, -1.0)
            U = torch.empty((max(a1 - a0 for a0, a1, _ in mats), chains), device=dev)

            def torch_run(m):
                for _ in range(m):
                    for a0, a1, A in mats:
                        field = A @ X  # (n_a, chains)
                        field += bias[a0:a1, None]
                        p = torch.sigmoid(2.0 * field)
                        u = U[: a1 - a0].uniform_(generator=gen)
                        X[a0:a1] = torch.where(u < p, 1.0, -1.0)

            t_torch = gpu_time(torch_run, sweeps, repeats, torch.cuda.synchronize)
            del X, U, mats
            torch.cuda.empty_cache()
        rows.append((chains, t_ours, t_torch))
        tt = "-" if t_torch is None else f"{chains * n / t_torch / 1e9:.2f} flips/ns ({t_torch * 1e3:.3f} ms)"
        print(f"  {n} spins x {chains} chains: pgboltz {chains * n / t_ours / 1e9:.2f} flips/ns "
              f"({t_ours * 1e3:.3f} ms/sweep), PyTorch sparse {tt}", flush=True)
    return rows


def training_rows(epochs_cpu, epochs_gpu):
    from pgboltz import data
    from pgboltz.learning import OptimConfig, TrainConfig, Trainer
    from pgboltz.specs import load

    d = data.mnist5k()
    rows = []
    for backend, epochs in (("numpy", epochs_cpu), ("cupy", epochs_gpu)):
        per = None
        for n in (1, epochs):  # the first fit warms up (kernel compilation, allocations)
            g = load("rbm-784x500")
            t = Trainer(g, d.for_graph(g), TrainConfig(method="pcd", k=1, epochs=n, batch_size=100, backend=backend,
                                                       optim=OptimConfig(lr=0.05, weight_decay=2e-4)))
            t0 = time.perf_counter()
            t.fit()
            per = (time.perf_counter() - t0) / n
        rows.append((backend, per, t.history[-1]["reconstruction_error"]))
        print(f"  PCD-1 epoch on {backend}: {per:.3f} s (reconstruction error {rows[-1][2]:.4f})", flush=True)
    return rows


def precision_rows(chains, sweeps):
    """A 12x2000 RBM (exact: 4096 visible states, hiddens summed): its h-to-v product has K = 2000,
    large enough for cuBLAS to pick tensor-core kernels when TF32 is allowed."""
    from pgboltz import GibbsSampler
    from pgboltz.backends.cupy_backend import CupyBackend
    from pgboltz.exact import exact
    from pgboltz.models import rbm

    g = rbm(12, 2000, scale=0.05, seed=1)
    ex = exact(g, second_moments=False)
    rows, finals = [], {}
    for precision in ("float32", "tf32"):
        s = GibbsSampler(g, chains=chains, backend=CupyBackend(seed=1, precision=precision))
        r = s.run(sweeps, burn_in=100, batches=100)
        m = r.moments
        finals[precision] = r.final["v"]
        se = np.maximum(m.flat_mean_se(), 0.5 / (m.n_samples * m.n_chains))
        z = np.abs(m.flat_mean() - ex.mean) / se
        err = np.abs(m.flat_mean() - ex.mean).max()
        rows.append((precision, z.max(), err, se.mean()))
        print(f"  {precision}: max |z| {z.max():.2f} over {len(z)} marginals, max error {err:.2e} "
              f"(mean standard error {se.mean():.1e})", flush=True)
    moved = float((finals["float32"] != finals["tf32"]).mean())
    print(f"  same seed, final visible states differing between the two: {moved:.3%} "
          "(0 would mean no product ran on TF32)")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    p.add_argument("--skip", default="", help="comma-separated parts to skip: rbm,ising,sparse,train,precision")
    a = p.parse_args(argv)
    import cupy as cp

    skip = set(filter(None, a.skip.split(",")))
    dev = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    print(f"device: {dev['name'].decode()}, CuPy {cp.__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    warm_up()
    if a.quick:
        sizes, chains, sweeps, repeats = [(784, 500)], [1000], 5, 3
        lattices, lattice_chains = [256], [1]
    else:
        sizes, chains, sweeps, repeats = [(784, 500), (4096, 4096)], [1000, 10000, 100000], 20, 5
        lattices, lattice_chains = [4096], [1, 4]
    if "rbm" not in skip:
        print("RBM Gibbs sweeps (float32):")
        rows = rbm_rows(sizes, chains, sweeps, repeats)
        print("\n| RBM | chains | floor ms | fused ms | unfused ms | PyTorch ms | floor/fused | PyTorch/fused |")
        print("|---|---|---|---|---|---|---|---|")
        for name, n, fl, fu, un, to in rows:
            tt = "-" if to is None else f"{to * 1e3:.3f}"
            tr = "-" if to is None else f"{to / fu:.2f}"
            print(f"| {name} | {n} | {fl * 1e3:.3f} | {fu * 1e3:.3f} | {un * 1e3:.3f} | {tt} | {fl / fu:.2f} | {tr} |")
    if "ising" not in skip:
        print("\n2-D Ising, checkerboard on int8 states:")
        ising_rows(lattices, lattice_chains, 20 if not a.quick else 5, repeats)
    if "sparse" not in skip:
        print("\nPegasus-like sparse spin glass (5,600 spins, 40,000 couplers), CSR products:")
        sparse_rows([1000] if a.quick else [1000, 10000], 5 if a.quick else 20, repeats)
    if "train" not in skip:
        print("\nPCD-1 training epoch, 784x500 RBM on MNIST-5k:")
        rows = training_rows(1 if a.quick else 2, 1 if a.quick else 5)
        if len(rows) == 2:
            print(f"  CPU / GPU: {rows[0][1] / rows[1][1]:.1f}x")
    if "precision" not in skip:
        full, fast = tf32_effect()
        print(f"\nfloat32 product error {full:.1e}, with TF32 allowed {fast:.1e} (1024^3, relative to the largest entry)")
        print("Precision of products, 12x2000 RBM marginals against exact:")
        precision_rows(2000 if a.quick else 20000, 50 if a.quick else 400)


if __name__ == "__main__":
    main()
