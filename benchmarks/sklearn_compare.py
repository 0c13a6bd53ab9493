"""pgboltz's BernoulliRBM against scikit-learn's, as feature extractors for logistic regression.

    python benchmarks/sklearn_compare.py            # digits (scikit-learn's example) and MNIST-5k, 3 seeds
    python benchmarks/sklearn_compare.py --quick    # a small slice of digits, for the test suite

The pipeline of scikit-learn's example "Restricted Boltzmann Machine features for digit
classification" (plot_rbm_logistic_classification): an RBM with n_components=100,
learning_rate=0.06, n_iter=10, batch_size=10, then LogisticRegression(C=6000, solver="newton-cg").
The example passes tol=1 to newton-cg; from scikit-learn 1.9 on, that stops the solver before its
first iteration (chance accuracy), so the default tol is used here.

* digits: as in the example, the 1797 8x8 digits and four copies shifted by one pixel (8985
  images), min-max scaled to [0, 1] grey levels, 80/20 split (random_state=0). pgboltz draws a
  binary image from the grey levels every epoch; scikit-learn uses them as probabilities.
* mnist5k: :func:`pgboltz.data.mnist5k` (binarised at 128, 4000 / 1000).

Each RBM is run with several seeds (random_state); the table gives the mean and the spread
(min-max) of test accuracy and the mean times of the RBM's fit and of the classifier's fit.
Raw-pixel logistic regression is the reference row. Both RBMs run on the CPU (NumPy).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np


def nudged_digits(quick=False):
    """scikit-learn's example data: digits plus 1-pixel shifts, scaled to [0, 1], split 80/20."""
    from scipy.ndimage import convolve
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import minmax_scale

    d = load_digits()
    X, y = np.asarray(d.data, dtype=np.float32), d.target
    shifts = [[[0, 1, 0], [0, 0, 0], [0, 0, 0]], [[0, 0, 0], [1, 0, 0], [0, 0, 0]],
              [[0, 0, 0], [0, 0, 1], [0, 0, 0]], [[0, 0, 0], [0, 0, 0], [0, 1, 0]]]
    if not quick:
        moved = [np.apply_along_axis(lambda x, w: convolve(x.reshape(8, 8), mode="constant", weights=w).ravel(),
                                     1, X, w) for w in shifts]
        X, y = np.concatenate([X] + moved), np.concatenate([y] * 5)
    X = minmax_scale(X, feature_range=(0, 1))
    return train_test_split(X, y, test_size=0.2, random_state=0)


def mnist5k():
    from pgboltz import data

    d = data.mnist5k()
    flat = lambda x: x.reshape(len(x), -1)
    return flat(d.train), flat(d.test), d.train_labels, d.test_labels


def classifier(quick):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, max_iter=300) if quick else LogisticRegression(C=6000, solver="newton-cg")


def run_one(make_rbm, Xtr, Xte, ytr, yte, quick):
    """(accuracy, RBM fit seconds, classifier fit seconds); make_rbm None: raw pixels."""
    t0 = time.perf_counter()
    if make_rbm is None:
        Ftr, Fte = Xtr, Xte
    else:
        rbm = make_rbm().fit(Xtr)
        Ftr, Fte = rbm.transform(Xtr), rbm.transform(Xte)
    t1 = time.perf_counter()
    clf = classifier(quick).fit(Ftr, ytr)
    t2 = time.perf_counter()
    return float(clf.score(Fte, yte)), t1 - t0, t2 - t1


def machine() -> str:
    import sklearn

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{datetime.date.today()}, {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"NumPy {np.__version__}, scikit-learn {sklearn.__version__}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a slice of digits, small RBMs, one seed")
    p.add_argument("--seeds", type=int, default=3, help="random_state 0..seeds-1 for each RBM (default 3)")
    p.add_argument("--data", nargs="+", default=["digits", "mnist5k"], choices=["digits", "mnist5k"])
    args = p.parse_args(argv)

    from sklearn.neural_network import BernoulliRBM as SklearnRBM

    from pgboltz.sklearn import BernoulliRBM as PgboltzRBM

    quick = args.quick
    settings = dict(n_components=16, learning_rate=0.06, n_iter=2, batch_size=10) if quick else \
        dict(n_components=100, learning_rate=0.06, n_iter=10, batch_size=10)
    seeds = range(1 if quick else args.seeds)
    rows = [("raw pixels + LR", None, [0]),
            ("sklearn BernoulliRBM + LR", lambda s: SklearnRBM(random_state=s, **settings), seeds),
            ("pgboltz BernoulliRBM (PCD-1) + LR", lambda s: PgboltzRBM(random_state=s, **settings), seeds),
            ("pgboltz BernoulliRBM (CD-1) + LR", lambda s: PgboltzRBM(random_state=s, method="cd", **settings), seeds)]
    print(f"machine: {machine()}")
    print(f"RBM: {settings}; classifier: {classifier(quick)}")
    results = {}
    for name in (["digits"] if quick else args.data):
        Xtr, Xte, ytr, yte = nudged_digits(quick) if name == "digits" else mnist5k()
        if quick:
            Xtr, ytr = Xtr[:400], ytr[:400]
        print(f"\n{name}: {len(Xtr)} train / {len(Xte)} test, {Xtr.shape[1]} features")
        print("| pipeline | test accuracy (mean [min, max]) | RBM fit (s) | LR fit (s) |")
        print("|---|---|---|---|")
        results[name] = {}
        for label, make, run_seeds in rows:
            runs = [run_one(None if make is None else (lambda s=s: make(s)), Xtr, Xte, ytr, yte, quick)
                    for s in run_seeds]
            acc = np.array([r[0] for r in runs])
            fit, lr = np.mean([r[1] for r in runs]), np.mean([r[2] for r in runs])
            results[name][label] = {"accuracy": acc.tolist(), "rbm_seconds": float(fit), "lr_seconds": float(lr)}
            spread = f" [{acc.min():.4f}, {acc.max():.4f}]" if len(acc) > 1 else ""
            rbm_time = "-" if make is None else f"{fit:.2f}"
            print(f"| {label} | {acc.mean():.4f}{spread} | {rbm_time} | {lr:.2f} |", flush=True)
    return results


if __name__ == "__main__":
    main()
