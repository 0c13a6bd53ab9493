"""Convolutional fields: GEMM + im2col/col2im (what pgboltz's ``conv`` factor runs) against FFT, same run.

For each layer shape, times the two fields of one Gibbs sweep -- the detectors' valid
correlation with the kernels and the image's full convolution with them -- computed

* by pgboltz's compiled conv terms (one GEMM each; im2col towards the maps, col2im towards the image),
* by a batched FFT (numpy.fft.rfft2 of image and kernels, products summed over channels),

checks that both give the same fields (1e-4 relative, float32), and prints the ratio.

    python benchmarks/conv_fields.py
    python benchmarks/conv_fields.py --quick
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from pgboltz import CompiledModel
from pgboltz.models import conv_rbm


def median_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fft_fields(v, d, W):
    """(detector field, image field) by FFT: v (n, C, H, Wd), d (n, K, Ho, Wo), W (K, C, kh, kw)."""
    n, C, H, Wd = v.shape
    K, _, kh, kw = W.shape
    Wf = np.fft.rfft2(W, s=(H, Wd))  # (K, C, H, Wd/2+1); circular size H x Wd: no wrap in the valid part
    V = np.fft.rfft2(v, s=(H, Wd))
    up = np.fft.irfft2(np.einsum("ncf,kcf->nkf", V.reshape(n, C, -1), Wf.reshape(K, C, -1).conj())
                       .reshape(n, K, H, -1), s=(H, Wd))[:, :, :H - kh + 1, :Wd - kw + 1]
    D = np.fft.rfft2(d, s=(H, Wd))  # H = Ho + kh - 1: the full convolution fits exactly
    down = np.fft.irfft2(np.einsum("nkf,kcf->ncf", D.reshape(n, K, -1), Wf.reshape(K, C, -1))
                         .reshape(n, C, H, -1), s=(H, Wd))
    return up, down


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--chains", type=int, default=100)
    p.add_argument("--repeats", type=int, default=7)
    a = p.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}; float32, "
          f"{a.chains} chains, {time.strftime('%Y-%m-%d')}")
    layers = [((1, 28, 28), 16, 9), ((16, 10, 10), 24, 5), ((1, 28, 28), 24, 3)]
    if a.quick:
        layers, a.chains, a.repeats = [((1, 12, 12), 4, 5)], 10, 2
    rows = []
    for shape, K, k in layers:
        C, H, Wd = shape
        pool = 1 if (H - k + 1) % 2 else 2
        g = conv_rbm(shape, K, k, pool, scale=0.1, seed=0)
        rng = np.random.default_rng(0)
        model = CompiledModel(g, a.chains, seed=0, dtype="float32", blocks=False)
        states = {n: (rng.random((a.chains, grp.size)) < 0.3).astype(np.float32) for n, grp in g.groups.items()}
        up_terms, down_terms = model.terms("d1", a.chains, None), model.terms("v", a.chains, None)
        W = g.factor("W1").params["W"].astype(np.float32)
        v = states["v"].reshape(a.chains, C, H, Wd)
        d = states["d1"].reshape(a.chains, K, H - k + 1, Wd - k + 1)

        def ours():
            up_terms.fill(states)
            down_terms.fill(states)

        def fft():
            fft_fields(v, d, W)

        up, down = fft_fields(v, d, W)
        ours()
        mine_up = up_terms.fill(states)["linear"].reshape(up.shape) - 0  # the map bias is 0 here
        mine_down = down_terms.fill(states)["linear"].reshape(down.shape)
        scale = max(np.abs(up).max(), np.abs(down).max(), 1.0)
        assert np.abs(mine_up - up).max() < 1e-4 * scale and np.abs(mine_down - down).max() < 1e-4 * scale
        t_ours, t_fft = median_time(ours, a.repeats), median_time(fft, a.repeats)
        rows.append((f"{C}x{H}x{Wd}, {K} maps {k}x{k}", t_ours, t_fft))
        print(f"  {rows[-1][0]}: pgboltz {t_ours * 1e3:.2f} ms, FFT {t_fft * 1e3:.2f} ms "
              f"(FFT / ours {t_fft / t_ours:.2f})", flush=True)
    print("\n| layer | pgboltz (GEMM + im2col/col2im) ms | FFT ms | FFT / pgboltz |")
    print("|---|---|---|---|")
    for name, o, f in rows:
        print(f"| {name} | {o * 1e3:.2f} | {f * 1e3:.2f} | {f / o:.2f} |")
    return rows


if __name__ == "__main__":
    main()
