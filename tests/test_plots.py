"""pgboltz plot: every kind writes a non-empty image, and its figure shows what it claims."""

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.image import imread  # noqa: E402

from pgboltz import plots  # noqa: E402
from pgboltz.checkpoint import load_model  # noqa: E402
from pgboltz.cli import main  # noqa: E402
from pgboltz.models import rbm  # noqa: E402
from pgboltz.specs import load  # noqa: E402

DPI = 40  # small images: fast to write


def plot(capsys, *args):
    """Run `pgboltz plot ARGS --dpi DPI`; (exit status, stdout, stderr)."""
    code = main(["plot", *map(str, args), "--dpi", str(DPI)])
    out = capsys.readouterr()
    return code, out.out, out.err


def check_png(path, fig, min_std=0.05):
    """The PNG has the figure's size in pixels, is not blank, and no temporary file is left beside it."""
    img = imread(path)
    w, h = fig.get_size_inches() * DPI
    assert abs(img.shape[0] - h) <= 1 and abs(img.shape[1] - w) <= 1
    assert img[..., :3].std() > min_std
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}")] == []


def images(fig):
    """The image arrays of a grid figure, one per panel (each panel holds exactly one)."""
    assert all(len(ax.images) == 1 for ax in fig.axes)
    return [np.asarray(ax.images[0].get_array()) for ax in fig.axes]


def collection(ax, gid):
    (c,) = [c for c in ax.collections if c.get_gid() == gid]
    return c


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """A 64x20 RBM trained 2 epochs on the 8x8 digits: (checkpoint path, graph, meta)."""
    pytest.importorskip("sklearn")
    path = tmp_path_factory.mktemp("plots") / "digits.npz"
    assert main(["train", "rbm-digits", "--data", "digits", "--epochs", "2", "--batch-size", "20", "--out", str(path),
                 "--no-progress", "--eval-every", "0"]) == 0
    graph, _, meta = load_model(path)
    return path, graph, meta


def test_history_one_point_per_epoch(digits, tmp_path, capsys):
    path, graph, meta = digits
    code, out, _ = plot(capsys, "history", path, "--out", tmp_path / "h.png")
    assert code == 0 and "wrote" in out
    fig = plots.history_figure(meta["history"])
    check_png(tmp_path / "h.png", fig)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "reconstruction error"
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == [1, 2]
    assert np.allclose(line.get_ydata(), [h["reconstruction_error"] for h in meta["history"]])


def test_history_panels_per_metric_and_lines_per_layer_or_split():
    history = [{"epoch": e, "seconds": 0.1, "log_likelihood": {"train": -30.0 + e, "test": -31.0 + e},
                "layers": [{"epoch": e, "reconstruction_error": 0.2 / e}, {"reconstruction_error": 0.1 / e}]}
               for e in (1, 2, 3)]
    history[1]["log_likelihood"]["test"] = None  # a missing value is skipped, not drawn as zero
    fig = plots.history_figure(history)
    assert [ax.get_ylabel() for ax in fig.axes] == ["log likelihood", "reconstruction error"]
    ll, recon = ({line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in ax.get_lines()}
                 for ax in fig.axes)
    assert ll == {"train": ([1, 2, 3], [-29.0, -28.0, -27.0]), "test": ([1, 3], [-30.0, -28.0])}
    assert recon["layer 2"] == ([1, 2, 3], [0.1, 0.05, 0.1 / 3])
    with pytest.raises(plots.DataError, match="no per-epoch metrics"):
        plots.history_figure([{"epoch": 1, "seconds": 1.0}])


def test_samples_grid_has_n_images_of_the_visible_shape(digits, tmp_path, capsys):
    path, graph, _ = digits
    code, out, _ = plot(capsys, "samples", path, "--n", 16, "--sweeps", 20, "--out", tmp_path / "s.png")
    assert code == 0 and "16 chains x 20 sweeps" in out
    states = plots.draw_samples(graph, 16, 20)
    fig = plots.samples_figure(graph, states)
    check_png(tmp_path / "s.png", fig)
    imgs = images(fig)
    assert len(imgs) == 16 and all(i.shape == (8, 8) for i in imgs)
    assert np.array_equal(np.stack(imgs), states.reshape(16, 8, 8))  # binary states drawn as they are
    assert all(ax.images[0].get_clim() == (0, 1) for ax in fig.axes)


