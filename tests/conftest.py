from pathlib import Path

import numpy as np
import pytest

from pgboltz.backends import cupy_available

REPO = Path(__file__).resolve().parent.parent
GRAPHS = REPO / "graphs"
SMALL_SPECS = ["rbm-small", "bm-small", "ising-6x6", "kings-4x4", "pool-small", "dbn-small", "dbm-small"]


def pytest_collection_modifyitems(config, items):
    if cupy_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA device (pip install 'pgboltz[gpu]' on a GPU machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def z_scores(empirical, exact, se, n_total):
    """|empirical - exact| / se, with se floored at the resolution of a frequency."""
    return np.abs(np.asarray(empirical) - np.asarray(exact)) / np.maximum(se, 0.5 / n_total)


@pytest.fixture
def cupy_stand_in(monkeypatch):
    """Every ``backend="cupy"`` that pgboltz builds is the CuPy backend on the NumPy-backed stand-in
    (tests/fake_cupy.py): trainers, samplers and estimators run the CuPy code path without a GPU."""
    import pgboltz.model as model
    from pgboltz.backends.cupy_backend import CupyBackend

    from .fake_cupy import make

    real = model.get_backend

    def fake(name, **kw):
        if name == "cupy":
            kw.pop("streams", None)
            kw.pop("threads", None)
            return CupyBackend(module=make(), **kw)
        return real(name, **kw)

    monkeypatch.setattr(model, "get_backend", fake)
