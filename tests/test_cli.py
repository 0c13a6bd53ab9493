"""The command line: info, verify, sample; --help reads like the README."""

import subprocess
import sys

import numpy as np
import pytest

from pgboltz.cli import main
from pgboltz.io import load_meta

from .conftest import GRAPHS, REPO


def test_help_lists_the_commands_of_the_readme(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    readme = (REPO / "README.md").read_text()
    for cmd in ("info", "verify", "sample"):
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
