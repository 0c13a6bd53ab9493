"""DBN pre-training vs random initialisation for an MLP classifier (seed eqs. 22-24).

    python benchmarks/dbn_classify.py                 # digits and MNIST-5k, the figures in RESULTS.md
    python benchmarks/dbn_classify.py --quick         # a few epochs, for the test suite

Greedy layer-wise PCD training of the RBM stack, then the same MLP (sigmoid hidden layers, softmax
output) fine-tuned by backpropagation from the DBN's weights and from Glorot-uniform random weights,
with the same epochs, learning rate and seed. Reports test classification error.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from pgboltz import data
from pgboltz.learning import MLP, OptimConfig, TrainConfig, train_dbn_greedy

SETUPS = {"digits": [64, 100, 100], "mnist5k": [784, 500, 500]}


def run(name, sizes, rbm_epochs, mlp_epochs, seed=0):
    d = getattr(data, name)()
    x, xt = d.train.reshape(len(d.train), -1), d.test.reshape(len(d.test), -1)
    t0 = time.perf_counter()
    cfg = TrainConfig(method="pcd", epochs=rbm_epochs, batch_size=20 if name == "digits" else 100, seed=seed,
                      optim=OptimConfig(lr=0.05, schedule="linear"))
    _, rbms, _ = train_dbn_greedy(x, sizes, cfg)
    t_pre = time.perf_counter() - t0
    out = {}
    for label, net in (("DBN init", MLP.from_rbms(rbms, 10, seed=seed)), ("random init", MLP.random(sizes, 10, seed))):
        t0 = time.perf_counter()
        net.fit(x, d.train_labels, epochs=mlp_epochs, batch_size=50, lr=0.1, momentum=0.9, seed=seed)
        out[label] = (net.error(xt, d.test_labels), time.perf_counter() - t0)
    return out, t_pre, len(x), len(xt)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    rbm_epochs, mlp_epochs = (2, 2) if args.quick else (20, 30)
    results = {}
    print("| data | layers | pre-training | DBN-initialised MLP: test error | random-initialised MLP: test error |")
    print("|---|---|---|---|---|")
    for name, sizes in (SETUPS.items() if not args.quick else [("digits", [64, 16, 16])]):
        out, t_pre, n, nt = run(name, sizes, rbm_epochs, mlp_epochs)
        results[name] = out
        print(f"| {name} ({n}/{nt}) | {'-'.join(map(str, sizes))}-10 | {rbm_epochs} epochs/layer, {t_pre:.0f} s | "
              f"{100 * out['DBN init'][0]:.2f}% ({out['DBN init'][1]:.0f} s) | "
              f"{100 * out['random init'][0]:.2f}% ({out['random init'][1]:.0f} s) |")
    return results


if __name__ == "__main__":
    main()
