"""Hardening: same seed, same samples in every process; refusals of silent garbage; nothing lost."""

import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import REPO

SCRIPT = r"""
import hashlib, sys
import numpy as np
from pgboltz import GibbsSampler
from pgboltz.models import boltzmann_machine, ising
from pgboltz.specs import load
from pgboltz.learning import TrainConfig, Trainer

r = np.random.default_rng(0)
out = []
for g in (ising(5, 7, J=(r.normal(size=(5, 7)), r.normal(size=(5, 7)))), ising(3, 3, J=0.4), load("kings-4x4")):
    s = GibbsSampler(g, chains=40, seed=3)
    s.sweep(4)
    out.append(s.describe())
    out.extend(x.tobytes() for x in s.get_states().values())
mode, path = sys.argv[1], sys.argv[2]
g = boltzmann_machine(5, 3, seed=1)
data = {"v": (np.random.default_rng(1).random((60, 5)) < 0.5).astype(float)}
if mode == "resume":
    t = Trainer.resume(path, data, epochs=2)
else:
    t = Trainer(g, data, TrainConfig(method="pcd", batch_size=20, epochs=2 if mode == "full" else 1))
t.fit()
if mode == "first":
    t.save(path)
out.extend(v.tobytes() for f in t.graph.factors for v in f.params.values())
print(hashlib.sha256(b"".join(x if isinstance(x, bytes) else x.encode() for x in out[:6])).hexdigest(),
      hashlib.sha256(b"".join(out[6:])).hexdigest())
"""


