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
