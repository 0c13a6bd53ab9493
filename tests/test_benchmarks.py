"""The benchmark scripts run (tiny sizes); timings are never asserted in tests."""

import importlib.util

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
