"""The benchmark scripts run (tiny sizes); timings are never asserted in tests."""

import importlib.util

import numpy as np
import pytest

from .conftest import REPO


def test_gibbs_rbm_benchmark_runs():
    spec = importlib.util.spec_from_file_location("gibbs_rbm", REPO / "benchmarks" / "gibbs_rbm.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    results = mod.main(["--quick"])
    assert "bare-GEMM bound (2 matmuls)" in results and "pgboltz NumPy (default, 4 streams)" in results
    assert all(t > 0 for t in results.values())


def test_dbn_classify_benchmark_runs():
    spec = importlib.util.spec_from_file_location("dbn_classify", REPO / "benchmarks" / "dbn_classify.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    results = mod.main(["--quick"])
    assert set(results["digits"]) == {"DBN init", "random init"}


@pytest.mark.gpu
def test_gpu_sampling_benchmark_runs():
    spec = importlib.util.spec_from_file_location("gpu_sampling", REPO / "benchmarks" / "gpu_sampling.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--quick", "--skip", "train"])


def test_learnergy_gaussian_benchmark_runs():
    pytest.importorskip("learnergy", reason="learnergy (and torch) are optional peers: pip install torch learnergy")
    spec = importlib.util.spec_from_file_location("learnergy_gaussian", REPO / "benchmarks" / "learnergy_gaussian.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ours, theirs = mod.main(["--quick"])
    assert ours["seconds"] > 0 and theirs["seconds"] > 0 and np.isfinite(ours["ll"]) and np.isfinite(theirs["ll"])


def test_conv_fields_benchmark_runs():
    spec = importlib.util.spec_from_file_location("conv_fields", REPO / "benchmarks" / "conv_fields.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.main(["--quick"])  # also asserts that both ways give the same fields
    assert rows and all(t > 0 for _, o, f in rows for t in (o, f))


def test_sequence_models_benchmark_runs():
    pytest.importorskip("music21", reason="the chorales come from music21's corpus: pip install 'pgboltz[sequences]'")
    spec = importlib.util.spec_from_file_location("sequence_models", REPO / "benchmarks" / "sequence_models.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--quick"])


def test_ising_and_ais_floor_benchmarks_run():
    for name, argv in (("ising_cpu", ["--size", "16", "--chains", "2", "--sweeps", "2", "--repeats", "1"]),
                       ("ais_floor", ["--visible", "20", "--hidden", "10", "--runs", "4", "--betas", "20",
                                      "--repeats", "1"])):
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mod.main(argv)


def test_train_epoch_benchmark_runs():
    spec = importlib.util.spec_from_file_location("train_epoch", REPO / "benchmarks" / "train_epoch.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.main(["--quick"])
    assert "floor: the five products per update alone" in rows and all(t > 0 for t in rows.values())


def test_sparse_cpu_benchmark_runs():
    pytest.importorskip("dwave.samplers", reason="the C++ peer: pip install 'pgboltz[bench]'")
    spec = importlib.util.spec_from_file_location("sparse_cpu", REPO / "benchmarks" / "sparse_cpu.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.main(["--quick", "--no-thrml"])
    assert len(rows) == 3 and all(r[3] > 0 for r in rows)
    # both samplers draw from the same energy at the same beta: mean energies per spin agree roughly
    assert abs(rows[0][5] - rows[1][5]) < 0.2


def test_scaling_benchmark_runs(tmp_path):
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location("scaling", REPO / "benchmarks" / "scaling.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--quick", "--kinds", "rbm", "ising", "--out-dir", str(tmp_path)])
    assert (tmp_path / "scaling_chains.png").stat().st_size > 0 and (tmp_path / "scaling_size.png").exists()


def test_ais_path_benchmark_runs():
    spec = importlib.util.spec_from_file_location("ais_path", REPO / "benchmarks" / "ais_path.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.main(["dbm-small", "--betas", "60", "--runs", "20"])
    assert rows[-1][0] == 1.0 and all(sd >= 0 for _, sd, _, _ in rows) and set(rows[0][3]) == {"v", "h1", "h2"}