def _run(hash_seed, mode, path):
    env = dict(os.environ, PYTHONHASHSEED=str(hash_seed), PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(path)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_same_seed_same_samples_and_training_whatever_the_hash_seed(tmp_path):
    """Schedules of non-bipartite graphs (odd periodic lattices, a king's graph, a general BM) came from
    networkx colourings that iterated over hash-ordered sets; now every process agrees, including a
    training run resumed in another process."""
    ck = tmp_path / "ck.npz"
    full = [_run(h, "full", ck) for h in (0, 8, 123)]
    assert full[0] == full[1] == full[2]
    _run(5, "first", ck)
    resumed = _run(77, "resume", ck)
    assert resumed == full[0]


# -- the command line refuses bad input with one line, before any work -------------------------------------------

from pgboltz.cli import main  # noqa: E402


@pytest.mark.parametrize("argv, says", [
    (["sample", "rbm-small", "--sweeps", "-1"], "--sweeps: must be an integer >= 0, got -1"),
    (["sample", "rbm-small", "--burn-in", "-1"], "--burn-in: must be an integer >= 0"),
    (["sample", "rbm-small", "--seed", "-1"], "--seed: must be an integer from 0"),
    (["sample", "rbm-small", "--beta", "nan"], "--beta: must be a finite number >= 0, got nan"),
    (["sample", "rbm-small", "--chains", "0"], "--chains: must be a positive integer"),
    (["train", "rbm-digits", "--data", "digits", "--batch-size", "0"], "--batch-size: must be a positive integer"),
    (["train", "rbm-digits", "--data", "digits", "--epochs", "0"], "--epochs: must be a positive integer"),
    (["train", "rbm-digits", "--data", "digits", "-k", "0"], "-k: must be a positive integer"),
    (["train", "rbm-digits", "--data", "digits", "--weight-decay", "nan"], "--weight-decay: must be a finite"),
    (["train", "rbm-digits", "--data", "digits", "--momentum", "1"], "--momentum: must be a number in [0, 1)"),
    (["verify", "rbm-small", "--sweeps", "0"], "--sweeps: must be a positive integer"),
    (["verify", "rbm-small", "--z-max", "-1"], "--z-max: must be a finite number > 0"),
    (["evaluate", "x.npz", "--data", "digits", "--ais-runs", "1"], "--ais-runs: must be an integer >= 2"),
    (["evaluate", "x.npz", "--data", "digits", "--betas", "0"], "--betas: must be an integer >= 2"),
])
def test_bad_options_are_refused_in_one_line(argv, says, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err


def _one_error_line(capsys, *parts):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pgboltz: error:"), err
    for p in parts:
        assert p in err[0], (p, err[0])


def test_huge_runs_are_refused_before_allocating(tmp_path, capsys):
    assert main(["sample", "rbm-small", "--chains", str(10**12), "--out", str(tmp_path / "x.npz")]) == 2
    _one_error_line(capsys, "GiB, but", "use fewer chains")
    assert main(["sample", "rbm-784x500", "--chains", "100000", "--sweeps", "100000", "--thin", "1",
                 "--out", str(tmp_path / "x.npz")]) == 2
    _one_error_line(capsys, "recording 100000 states of 100000 chains needs about")
    assert not (tmp_path / "x.npz").exists()


def test_outputs_are_checked_before_any_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["sample", "rbm-small", "--out", str(blocker / "sub" / "x.npz")]) == 2
    _one_error_line(capsys, "cannot write there")
    (tmp_path / "adir").mkdir()
    assert main(["sample", "rbm-small", "--out", str(tmp_path / "adir") + "/"]) == 2
    _one_error_line(capsys, "is a folder")


def test_training_refuses_to_replace_a_checkpoint_and_names_its_file(tmp_path, capsys):
    out = tmp_path / "mymodel"
    common = ["train", "rbm-digits", "--data", "digits", "--epochs", "1", "--no-progress", "--eval-every", "0"]
    assert main(common + ["--out", str(out)]) == 0
    assert f"wrote {out}.npz" in capsys.readouterr().out
    assert main(common + ["--out", str(out)]) == 2
    _one_error_line(capsys, "exists; pass --overwrite to replace it, or --resume to continue it")
    assert main(common + ["--out", str(out), "--overwrite"]) == 0
    capsys.readouterr()
    # a resume keeps its checkpoint's settings and refuses contradictions
    assert main(common[:4] + ["--epochs", "2", "--resume", "--out", str(out), "--lr", "0.3", "--no-progress"]) == 2
    _one_error_line(capsys, "--lr 0.3 (checkpoint: 0.05)")
    assert main(["train", "ising-6x6", "--data", "digits", "--resume", "--out", str(out), "--epochs", "2"]) == 2
    _one_error_line(capsys, "holds graph 'rbm-digits', not 'ising-6x6'")
    assert main(common[:4] + ["--epochs", "1", "--resume", "--out", str(out)]) == 2
    _one_error_line(capsys, "has already trained 1 epochs; ask for more with --epochs")
    assert main(common[:4] + ["--epochs", "2", "--resume", "--out", str(out), "--no-progress", "--eval-every", "0"]) == 0
    assert "settings from the checkpoint: pcd" in capsys.readouterr().out
    assert main(["evaluate", str(out), "--data", "digits", "--no-progress"]) == 0


def test_a_diverging_run_exits_non_zero_and_keeps_the_good_checkpoint(tmp_path, capsys):
    out = tmp_path / "good.npz"
    args = ["train", "rbm-digits", "--data", "digits", "--no-progress", "--eval-every", "0", "--out", str(out)]
    assert main(args + ["--epochs", "1"]) == 0
    good = out.read_bytes()
    assert main(args + ["--epochs", "3", "--lr", "1e6", "--momentum", "0.9", "--overwrite", "--save-every", "1"]) == 2
    assert "diverged" in capsys.readouterr().err
    from pgboltz.checkpoint import load_model

    graph, _, meta = load_model(out)  # whatever was last written is finite and loads
    assert all(np.all(np.isfinite(v)) for f in graph.factors for v in f.params.values())
    assert out.read_bytes() == good or meta["epoch"] >= 1


def test_interrupts_end_with_one_line(monkeypatch, capsys):
    import pgboltz.cli as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_info", interrupted)
    assert cli.main(["info", "rbm-small"]) == 130
    assert "interrupted" in capsys.readouterr().err


# -- silent garbage ------------------------------------------------------------------------------------------

def test_parameters_beyond_the_dtype_and_non_finite_beta_are_refused(tmp_path, capsys):
    from pgboltz import DataError, GibbsSampler, GraphError
    from pgboltz.models import rbm

    g = rbm(3, 2, W=np.full((3, 2), 1e300))
    with pytest.raises(GraphError, match="beyond float32's range"):
        GibbsSampler(g, chains=2, dtype="float32")
    GibbsSampler(g, chains=2, dtype="float64")
    with pytest.raises(DataError, match="beta must be a finite number"):
        GibbsSampler(rbm(3, 2), chains=2, beta=float("nan"))


def test_open_lattice_values_broadcast_over_real_bonds_and_explicit_leaving_bonds_are_refused():
    from pgboltz import SpecError
    from pgboltz.graph.spec import spec_to_graph

    base = {"groups": [{"name": "s", "shape": [3, 3], "units": "spin"}]}
    g = spec_to_graph(dict(base, factors=[{"kind": "lattice", "group": "s", "periodic": False, "value": 0.5}]))
    assert g.factors[0].params["J_right"][:, -1].tolist() == [0, 0, 0] and g.factors[0].params["J_right"][0, 0] == 0.5
    with pytest.raises(SpecError, match="open boundary, but J_right"):
        spec_to_graph(dict(base, factors=[{"kind": "lattice", "group": "s", "periodic": False,
                                           "value": {"J_right": [[1.0] * 3] * 3, "J_down": 0.2}}]))
    g = spec_to_graph(dict(base, factors=[{"kind": "dense", "groups": ["s", "s"], "value": 0.3}]))
    W = g.factors[0].params["W"]
    assert np.all(np.diag(W) == 0) and W[0, 1] == 0.3


@pytest.mark.parametrize("doc, says", [
    ({"groups": [{"name": "v\n", "shape": [2]}]}, "must be an identifier"),
    ({"groups": [{"name": "v", "shape": [2.7, 3]}]}, "shape must be a list of positive integers"),
    ({"groups": [{"name": "v", "shape": [True, 3]}]}, "shape must be a list of positive integers"),
    ({"name": "a\x1b[31m", "groups": [{"name": "v", "shape": [2]}]}, "control characters"),
    ({"seed": -1, "groups": [{"name": "v", "shape": [2]}]}, "expected an integer >= 0"),
    ({"groups": [{"name": "v", "shape": [100000, 100000]}, {"name": "h", "shape": [100000]}],
      "factors": [{"kind": "dense", "groups": ["v", "h"], "value": 0.0}]}, "GiB, but"),
])
def test_specs_refuse_odd_names_shapes_and_sizes(doc, says):
    from pgboltz import SpecError
    from pgboltz.graph.spec import spec_to_graph

    with pytest.raises(SpecError, match=says.replace("[", r"\[")):
        spec_to_graph(doc)


def test_verify_copes_with_untouched_groups_and_huge_graphs(tmp_path, capsys):
    spec = tmp_path / "lonely.toml"
    spec.write_text('[[groups]]\nname = "v"\nshape = [3]\n[[groups]]\nname = "h"\nshape = [2]\n'
                    '[[factors]]\nkind = "bias"\ngroup = "v"\nvalue = 0.2\n')
    assert main(["verify", str(spec), "--chains", "500", "--sweeps", "50"]) == 0
    huge = tmp_path / "huge.toml"
    huge.write_text('[[groups]]\nname = "v"\nshape = [1100]\n[[groups]]\nname = "h"\nshape = [1100]\n'
                    '[[factors]]\nkind = "dense"\ngroups = ["v", "h"]\nvalue = 0.0\n')
    capsys.readouterr()
    assert main(["verify", str(huge)]) == 2
    _one_error_line(capsys, "exact inference", "needs a table of at least 2^1101 entries")


# -- files ---------------------------------------------------------------------------------------------------

def test_writes_follow_the_umask_and_clean_up_after_killed_writers(tmp_path):
    from pgboltz.io import save_npz_atomic

    from pgboltz.io import _host_tag

    path = tmp_path / "a.npz"
    host = _host_tag()
    dead = tmp_path / f".a.npz.{host}.999999999.xyz.tmp"  # no such process
    alive = tmp_path / f".a.npz.{host}.{os.getpid()}.xyz.tmp"  # a writer still running (this process)
    other_target = tmp_path / f".a.npz.2024.npz.{host}.999999999.xyz.tmp"  # another output's file
    other_host = tmp_path / ".a.npz.elsewhere.999999999.xyz.tmp"  # a writer on another host
    for f in (dead, alive, other_target, other_host):
        f.write_bytes(b"half")
    old = os.umask(0o022)
    try:
        save_npz_atomic(path, {"x": np.zeros(2)})
    finally:
        os.umask(old)
    assert (path.stat().st_mode & 0o777) == 0o644
    assert not dead.exists() and alive.exists() and other_target.exists() and other_host.exists()
    path.chmod(0o600)
    save_npz_atomic(path, {"x": np.ones(2)})
    assert (path.stat().st_mode & 0o777) == 0o600  # an existing file keeps its mode


def _fuzz(data: bytes, rng, n):
    for _ in range(n):
        b = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            kind, pos = rng.integers(0, 3), int(rng.integers(0, len(b)))
            if kind == 0:
                b[pos] = int(rng.integers(0, 256))
            elif kind == 1:
                del b[pos:pos + int(rng.integers(1, 16))]
            else:
                b[pos:pos] = bytes(rng.integers(0, 256, int(rng.integers(1, 8))).astype(np.uint8))
        yield bytes(b)


def test_fuzzed_checkpoints_give_only_clear_errors(tmp_path):
    """Random byte flips, cuts and insertions (fixed seed, bounded count): load or a CheckpointError."""
    from pgboltz.checkpoint import CheckpointError, load_model
    from pgboltz.learning import TrainConfig, Trainer
    from pgboltz.models import rbm

    g = rbm(6, 3)
    t = Trainer(g, {"v": (np.random.default_rng(0).random((20, 6)) < 0.5) * 1.0}, TrainConfig(batch_size=10, epochs=1))
    t.fit()
    t.save(tmp_path / "ok.npz")
    data = (tmp_path / "ok.npz").read_bytes()
    rng = np.random.default_rng(2026)
    outcomes = {"loaded": 0, "refused": 0}
    for k, mutated in enumerate(_fuzz(data, rng, 150)):
        p = tmp_path / f"m{k}.npz"
        p.write_bytes(mutated)
        try:
            load_model(p)
            outcomes["loaded"] += 1
        except CheckpointError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 50, outcomes


def test_fuzzed_specs_give_only_clear_errors(tmp_path):
    """Random mutations of a shipped spec's text: a graph, or a SpecError naming the file."""
    from pgboltz import SpecError
    from pgboltz.graph.spec import load_spec

    from .conftest import GRAPHS

    text = (GRAPHS / "pool-small.toml").read_bytes()
    rng = np.random.default_rng(7)
    refused = 0
    for k, mutated in enumerate(_fuzz(text, rng, 200)):
        p = tmp_path / f"s{k}.toml"
        p.write_bytes(mutated)
        try:
            load_spec(p)
        except SpecError as exc:
            assert str(p) in str(exc)
            refused += 1
    assert refused > 50


def test_data_files_stay_inside_the_spec_folder_and_are_never_echoed(tmp_path):
    from pgboltz import SpecError
    from pgboltz.graph.spec import load_spec

    folder = tmp_path / "spec"
    folder.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:TOKEN-1234\n")
    head = '[[groups]]\nname = "x"\nshape = [4]\n[[factors]]\nkind = "sparse"\ngroups = ["x", "x"]\nvalue = 0.1\n'
    spec = folder / "g.toml"
    spec.write_text(head + 'edges_file = "../secret.txt"\n')
    with pytest.raises(SpecError, match="lies outside the spec's folder") as exc:
        load_spec(spec)
    assert "TOKEN" not in str(exc.value)
    with pytest.raises(SpecError, match="line 1 of .*expected two integers i j") as exc:
        load_spec(spec, allow_outside_paths=True)
    assert "TOKEN" not in str(exc.value) and "root:x" not in str(exc.value)
    spec.write_text(head + 'edges_file = "/dev/zero"\n')
    with pytest.raises(SpecError, match="not a regular file|outside the spec's folder"):
        load_spec(spec, allow_outside_paths=True)
    (folder / "e.txt").write_text("# i j\n0 1\n1 2  # a comment\n")
    spec.write_text(head + 'edges_file = "e.txt"\n')
    assert load_spec(spec).factors[0].edges.tolist() == [[0, 1], [1, 2]]


def test_npz_parameters_are_checked_before_decompressing(tmp_path):
    """A 10 MB archive that would inflate to gigabytes is refused from its header."""
    from pgboltz import SpecError
    from pgboltz.graph.spec import load_spec

    np.savez_compressed(tmp_path / "p.npz", W=np.zeros((20000, 20000), dtype=np.float32), b=np.arange(3.0))
    spec = tmp_path / "g.toml"
    spec.write_text('[[groups]]\nname = "v"\nshape = [3]\n[[groups]]\nname = "h"\nshape = [2]\n'
                    '[[factors]]\nkind = "dense"\ngroups = ["v", "h"]\nfile = "p.npz"\nkey = "W"\n')
    with pytest.raises(SpecError, match=r"array 'W' has shape \[20000, 20000\], parameter 'W' needs \[3, 2\]"):
        load_spec(spec)
    spec.write_text('[[groups]]\nname = "v"\nshape = [3]\n[[factors]]\nkind = "bias"\ngroup = "v"\n'
                    'file = "p.npz"\nkey = "b"\n')
    assert load_spec(spec).factors[0].params["b"].tolist() == [0.0, 1.0, 2.0]


def test_edited_checkpoints_and_foreign_files_are_refused_in_one_line(tmp_path, capsys):
    import json

    from pgboltz.io import save_npz_atomic

    assert main(["train", "rbm-digits", "--data", "digits", "--epochs", "1", "--no-progress", "--eval-every", "0",
                 "--out", str(tmp_path / "ok.npz")]) == 0
    capsys.readouterr()
    with np.load(tmp_path / "ok.npz") as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("meta")))
    cases = {
        "list.npz": ([1, 2], "not a JSON object"),
        "epoch.npz": (dict(meta, epoch=7), "says epoch 7 but holds 1 epochs of history"),
        "config.npz": ({k: v for k, v in meta.items() if k != "config"}, "'config' is missing"),
        "negative.npz": (dict(meta, epoch=-1), "'epoch' is missing or not a valid int"),
    }
    for name, (m, says) in cases.items():
        save_npz_atomic(tmp_path / name, arrays)
        with np.load(tmp_path / name) as z:
            raw = {k: z[k] for k in z.files}
        raw["meta"] = np.array(json.dumps(m))
        np.savez(tmp_path / name, **raw)
        assert main(["evaluate", str(tmp_path / name), "--data", "digits", "--no-progress"]) == 2
        _one_error_line(capsys, says)
    toml = tmp_path / "g.toml"
    toml.write_text('name = "x"\n')
    assert main(["evaluate", str(toml), "--data", "digits"]) == 2
    err = capsys.readouterr().err
    assert "not a readable .npz checkpoint" in err and "pickle" not in err