def test_samples_of_image_and_vector_groups():
    conv = load("conv-small")  # v: 1x6x6
    assert [i.shape for i in images(plots.samples_figure(conv, plots.draw_samples(conv, 3, 2)))] == [(6, 6)] * 3
    small = load("rbm-small")  # v: 8 units, not a square: a strip
    assert [i.shape for i in images(plots.samples_figure(small, plots.draw_samples(small, 5, 2)))] == [(1, 8)] * 5
    x = np.arange(2 * 2 * 3).reshape(1, 2, 2, 3)  # (C, H, W) = (2, 2, 3): channels side by side
    assert plots.as_images(x, (2, 2, 3)).tolist() == [[[0, 1, 2, 6, 7, 8], [3, 4, 5, 9, 10, 11]]]
    assert plots.image_shape((16,)) == (4, 4) and plots.image_shape((3, 5)) == (3, 5)


def test_filters_are_the_weights_onto_the_visible_group(digits, tmp_path, capsys):
    path, graph, _ = digits
    code, out, _ = plot(capsys, "filters", path, "--out", tmp_path / "f.png")
    assert code == 0 and "20 filters" in out
    W = plots.filters(graph)
    fig = plots.filters_figure(graph, W)
    check_png(tmp_path / "f.png", fig)
    imgs = images(fig)
    assert len(imgs) == 20 and W.shape == (20, 64)
    assert np.allclose(np.stack(imgs), graph.factor("W").params["W"].T.reshape(20, 8, 8))
    lo, hi = fig.axes[3].images[0].get_clim()  # each filter on its own range
    assert (lo, hi) == (imgs[3].min(), imgs[3].max())
    conv = plots.filters(load("conv-small"))  # two 3x3 kernels at the corner of a 6x6 canvas
    assert conv.shape == (2, 36)
    assert np.count_nonzero(conv.reshape(2, 6, 6)[:, 3:, :]) == 0 and np.count_nonzero(conv[:, :3]) == 6
    code, _, err = plot(capsys, "filters", "kings-4x4", "--out", tmp_path / "k.png")
    assert code == 2 and "no factor on 'x' has receptive fields" in err


def test_ais_against_the_exact_value(digits, tmp_path, capsys):
    path, graph, _ = digits
    code, out, _ = plot(capsys, "ais", path, "--data", "digits", "--ais-runs", 8, "--betas", 200, "--no-progress",
                        "--out", tmp_path / "a.png")
    assert code == 0 and "forward AIS" in out and "reverse AIS" in out and "exact" in out
    exact = float(out.split("exact ")[1].split()[0])
    est = plots.AISEstimates((exact + 0.1, exact - 0.2, exact + 0.3), (exact - 0.1, exact - 0.4, exact + 0.1), exact,
                             exact + 1.0, "exact", 8, 200, 360)
    fig = plots.ais_figure(est)
    check_png(tmp_path / "a.png", fig)
    (ax,) = fig.axes
    points = [c.lines[0].get_ydata()[0] for c in ax.containers]
    assert np.allclose(points, [exact + 0.1, exact - 0.1])
    bars = [c.lines[2][0].get_segments()[0][:, 1] for c in ax.containers]  # the +-3 sigma intervals
    assert np.allclose(bars, [[exact - 0.2, exact + 0.3], [exact - 0.4, exact + 0.1]])
    hlines = sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_label().startswith(("exact", "base")))
    assert np.allclose(hlines, [exact, exact + 1.0])
    lo, hi = ax.get_ylim()
    assert lo < exact - 0.4 and hi > exact + 1.0


def test_ais_without_an_exact_value_and_an_open_interval():
    pytest.importorskip("sklearn")
    from pgboltz.data import load as load_data

    graph = rbm(64, 24, seed=1, scale=0.1)  # 24 hidden units: log Z is not enumerated, AIS it is
    data = load_data("digits")
    est = plots.ais_estimates(graph, data.for_graph(graph, "test"), data.for_graph(graph), runs=8, n_betas=200)
    assert est.exact is None and est.reverse is not None and est.forward[1] <= est.forward[0] <= est.forward[2]
    ax = plots.ais_figure(est).axes[0]
    assert len(ax.containers) == 2 and [line.get_label() for line in ax.get_lines()][-1].startswith("base-rate")
    assert not any(line.get_label().startswith("exact") for line in ax.get_lines())
    est.forward = (est.forward[0], -np.inf, est.forward[2])  # weights too uneven: drawn to the panel's edge
    ax = plots.ais_figure(est).axes[0]
    assert np.isclose(ax.containers[0].lines[2][0].get_segments()[0][0, 1], ax.get_ylim()[0])


