"""pgboltz train / generate / evaluate for the sequence models (conditional RBM, RNN-RBM)."""

import numpy as np
import pytest

from pgboltz.cli import main

TINY_RNNRBM = """
name = "rnnrbm-tiny"
[[groups]]
name = "v"
shape = [88]
role = "visible"
[[groups]]
name = "h"
shape = [6]
[[groups]]
name = "u"
shape = [5]
units = "real"
role = "input"
[[factors]]
kind = "dense"
groups = ["v", "h"]
init = { dist = "normal", std = 0.01 }
[[factors]]
kind = "bias"
group = "v"
value = 0.0
[[factors]]
kind = "bias"
group = "h"
value = 0.0
[[factors]]
kind = "dense"
groups = ["u", "v"]
init = { dist = "normal", std = 0.01 }
[[factors]]
kind = "dense"
groups = ["u", "h"]
init = { dist = "normal", std = 0.01 }
[[factors]]
kind = "threeway"
groups = ["v", "h", "u"]
factors = 3
init = { dist = "normal", std = 0.01 }
"""


def test_crbm_trains_on_motion_generates_and_evaluates(tmp_path, capsys):
    ck = tmp_path / "motion.npz"
    assert main(["train", "condrbm-motion", "--data", "motion", "--method", "cd", "--lr", "0.005", "--epochs", "2",
                 "--out", str(ck), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "32 train / 4 test sequences" in out
    gen = tmp_path / "gen.npz"
    assert main(["generate", str(ck), "--data", "motion", "--frames", "12", "--chains", "3", "--gibbs-steps", "4",
                 "--out", str(gen), "--png", str(tmp_path / "gen.png")]) == 0
    with np.load(gen) as z:
        assert z["frames"].shape == (3, 12, 12) and np.isfinite(z["frames"]).all()
    assert (tmp_path / "gen.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["evaluate", str(ck), "--data", "motion", "--ais-runs", "4", "--betas", "50", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "forward AIS" in out and "one-step prediction mean squared error" in out
    # resume continues the windows run
    assert main(["train", "condrbm-motion", "--data", "motion", "--epochs", "3", "--out", str(ck), "--resume",
                 "--no-progress"]) == 0


def test_sequence_commands_refuse_what_does_not_fit(tmp_path, capsys):
    ck = tmp_path / "rbm.npz"
    assert main(["train", "rbm-small", "--data", "motion", "--out", str(ck), "--epochs", "1"]) == 2
    assert "no history to condition on" in capsys.readouterr().err
    assert main(["train", "rbm-digits", "--data", "digits", "--epochs", "1", "--out", str(ck), "--no-progress"]) == 0
    assert main(["generate", str(ck), "--data", "motion", "--out", str(tmp_path / "g.npz")]) == 2
    assert "neither a conditional RBM nor an RNN-RBM" in capsys.readouterr().err
    assert main(["evaluate", str(ck), "--data", "digits", "--split", "valid"]) == 2
    assert "train and test splits only" in capsys.readouterr().err


def test_rnn_rbm_trains_on_chorales_resumes_generates_midi_and_evaluates(tmp_path, capsys):
    pytest.importorskip("music21")
    pytest.importorskip("mido")
    spec = tmp_path / "rnnrbm-tiny.toml"
    spec.write_text(TINY_RNNRBM)
    ck = tmp_path / "rr.npz"
    assert main(["train", str(spec), "--data", "chorales", "--epochs", "1", "-k", "2", "--eval-every", "1",
                 "--out", str(ck), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "RNN-RBM, factored weights" in out and "exact frame log-likelihood valid" in out
    assert main(["train", str(spec), "--data", "chorales", "--epochs", "2", "--out", str(ck), "--resume",
                 "--eval-every", "0", "--no-progress"]) == 0
    assert "resumed" in capsys.readouterr().out
    assert main(["train", str(spec), "--data", "chorales", "--epochs", "3", "--out", str(ck), "--resume", "--lr", "1",
                 "--no-progress"]) == 2
    assert "keeps its checkpoint's settings" in capsys.readouterr().err
    assert main(["train", str(spec), "--data", "chorales", "--epochs", "2", "--out", str(ck), "--resume",
                 "--no-progress"]) == 2
    assert "already trained 2 epochs" in capsys.readouterr().err
    assert main(["generate", str(ck), "--prime", "4", "--out", str(tmp_path / "p.npz")]) == 2
    assert "give --data too" in capsys.readouterr().err
    gen, mid = tmp_path / "g.npz", tmp_path / "g.mid"
    assert main(["generate", str(ck), "--frames", "8", "--chains", "2", "--gibbs-steps", "3", "--out", str(gen),
                 "--png", str(tmp_path / "g.png"), "--midi", str(mid)]) == 0
    from pgboltz.sequence_data import read_midi_roll

    with np.load(gen) as z:
        frames = z["frames"]
    assert frames.shape == (2, 8, 88) and set(np.unique(frames)) <= {0.0, 1.0}
    roll = read_midi_roll(mid)
    assert np.array_equal(roll[:8], frames[0]) or (not frames[0].any() and not roll.any())
    assert main(["evaluate", str(ck), "--data", "chorales", "--split", "valid", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "exact" in out and "frame-level accuracy" in out


def test_sequence_commands_refuse_flags_that_would_be_ignored(tmp_path, capsys):
    ck = tmp_path / "motion.npz"
    assert main(["train", "condrbm-motion", "--data", "motion", "--method", "cd", "--epochs", "1", "--out", str(ck),
                 "--no-progress"]) == 0
    assert main(["generate", str(ck), "--data", "motion", "--prime", "100000", "--out", str(tmp_path / "g.npz")]) == 2
    assert "has only" in capsys.readouterr().err
    assert main(["evaluate", str(ck), "--data", "motion", "--no-reverse"]) == 2
    assert "do not apply to sequence models" in capsys.readouterr().err
    assert main(["verify", "condrbm-motion"]) == 2
    assert "conditioned on input groups" in capsys.readouterr().err
    assert main(["sample", "condrbm-motion", "--out", str(tmp_path / "s.npz")]) == 2
    assert "pgboltz generate" in capsys.readouterr().err
    assert main(["plot", "samples", "condrbm-motion", "--out", str(tmp_path / "p.png")]) == 2
    assert "pgboltz generate" in capsys.readouterr().err and not (tmp_path / "p.png").exists()