MEMORY_CASES = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from pgboltz.cli import main
d = sys.argv[1]
codes = [main(["sample", "rbm-784x500", "--chains", "200000", "--out", d + "/a.npz", "--no-progress"]),
         main(["sample", "rbm-small", "--chains", "1000", "--sweeps", "10000000", "--thin", "1",
               "--out", d + "/b.npz", "--no-progress"]),
         main(["info", d + "/huge.toml"])]
print(codes)
"""


def test_memory_hungry_requests_are_refused_under_a_memory_limit(tmp_path):
    (tmp_path / "huge.toml").write_text('[[groups]]\nname = "v"\nshape = [100000, 100000]\n[[groups]]\nname = "h"\n'
                                        'shape = [100]\n[[factors]]\nkind = "dense"\ngroups = ["v", "h"]\n'
                                        'init = { dist = "normal", std = 0.1 }\n')
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", MEMORY_CASES, str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0 and res.stdout.strip() == "[2, 2, 2]", (res.stdout, res.stderr[-2000:])
    assert "Traceback" not in res.stderr and "MemoryError" not in res.stderr


def test_odd_spec_messages(tmp_path):
    import re

    from pgboltz import SpecError
    from pgboltz.graph.spec import load_spec

    np.savez(tmp_path / "p.npz", J=np.zeros((3, 3)))
    for content, says in [(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a text file"),
                          (b"a = " + b"[" * 5000 + b"]" * 5000, "nested too deeply|not valid TOML"),
                          (b'[[groups]]\nname = "s"\nshape = [3, 3]\n[[factors]]\nkind = "lattice"\ngroup = "s"\n'
                           b'file = "p.npz"\nkey = "J"\n', "several parameters; name each array with keys")]:
        p = tmp_path / "odd.toml"
        p.write_bytes(content)
        with pytest.raises(SpecError) as exc:
            load_spec(p)
        assert re.search(says, str(exc.value)), str(exc.value)
    with pytest.raises(SpecError, match="not a file"):
        load_spec(tmp_path)


def test_a_directory_or_garbage_given_as_a_spec_ends_in_one_line(tmp_path, capsys):
    (tmp_path / "g.toml").write_bytes(bytes(range(256)))
    for arg in (str(tmp_path), str(tmp_path / "g.toml")):
        assert main(["info", arg]) == 2
        _one_error_line(capsys, arg)


def test_review_cases_png_devices_symlinks_and_effective_resume_settings(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pngdir").mkdir()
    (tmp_path / "afile").write_text("x")
    for png in ("pngdir", "afile/x.png"):
        assert main(["sample", "rbm-small", "--out", "o.npz", "--png", png, "--no-progress"]) == 2
        _one_error_line(capsys, png)
    assert not (tmp_path / "o.npz").exists()  # refused before any work
    assert main(["sample", "rbm-small", "--out", "/dev/null", "--no-progress"]) == 2
    _one_error_line(capsys, "not a regular file")
    from pgboltz.io import npz_path

    assert npz_path("x/.npz").name == ".npz" and npz_path("run").name == "run.npz"
    # a symlinked data file inside the spec folder is fine
    from pgboltz.graph.spec import load_spec

    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    np.savez(elsewhere / "w.npz", b=np.ones(3))
    folder = tmp_path / "graphs"
    folder.mkdir()
    (folder / "w.npz").symlink_to(elsewhere / "w.npz")
    (folder / "g.toml").write_text('[[groups]]\nname = "v"\nshape = [3]\n[[factors]]\nkind = "bias"\ngroup = "v"\n'
                                   'file = "w.npz"\nkey = "b"\n')
    assert load_spec(folder / "g.toml").factors[0].params["b"].tolist() == [1.0, 1.0, 1.0]
    # --chains equal to the effective default (the batch size) is no contradiction on resume
    common = ["train", "rbm-digits", "--data", "digits", "--no-progress", "--eval-every", "0", "--out", "ck"]
    assert main(common + ["--epochs", "1"]) == 0
    assert main(common + ["--epochs", "2", "--resume", "--chains", "100"]) == 0