def test_conditionals_lie_on_the_diagonal(tmp_path, capsys):
    code, out, _ = plot(capsys, "conditionals", "pool-small", "--states", 2, "--out", tmp_path / "c.png")
    assert code == 0 and "54 probabilities" in out
    theirs, ours, joint = plots.conditional_pairs(load("pool-small"), n_states=2)
    # (8 visible + 3 top units) x 2 states, and 4 pooling blocks x 2 states x 4 of their 5 states
    assert len(ours) == 54 and joint.sum() == 32
    assert np.abs(theirs - ours).max() < 1e-9 and 0.05 < theirs.std()
    fig = plots.conditionals_figure(theirs, ours, joint)
    check_png(tmp_path / "c.png", fig)
    (ax,) = fig.axes
    assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1)
    xy = np.concatenate([c.get_offsets() for c in ax.collections])
    assert len(xy) == 54 and np.abs(xy[:, 0] - xy[:, 1]).max() < 1e-9


def test_graph_group_and_unit_levels(tmp_path, capsys):
    code, _, _ = plot(capsys, "graph", "conv-small", "--out", tmp_path / "g.png")
    assert code == 0
    graph = load("conv-small")
    fig = plots.graph_figure(graph)
    check_png(tmp_path / "g.png", fig)
    groups_ax, units_ax = fig.axes
    assert len(collection(groups_ax, "groups").get_offsets()) == 3
    assert len(collection(groups_ax, "factors").get_offsets()) == 4
    units = collection(units_ax, "units")
    assert len(units.get_offsets()) == 76
    assert len({tuple(c) for c in units.get_facecolors()}) == 2  # blocks {d1, p1} and {v}
    U = plots.unit_graph(graph)
    kinds = [k for _, _, k in U.edges(data="kind")]
    assert kinds.count("joint") == 8 * 4  # each pooling unit to its 4 detectors
    assert kinds.count("coupling") == 2 * 16 * 9  # each detector sees a 3x3 patch
    assert all(U.nodes[a]["block"] == U.nodes[b]["block"] for a, b, k in U.edges(data="kind") if k == "joint")


@pytest.mark.parametrize("name, n_blocks", [("kings-4x4", 4), ("bm-small", 10), ("dbn-small", 3)])
def test_unit_graph_colouring_is_proper(name, n_blocks):
    U = plots.unit_graph(load(name))
    assert len(U.graph["blocks"]) == n_blocks and {U.nodes[u]["block"] for u in U} == set(range(n_blocks))
    assert all(U.nodes[a]["block"] != U.nodes[b]["block"] for a, b in U.edges)


def test_large_graph_has_the_group_level_only():
    fig = plots.graph_figure(rbm(300, 10))
    assert len(fig.axes) == 1 and len(collection(fig.axes[0], "groups").get_offsets()) == 2


def test_errors_are_one_line(digits, tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.png"
    for args, message in ((["history", "rbm-small"], "a graph spec has no training history"),
                          (["ais", digits[0]], "needs --data"),
                          (["graph", "rbm-small", "--out", tmp_path / "x.xyz"], "cannot write 'xyz' images"),
                          (["graph", "no-such-graph"], "neither a spec file nor an example")):
        code, _, err = plot(capsys, *args, *(["--out", out] if "--out" not in args else []))
        assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists()
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, _, err = plot(capsys, "graph", "rbm-small", "--out", out)
    assert code == 2 and 'pip install "pgboltz[notebooks]"' in err and err.count("\n") == 1


def test_overwrite_keeps_the_file_mode(tmp_path, capsys):
    out = tmp_path / "g.png"
    out.write_bytes(b"old")
    out.chmod(0o640)
    assert plot(capsys, "graph", "rbm-small", "--out", out)[0] == 0
    assert out.stat().st_mode & 0o777 == 0o640 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_keeps_and_plots_the_exact_log_likelihood_of_eval_every(tmp_path):
    from pgboltz.checkpoint import load_model
    from pgboltz.cli import main
    from pgboltz.plots import history_curves

    ck = tmp_path / "h.npz"
    assert main(["train", "rbm-digits", "--data", "digits", "--epochs", "4", "--batch-size", "100",
                 "--eval-every", "2", "--out", str(ck), "--no-progress"]) == 0
    _, _, meta = load_model(str(ck))
    curves = history_curves(meta["history"])
    x, y = curves["exact_log_likelihood"]["test"]
    assert list(x) == [2, 4] and np.all(np.isfinite(y)) and np.all(y < 0)
