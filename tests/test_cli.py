"""The command line: info, verify, sample; --help reads like the README."""

import subprocess
import sys

import numpy as np
import pytest

from pgboltz.cli import main
from pgboltz.io import load_meta

from .conftest import GRAPHS, REPO


def test_help_lists_the_commands_of_the_readme(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    readme = (REPO / "README.md").read_text()
    for cmd in ("info", "verify", "sample", "train", "evaluate"):
        assert f"pgboltz {cmd}" in readme and cmd in out
    assert "rbm-784x500" in out


def test_info(capsys):
    assert main(["info", str(GRAPHS / "ising-6x6.toml")]) == 0
    out = capsys.readouterr().out
    assert "36 units, 108 parameters" in out and "2 blocks" in out and "s[18 of 36 units]" in out


def test_verify_passes_on_a_small_graph(capsys):
    assert main(["verify", "rbm-small", "--chains", "2000", "--sweeps", "200"]) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out and "conditionals vs pgmpy" in out


def test_verify_fails_when_the_sampler_is_wrong(capsys, monkeypatch):
    from pgboltz.units import Bernoulli

    original = Bernoulli.sample_

    def biased(self, xp, theta, beta, noise, out):  # a subtly wrong sampler: 10% too hot
        original(self, xp, theta, 0.9 * beta, noise, out)

    monkeypatch.setattr(Bernoulli, "sample_", biased)
    assert main(["verify", "rbm-small", "--chains", "4000", "--sweeps", "300"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_sample_writes_an_archive_and_a_picture(tmp_path, capsys):
    out, png = tmp_path / "s.npz", tmp_path / "s.png"
    rc = main(["sample", "rbm-small", "--chains", "64", "--sweeps", "6", "--thin", "2", "--out", str(out),
               "--png", str(png), "--no-progress", "--seed", "3"])
    assert rc == 0
    with np.load(out) as z:
        assert z["v"].shape == (3, 64, 8) and z["h"].dtype == np.int8
        assert set(np.unique(z["v"])) <= {0, 1}
    meta = load_meta(out)
    assert meta["graph"] == "rbm-small" and meta["chains"] == 64 and meta["seed"] == 3
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "unit updates/s" in capsys.readouterr().out


def test_sample_is_reproducible(tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    for p in (a, b):
        main(["sample", "kings-4x4", "--chains", "32", "--sweeps", "5", "--out", str(p), "--no-progress"])
    with np.load(a) as za, np.load(b) as zb:
        assert np.array_equal(za["x"], zb["x"])


def test_errors_exit_2_with_a_message(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[groups]]\nname = "v"\n')
    assert main(["info", str(bad)]) == 2
    assert f"{bad}: groups[0].shape: missing" in capsys.readouterr().err
    assert main(["verify", "rbm-784x500"]) == 2
    assert "at least 2^501 entries" in capsys.readouterr().err
    assert main(["sample", "rbm-small", "--chains", "0", "--out", str(tmp_path / "x.npz")]) == 2


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "pgboltz", "info", "rbm-small"], capture_output=True, text=True)
    assert r.returncode == 0 and "graph rbm-small" in r.stdout


def test_sample_the_784x500_rbm_with_1000_chains(tmp_path, capsys):
    out = tmp_path / "big.npz"
    assert main(["sample", str(GRAPHS / "rbm-784x500.toml"), "--chains", "1000", "--sweeps", "5",
                 "--out", str(out), "--no-progress"]) == 0
    with np.load(out) as z:
        assert z["v"].shape == (1, 1000, 28, 28) and z["h"].shape == (1, 1000, 500)
    assert "1000 chains x 5 sweeps" in capsys.readouterr().out


def test_train_resume_and_evaluate_from_the_command_line(tmp_path, capsys):
    ck, png = tmp_path / "d.npz", tmp_path / "d"
    args = ["train", "rbm-digits", "--data", "digits", "--method", "pcd", "--lr", "0.1", "--out", str(ck),
            "--no-progress", "--save-every", "1"]
    assert main(args + ["--epochs", "2", "--png", str(png), "--eval-every", "2"]) == 0
    out = capsys.readouterr().out
    assert "epoch    2: reconstruction error" in out and "binarised at pixel (0..16) >= 8" in out
    assert "exact log-likelihood train -" in out and ", test -" in out
    for suffix in ("-samples.png", "-filters.png"):
        assert (tmp_path / f"d{suffix}").read_bytes()[:4] == b"\x89PNG"
    assert main(args + ["--epochs", "4", "--resume"]) == 0
    assert "resumed" in capsys.readouterr().out
    assert main(["evaluate", str(ck), "--data", "digits", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "after 4 epochs of pcd" in out and "exact log-likelihood" in out and "base-rate model -25.248" in out


def test_evaluate_a_large_model_uses_ais_with_a_bracket(tmp_path, capsys):
    from pgboltz.learning import TrainConfig, Trainer
    from pgboltz.models import rbm

    g = rbm(64, 40, scale=0.05)  # 40 hidden and 64 visible units: too many to enumerate
    data = (np.random.default_rng(0).random((200, 64)) < 0.3).astype(float)
    t = Trainer(g, {"v": data}, TrainConfig(batch_size=100, epochs=1))
    t.save(tmp_path / "big.npz")
    from pgboltz.estimators import evaluate

    e = evaluate(g, {"v": data}, {"v": data}, ais_runs=20, n_betas=500, reverse_sweeps=50)
    assert e.method == "ais" and e.interval[0] <= e.log_likelihood <= e.interval[1]
    assert e.conservative is not None and e.conservative[0] <= e.log_likelihood + 1.0


def test_train_refuses_mismatched_data(capsys):
    assert main(["train", "rbm-small", "--data", "digits", "--epochs", "1", "--no-progress"]) == 2
    assert "64 pixels" in capsys.readouterr().err


def test_deep_models_train_and_evaluate_from_the_command_line(tmp_path, capsys):
    dbn, dbm = tmp_path / "dbn.npz", tmp_path / "dbm.npz"
    common = ["--data", "digits", "--batch-size", "20", "--no-progress"]
    assert main(["train", "dbn-digits", "--epochs", "3", "--out", str(dbn), "--png", str(tmp_path / "n")] + common) == 0
    out = capsys.readouterr().out
    assert "greedily on digits: 2 RBMs, 3 epochs each" in out and "layer 2 (32x16)" in out
    assert (tmp_path / "n-samples.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["evaluate", str(dbn), "--data", "digits", "--bound-samples", "5", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "variational bound on the log-likelihood" in out and "importance-sampled estimate" in out
    assert "exact log Z" in out  # the top RBM's, by enumeration
    assert main(["train", "dbn-digits", "--epochs", "4", "--out", str(dbn), "--resume"] + common) == 2
    assert "does not resume" in capsys.readouterr().err
    args = ["train", "dbm-digits", "--pretrain", "2", "--positive", "mean-field", "--epochs", "2", "--out", str(dbm),
            "--eval-every", "2"]
    assert main(args + common) == 0
    out = capsys.readouterr().out
    assert "pre-trained DBM: exact log-likelihood" in out and "epoch    2" in out
    assert main(["evaluate", str(dbm), "--data", "digits", "--no-progress"]) == 0
    assert "exact log-likelihood" in capsys.readouterr().out
    assert main(["train", "dbm-digits", "--positive", "auto", "--epochs", "3", "--out", str(dbm), "--resume"]
                + common) == 2
    assert "--positive auto (checkpoint: mean-field)" in capsys.readouterr().err
    assert main(["train", "bm-small", "--pretrain", "1", "--data", "digits", "--out", str(tmp_path / "x.npz")]) == 2
    assert "--pretrain needs a DBM" in capsys.readouterr().err


def test_deep_model_options_that_would_be_ignored_are_refused(tmp_path, capsys):
    out = ["--data", "digits", "--epochs", "1", "--no-progress", "--out", str(tmp_path / "x.npz")]
    assert main(["train", "dbn-digits", "--pretrain", "2"] + out) == 2
    assert "is a DBN, trained greedily" in capsys.readouterr().err
    assert main(["train", "dbm-digits", "--pretrain-lr", "0.1"] + out) == 2
    assert "give --pretrain E too" in capsys.readouterr().err
    assert main(["train", "rbm-digits", "--pretrain", "1"] + out) == 2
    assert "at least two hidden layers" in capsys.readouterr().err


def test_an_mcrbm_trains_with_hmc_from_the_command_line(tmp_path, capsys):
    ck = tmp_path / "mc.npz"
    args = ["train", "mcrbm-patches", "--data", "patches", "--negative", "hmc", "--hmc-step", "0.1",
            "--hmc-leapfrog", "5", "--lr", "0.02", "--epochs", "1", "--out", str(ck), "--no-progress"]
    assert main(args) == 0
    assert "ZCA-whitened" in capsys.readouterr().out
    assert main(["evaluate", str(ck), "--data", "patches", "--no-progress"]) == 0
    assert "exact log-likelihood" in capsys.readouterr().out
    assert main(args[:-3] + ["--method", "pt", "--out", str(tmp_path / "pt.npz"), "--no-progress"]) == 2
    assert "needs method cd or pcd" in capsys.readouterr().err
    assert main(["train", "rbm-digits", "--data", "patches", "--out", str(tmp_path / "r.npz")]) == 2
    assert "use gaussian visible units" in capsys.readouterr().err


def test_verify_explains_that_real_valued_models_are_checked_elsewhere(capsys):
    """verify enumerates finite supports: for a Gaussian model it says where such models are checked
    instead of failing inside the enumerator."""
    assert main(["verify", "gbrbm-patches"]) == 2
    err = capsys.readouterr().err
    assert "real-valued" in err and "tests/test_real_valued.py" in err and "pgboltz evaluate" in err
