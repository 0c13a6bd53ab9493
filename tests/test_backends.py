"""Backend interface: dtypes, stream layout, CuPy availability messages."""

import numpy as np
import pytest

from pgboltz import BackendUnavailable
from pgboltz.backends import cupy_available, get_backend, resolve_dtype, row_chunks


def test_dtypes():
    assert resolve_dtype("float32") == np.float32 and resolve_dtype(np.float64) == np.float64
    with pytest.raises(ValueError, match="float32' or 'float64"):
        resolve_dtype("int8")


def test_row_chunks_partition_rows():
    for n, k in [(10, 4), (3, 4), (1000, 7)]:
        chunks = row_chunks(n, k)
        assert len(chunks) == k and chunks[0].start == 0 and chunks[-1].stop == n
        assert all(a.stop == b.start for a, b in zip(chunks[:-1], chunks[1:]))


def test_streams_are_independent_of_thread_count():
    draws = []
    for threads in (1, 2):
        be = get_backend("numpy", seed=5, streams=4, threads=threads)
        out = np.empty((1000, 300), np.float32)
        be.map_rows(lambda k, rows: be.uniform_(k, out[rows]), be.chunks(1000))
        draws.append(out)
        be.close()
    assert np.array_equal(draws[0], draws[1])
    assert 0.0 <= draws[0].min() and draws[0].max() < 1.0


def test_take_columns_and_rows_match_fancy_indexing():
    from pgboltz.backends.base import Backend

    be = get_backend("numpy", dtype="float64")
    a = np.arange(20.0).reshape(4, 5)
    out = np.empty((4, 3))
    be.take_columns(a, np.array([4, 0, 2]), out)
    assert np.array_equal(out, a[:, [4, 0, 2]])
    rows = np.empty((5, 5))
    for take in (be.take_rows, lambda *args: Backend.take_rows(be, *args)):  # NumPy's and the generic one
        take(a, np.array([3, 0, 0, 2, 1]), rows)
        assert np.array_equal(rows, a[[3, 0, 0, 2, 1]])


@pytest.mark.skipif(cupy_available(), reason="CuPy with a CUDA device is present")
def test_cupy_backend_says_what_is_missing():
    with pytest.raises(BackendUnavailable, match="use --backend numpy"):
        get_backend("cupy")


def test_cupy_code_path_on_a_stand_in_module():
    """The CuPy backend's own code, run on a NumPy-backed stand-in with CuPy's API subset."""
    from pgboltz import GibbsSampler
    from pgboltz.backends.cupy_backend import CupyBackend
    from pgboltz.exact import exact

    from .builders import GRAPH_BUILDERS
    from .conftest import z_scores
    from .fake_cupy import make

    for name in ("rbm", "general-bm", "ising-4x4-periodic", "mixed"):
        g = GRAPH_BUILDERS[name]()
        be = CupyBackend(seed=4, dtype="float64", module=make())
        assert be.n_streams == 1 and len(be.chunks(3000)) == 1
        s = GibbsSampler(g, chains=3000, backend=be)
        m = s.run(200, burn_in=50, batches=100).moments
        ex = exact(g)
        assert z_scores(m.flat_mean(), ex.mean, m.flat_mean_se(), m.n_samples * m.n_chains).max() < 4
        assert np.allclose(s.energy(), g.energy(s.get_states()))


def test_training_and_ais_code_paths_on_the_cupy_stand_in(cupy_stand_in):
    """Trainer (PT, per-chain betas, statistics) and AIS through the CuPy backend's code."""
    from pgboltz.estimators import ais, base_rate_biases
    from pgboltz.exact import log_z
    from pgboltz.learning import OptimConfig, TrainConfig, Trainer
    from pgboltz.models import rbm

    g = rbm(12, 6, scale=0.1)
    data = (np.random.default_rng(0).random((200, 12)) < 0.3).astype(float)
    t = Trainer(g, {"v": data}, TrainConfig(method="pt", temperatures=3, batch_size=50, epochs=3, backend="cupy",
                                            optim=OptimConfig(lr=0.1)))
    assert t.be.name == "cupy"
    before = t.reconstruction_error({"v": data})
    t.fit()
    assert t.history[-1]["reconstruction_error"] < 0.9 * before
    base = base_rate_biases(g, {"v": data})
    res = ais(g, base, runs=50, betas=np.linspace(0, 1, 400), backend="cupy")
    assert res.lower <= log_z(g) <= res.upper
