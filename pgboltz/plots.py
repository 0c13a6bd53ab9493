"""Figures of models and runs with matplotlib: what ``pgboltz plot KIND`` draws.

Each kind has a function that computes what is drawn (arrays, estimates, a networkx graph) and a
``*_figure`` function that draws it on a new :class:`matplotlib.figure.Figure` and returns it
(no pyplot: no global figure state, no backend switch). :func:`save_figure` writes a figure
atomically (temporary file in the same folder, then rename).

* ``history``: per-epoch metrics of a checkpoint, one panel per metric;
* ``samples``: final states of the visible group after Gibbs sweeps, one panel per chain;
* ``filters``: receptive fields onto the visible group, one panel per filter;
* ``ais``: forward and reverse AIS estimates of the average log-likelihood with their +-3 sigma
  intervals, the exact value when the model can be enumerated, and the base-rate model's;
* ``conditionals``: derived P(x_i = s | rest) against pgmpy's exact conditionals (the diagonal);
* ``graph``: groups and factors, and for small graphs the units coloured by Gibbs block.

matplotlib is optional (``pip install "pgboltz[notebooks]"``); it is imported only when drawing.
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import io
from .errors import DataError

KINDS = ("history", "samples", "filters", "ais", "conditionals", "graph")
#: the unit-level panel of ``graph`` is drawn up to this many units
UNIT_LEVEL_MAX = 200
#: history keys that are not training curves
NOT_CURVES = ("epoch", "seconds")


def figure(figsize):
    """A new Figure (matplotlib imported here; a one-line DataError when it is missing)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise DataError('plots need matplotlib, which is not installed; install it with '
                        'pip install "pgboltz[notebooks]" (or pip install matplotlib)') from None
    return Figure(figsize=figsize)


def image_format(path) -> str:
    """The image format of ``path`` by its suffix (``png`` without one); DataError if matplotlib cannot write it."""
    fmt = Path(path).suffix[1:].lower() or "png"
    if fmt not in figure((1, 1)).canvas.get_supported_filetypes():
        raise DataError(f"{path}: matplotlib cannot write {fmt!r} images; use .png, .pdf or .svg")
    return fmt


def save_figure(fig, path, dpi: int = 100) -> Path:
    """Write ``fig`` to ``path`` atomically, in the format of its suffix (PNG by default).

    The image is written to a temporary file beside ``path`` (created with the umask's
    permissions, or an existing file's) and renamed over it, so a reader never sees half a file."""
    path = Path(path)
    fmt = image_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # 0o666 & ~umask, like any new file
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format=fmt, dpi=dpi)
            fh.flush()
            os.fsync(fh.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


# -- pictures of a group's states --------------------------------------------------------------
def image_shape(shape) -> tuple:
    """(h, w) to draw a group of this shape: 2-D and 3-D as :func:`pgboltz.io.image_shape` (a 3-D
    group's channels side by side), 1-D of square size as a square, anything else as a one-row strip."""
    shape = tuple(int(s) for s in shape)
    if len(shape) in (2, 3):
        return io.image_shape(shape)
    n = math.prod(shape)
    r = math.isqrt(n)
    return (r, r) if r * r == n else (1, n)


def as_images(x, shape) -> np.ndarray:
    """``(n, *shape)`` (or ``(n, size)``) states as ``(n, h, w)`` images laid out by :func:`image_shape`."""
    if len(shape) in (2, 3):
        return io.image_layout(x, shape)
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    return x.reshape((len(x),) + image_shape(shape))


def _grid(n):
    cols = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def _image_grid(images, title, vrange=None, tile_inches=0.6):
    """One panel per image (``(n, h, w)``), ``vrange`` (lo, hi) for all or None for each its own range."""
    n, h, w = images.shape
    rows, cols = _grid(n)
    tile = tile_inches * max(1.0, min(4.0, w / h))  # strips are drawn wider
    fig = figure((max(3.0, cols * tile), max(2.0, rows * tile_inches * max(1.0, h / w)) + 0.5))
    axes = fig.subplots(rows, cols, squeeze=False, gridspec_kw={"wspace": 0.08, "hspace": 0.08})
    for k, ax in enumerate(axes.ravel()):
        if k >= n:
            fig.delaxes(ax)
            continue
        lo, hi = vrange if vrange is not None else (images[k].min(), images[k].max())
        ax.imshow(images[k], cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest",
                  aspect="auto" if h == 1 else "equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    return fig


def _visible(graph) -> str:
    return (graph.visible or list(graph.groups))[0]


def draw_samples(graph, n: int = 64, sweeps: int = 1000, seed: int = 0) -> np.ndarray:
    """The visible group's states ``(n, *shape)`` after ``sweeps`` blocked Gibbs sweeps of ``n`` chains."""
    from .sampling import GibbsSampler

    s = GibbsSampler(graph, chains=n, seed=seed, dtype="float64")
    s.sweep(sweeps)
    states = s.get_states()[_visible(graph)]
    s.backend.close()
    return np.asarray(states)


def samples_figure(graph, states, title: str | None = None):
    """A grid of the visible group's states ``(n, *shape)``: one panel each, on the units' support range."""
    g = _visible(graph)
    grp = graph.group(g)
    x = np.asarray(states, dtype=np.float64)
    support = grp.units.support
    vrange = (min(support), max(support)) if support is not None else (float(x.min()), float(x.max()))
    return _image_grid(as_images(x, grp.shape), title or f"{graph.name}: {len(x)} samples of {g}", vrange)


def filters(graph, n: int = 100) -> np.ndarray:
    """The first ``n`` receptive fields onto the visible group, ``(n_filters, n_visible)``: the
    :meth:`~pgboltz.factors.Factor.filters` of every factor touching it, in factor order."""
    vis = _visible(graph)
    found = [f.filters(vis) for f in graph.factors_touching(vis)]
    found = [np.asarray(W, dtype=np.float64).T for W in found if W is not None]
    if not found:
        raise DataError(f"{graph.name!r}: no factor on {vis!r} has receptive fields (a dense, convolutional or "
                        "directed factor onto the visible group)")
    return np.concatenate(found)[:n]


def filters_figure(graph, W, title: str | None = None):
    """A grid of receptive fields ``(n, n_visible)``, each on its own grey range (min black, max white)."""
    vis = _visible(graph)
    return _image_grid(as_images(W, graph.group(vis).shape), title or f"{graph.name}: {len(W)} filters onto {vis}",
                       tile_inches=0.9)


# -- training history --------------------------------------------------------------------------
def history_curves(history) -> dict:
    """``{metric: {line: (epochs, values)}}`` from a checkpoint's history (a list of per-epoch dicts).

    A number is one line; a dict of numbers (``{"train": .., "test": ..}``) one line per key; a
    greedy DBN's ``layers`` list one line per layer. Missing or None values are skipped."""
    curves: dict = {}

    def add(metric, line, epoch, value):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            xs, ys = curves.setdefault(metric, {}).setdefault(line, ([], []))
            xs.append(epoch)
            ys.append(float(value))

    for entry in history:
        epoch = entry.get("epoch")
        for key, value in entry.items():
            if key in NOT_CURVES:
                continue
            if key == "layers" and isinstance(value, list):
                for k, layer in enumerate(value):
                    for m, v in (layer.items() if isinstance(layer, dict) else ()):
                        if m not in NOT_CURVES:
                            add(m, f"layer {k + 1}", epoch, v)
            elif isinstance(value, dict):
                for line, v in value.items():
                    add(key, str(line), epoch, v)
            else:
                add(key, "", epoch, value)
    return {m: {line: (np.array(x), np.array(y)) for line, (x, y) in lines.items()} for m, lines in curves.items()}


def history_figure(history, title: str = "training history"):
    """One panel per metric of :func:`history_curves`, against the epoch."""
    curves = history_curves(history)
    if not curves:
        raise DataError("the checkpoint's history holds no per-epoch metrics to plot")
    fig = figure((4.5 * len(curves), 3.6))
    axes = fig.subplots(1, len(curves), squeeze=False)[0]
    for ax, (metric, lines) in zip(axes, curves.items()):
        for line, (x, y) in lines.items():
            ax.plot(x, y, marker="o" if len(x) <= 30 else None, ms=3, label=line or None)
        ax.set(xlabel="epoch", ylabel=metric.replace("_", " "))
        if any(lines):
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# -- AIS ---------------------------------------------------------------------------------------
@dataclass
class AISEstimates:
    """Average log-likelihoods (nats per example): (value, low, high) with +-3 sigma for AIS."""

    forward: tuple  # forward AIS: optimistic
    reverse: tuple | None  # reverse AIS: conservative
    exact: float | None  # when log Z can be enumerated
    base_rate: float
    numerator: str  # "exact", or the lower bound that replaced -F(v)
    runs: int
    n_betas: int
    n: int


def ais_estimates(graph, data: dict, train: dict, runs: int = 50, n_betas: int = 2000, seed: int = 0,
                  backend="numpy", reverse_sweeps: int = 1000, progress: bool = False) -> AISEstimates:
    """:func:`~pgboltz.estimators.evaluate`'s estimates; when it is exact, forward and reverse AIS are
    run as well (the same way, same seeds) to show them against the exact value."""
    from .estimators import base_rate_biases, evaluate
    from .estimators.evaluate import ais_runner
    from .sampling import GibbsSampler

    ev = evaluate(graph, data, train, ais_runs=runs, n_betas=n_betas, seed=seed, backend=backend,
                  progress=progress)
    if ev.method == "ais":
        return AISEstimates((ev.log_likelihood, *ev.interval), ev.conservative, None, ev.base_rate, ev.numerator,
                            runs, n_betas, ev.n)
    neg_f = ev.log_likelihood + ev.log_z  # average -F(v) (or its bound)
    run, _ = ais_runner(graph, base_rate_biases(graph, train), train, runs, n_betas, backend, progress=progress)
    fwd = run(seed=seed)  # the path evaluate would take (centred for a DBM)
    rows = np.random.default_rng(seed).choice(ev.n, size=runs, replace=runs > ev.n)
    s = GibbsSampler(graph, chains=runs, backend=backend, seed=seed + 1, init={g: x[rows] for g, x in data.items()})
    s.sweep(reverse_sweeps)
    rev = run(seed=seed + 2, reverse_from=s.get_states())
    s.backend.close()
    return AISEstimates((neg_f - fwd.log_z, neg_f - fwd.upper, neg_f - fwd.lower),
                        (neg_f - rev.log_z, neg_f - rev.upper, neg_f - rev.lower), ev.log_likelihood, ev.base_rate,
                        ev.numerator, runs, n_betas, ev.n)


def ais_figure(est: AISEstimates, title: str = "AIS"):
    """Forward and reverse AIS with +-3 sigma error bars; exact and base-rate values as horizontal lines.
    An interval reaching log Z = -inf (weights too uneven) is drawn to the panel's edge."""
    fig = figure((6.0, 4.5))
    ax = fig.subplots()
    rows = [("forward AIS\n(optimistic)", est.forward, "C0")]
    if est.reverse is not None:
        rows.append(("reverse AIS\n(conservative)", est.reverse, "C1"))
    finite = [v for _, r, _ in rows for v in r if np.isfinite(v)] + [est.base_rate]
    if est.exact is not None:
        finite.append(est.exact)
    span = max(finite) - min(finite) or 1.0
    lo_lim, hi_lim = min(finite) - 0.15 * span, max(finite) + 0.15 * span
    for k, (label, (v, lo, hi), colour) in enumerate(rows):
        lo, hi = max(lo, lo_lim) if np.isfinite(lo) else lo_lim, min(hi, hi_lim) if np.isfinite(hi) else hi_lim
        ax.errorbar([k], [v], yerr=[[v - lo], [hi - v]], fmt="o", color=colour, capsize=8, ms=7, label=label)
    if est.exact is not None:
        ax.axhline(est.exact, color="k", lw=1.2, label=f"exact {est.exact:.3f}")
    ax.axhline(est.base_rate, color="0.5", ls="--", lw=1, label=f"base-rate model {est.base_rate:.3f}")
    ax.set_xticks(range(len(rows)), [r[0] for r in rows])
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylim(lo_lim, hi_lim)
    what = "log-likelihood" if est.numerator == "exact" else f"{est.numerator} on the log-likelihood"
    ax.set_ylabel(f"{what} (nats/example)")
    ax.set_title(f"{title}\n{est.runs} runs x {est.n_betas} betas, +-3 sigma; {est.n} examples", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


# -- conditionals against pgmpy ----------------------------------------------------------------
def conditional_pairs(graph, n_states: int = 4, seed: int = 0, beta: float = 1.0):
    """(pgmpy, derived, joint): the probabilities of every state but the first of every derivable unit's
    conditional and of every jointly drawn block's (max pooling: n + 1 states), for ``n_states`` random
    states of the rest, by pgmpy's exact inference and as derived from the energy
    (:func:`pgboltz.verify.check_conditionals` computes the same and keeps the worst difference);
    ``joint`` marks the blocks' entries."""
    from .conditionals import conditional_log_probs
    from .exact import PgmpyOracle
    from .model import float64_model
    from .verify import derivable_groups, random_states

    oracle = PgmpyOracle(graph)
    states = random_states(graph, n_states, np.random.default_rng(seed))
    flat = {g: x.reshape(n_states, -1) for g, x in states.items()}
    rests = [{graph.group(g).unit_name(i): x[s, i] for g, x in flat.items() for i in range(x.shape[1])}
             for s in range(n_states)]
    theirs, ours, joint = [], [], []

    def add(p, name, rest, is_joint):
        q = oracle.conditional(name, rest)
        theirs.extend(q[1:])
        ours.extend(p[1:])
        joint.extend([is_joint] * (len(q) - 1))

    for g in derivable_groups(graph):
        grp = graph.group(g)
        p = np.exp(conditional_log_probs(graph, states, g, beta)).reshape(n_states, grp.size, -1)
        for s in range(n_states):
            for i in range(grp.size):
                add(p[s, i], grp.unit_name(i), rests[s], False)
    model = float64_model(graph)
    for f, js in graph.joint_sets():
        dist = f.joint_distribution()
        if dist is None:
            continue
        p = np.exp(dist.log_prob_states(np, {h: model.field(h, flat) for h in js}, beta))  # (chains, blocks, states)
        for s in range(n_states):
            for b, (name, _, _) in enumerate(f.unit_variables()):
                add(p[s, b], name, rests[s], True)
    return np.array(theirs, dtype=np.float64), np.array(ours, dtype=np.float64), np.array(joint, dtype=bool)


def conditionals_figure(theirs, ours, joint, title: str = "conditionals"):
    """Scatter of derived against pgmpy probabilities on [0, 1]^2 with the diagonal."""
    fig = figure((5.0, 5.0))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="0.75", lw=1, zorder=0)
    for mask, label, colour in ((~joint, "unit | rest", "C0"), (joint, "joint block | rest", "C3")):
        if mask.any():
            ax.scatter(theirs[mask], ours[mask], s=12, color=colour, label=f"{label} ({mask.sum()})")
    err = float(np.abs(theirs - ours).max()) if len(ours) else 0.0
    ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", xlabel="pgmpy exact P(state | rest)",
           ylabel="pgboltz derived P(state | rest)")
    ax.set_title(f"{title}\nmax |derived - pgmpy| = {err:.1e}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


# -- the graph ---------------------------------------------------------------------------------
def group_depths(graph) -> dict:
    """Layer of each group: breadth-first distance from the visible groups over the factors."""
    nbrs = {g: set() for g in graph.groups}
    for f in graph.factors:
        for a in f.groups:
            nbrs[a].update(b for b in f.groups if b != a)
    depth = {}
    for start in list(graph.visible) + list(graph.groups):
        if start in depth:
            continue
        depth[start], frontier = 0, [start]
        while frontier:
            nxt = []
            for a in frontier:
                for b in sorted(nbrs[a], key=list(graph.groups).index):
                    if b not in depth:
                        depth[b] = depth[a] + 1
                        nxt.append(b)
            frontier = nxt
    return depth


def group_graph(graph):
    """Bipartite networkx graph: ``("group", name)`` and ``("factor", k)`` nodes, an edge from each
    factor to each of its groups; node attribute ``pos`` is a layered layout (visible at the bottom)."""
    import networkx as nx

    depth = group_depths(graph)
    layers: dict = {}
    for g in graph.groups:
        layers.setdefault(depth[g], []).append(g)
    G = nx.Graph()
    for d, gs in layers.items():
        for k, g in enumerate(gs):
            grp = graph.group(g)
            G.add_node(("group", g), pos=(2.5 * (k - (len(gs) - 1) / 2), 2.0 * d), role=grp.role,
                       label=f"{g}\n{'x'.join(map(str, grp.shape))}")
    scopes = [tuple(dict.fromkeys(f.groups)) for f in graph.factors]
    seen: dict = {}
    for k, (f, gs) in enumerate(zip(graph.factors, scopes)):
        at = np.mean([G.nodes[("group", g)]["pos"] for g in gs], axis=0)
        m = seen[gs] = seen.get(gs, -1) + 1
        count = scopes.count(gs)
        # one-group factors fan out to the group's right, factors sharing groups side by side
        at = at + ((0.9, 0.7 * (m - (count - 1) / 2)) if len(gs) == 1 else (0.5 * (m - (count - 1) / 2), 0.0))
        G.add_node(("factor", k), pos=tuple(at), label=f.name or f.kind, kind=f.kind)
        G.add_edges_from((("factor", k), ("group", g)) for g in gs)
    return G


def unit_graph(graph):
    """The unit-level interaction graph: a node ``(group, unit)`` per unit with attributes ``block``
    (the index of its block in the Gibbs schedule, -1 if not sampled) and ``pos``; edges of kind
    ``coupling`` (:meth:`Factor.couplings`: never inside a block), ``directed`` (parent to child unit)
    and ``joint`` (units of one jointly drawn variable, e.g. a pooling unit and its detectors);
    ``G.graph["blocks"]`` is the schedule."""
    import networkx as nx

    from .sampling import GibbsSampler

    blocks = GibbsSampler(graph, chains=1).blocks
    block_of = {}
    for b, block in enumerate(blocks):
        for part in block.parts:
            idx = range(graph.group(part.group).size) if part.index is None else part.index
            block_of.update({(part.group, int(i)): b for i in idx})
    depth = group_depths(graph)
    G = nx.Graph(blocks=blocks)
    y0 = 0.0
    for d in sorted(set(depth.values())):
        gs = [g for g in graph.groups if depth[g] == d]
        shapes = [_unit_layout(graph.group(g).shape) for g in gs]
        width = sum(w for _, w in shapes) + 3 * (len(gs) - 1)
        x0 = -width / 2
        for g, (h, w) in zip(gs, shapes):
            for i in range(graph.group(g).size):
                r, c = _unit_cell(graph.group(g).shape, i)
                G.add_node((g, i), pos=(x0 + c, y0 + h - 1 - r), block=block_of.get((g, i), -1))
            x0 += w + 3
        y0 += max(h for h, _ in shapes) + 3
    for f in graph.factors:
        for c in f.couplings():
            na, nb = graph.group(c.group_a).size, graph.group(c.group_b).size
            pairs = ((i, j) for i in range(na) for j in range(nb)) if c.dense else zip(c.i.tolist(), c.j.tolist())
            G.add_edges_from((((c.group_a, int(i)), (c.group_b, int(j))) for i, j in pairs
                              if (c.group_a, int(i)) != (c.group_b, int(j))), kind="coupling")
        children = set(f.children())
        if f.directed and children:
            parents = [g for g in f.groups if g not in children]
            G.add_edges_from((((p, i), (ch, j)) for p in parents for ch in children
                              for i in range(graph.group(p).size) for j in range(graph.group(ch).size)),
                             kind="directed")
        for _, _, members in f.unit_variables():
            hub = (members[-1][0], int(members[-1][1]))
            G.add_edges_from(((hub, (g, int(i))) for g, i, _ in members[:-1]), kind="joint")
    return G


def _unit_layout(shape):
    """(rows, columns) of a group's units in the unit-level panel: :func:`image_shape`, with one empty
    column between the channels of a (C, H, W) group."""
    h, w = image_shape(shape)
    return (h, w + shape[0] - 1) if len(shape) == 3 else (h, w)


def _unit_cell(shape, i):
    """(row, column) of flat unit ``i`` in :func:`_unit_layout`."""
    if len(shape) != 3:
        return divmod(i, image_shape(shape)[1])
    ch, rest = divmod(i, shape[1] * shape[2])
    r, c = divmod(rest, shape[2])
    return r, ch * (shape[2] + 1) + c


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _block_colours(n):
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20" if n <= 20 else "turbo"]
    return [cmap(k if n <= 20 else k / max(1, n - 1)) for k in range(n)]


def graph_figure(graph, max_units: int = UNIT_LEVEL_MAX):
    """The group-level factor graph (circles: groups, squares: factors) and, for at most ``max_units``
    units, the unit-level graph with each unit coloured by its Gibbs block."""
    import networkx as nx

    small = graph.n_units() <= max_units
    fig = figure((12.0 if small else 6.0, 5.5))
    axes = fig.subplots(1, 2 if small else 1, squeeze=False)[0]
    G = group_graph(graph)
    pos = nx.get_node_attributes(G, "pos")
    groups = [n for n in G if n[0] == "group"]
    factors = [n for n in G if n[0] == "factor"]
    ax = axes[0]
    nx.draw_networkx_edges(G, pos, ax=ax, edge_color="0.5")
    role_colour = {"visible": "#f4a261", "hidden": "#8ecae6", "input": "#cdb4db"}
    nodes = nx.draw_networkx_nodes(G, pos, nodelist=groups, ax=ax, node_size=1600, node_shape="o",
                                   node_color=[role_colour.get(G.nodes[n]["role"], "0.8") for n in groups])
    nodes.set_gid("groups")
    nodes = nx.draw_networkx_nodes(G, pos, nodelist=factors, ax=ax, node_size=250, node_shape="s", node_color="0.2")
    nodes.set_gid("factors")
    nx.draw_networkx_labels(G, pos, labels={n: G.nodes[n]["label"] for n in groups}, ax=ax, font_size=8)
    for n in factors:
        ax.annotate(G.nodes[n]["label"], pos[n], xytext=(0, -9), textcoords="offset points", ha="center",
                    va="top", fontsize=7)
    ax.set_title(f"{graph.name}: {_count(len(groups), 'group')}, {_count(len(factors), 'factor')}", fontsize=10)
    xs, ys = zip(*pos.values())
    ax.set(xlim=(min(xs) - 1.2, max(xs) + 1.2), ylim=(min(ys) - 1.0, max(ys) + 1.0), aspect="equal")
    ax.axis("off")
    if small:
        ax = axes[1]
        U = unit_graph(graph)
        blocks = U.graph["blocks"]
        colours = _block_colours(len(blocks))
        upos = nx.get_node_attributes(U, "pos")
        for kind, style in (("coupling", dict(edge_color="0.6", width=0.4, alpha=0.5)),
                            ("directed", dict(edge_color="C4", width=0.4, alpha=0.5)),
                            ("joint", dict(edge_color="k", width=1.0, style="dashed"))):
            edges = [e for e, k in nx.get_edge_attributes(U, "kind").items() if k == kind]
            if edges:
                nx.draw_networkx_edges(U, upos, edgelist=edges, ax=ax, **style)
        units = list(U)
        node_size = 60 if len(units) <= 100 else 25
        nodes = nx.draw_networkx_nodes(U, upos, nodelist=units, ax=ax, node_size=node_size, edgecolors="k",
                                       linewidths=0.3, node_color=[colours[U.nodes[u]["block"]]
                                                                   if U.nodes[u]["block"] >= 0 else "0.85"
                                                                   for u in units])
        nodes.set_gid("units")
        for b, block in enumerate(blocks[:20]):
            ax.scatter([], [], color=colours[b], s=30, label=f"block {b + 1}: {block.describe(graph)}")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.set_title(f"{_count(graph.n_units(), 'unit')} coloured by Gibbs block ({_count(len(blocks), 'block')})",
                     fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig


# -- loading -----------------------------------------------------------------------------------
def load_source(source: str, allow_outside_paths: bool = False):
    """(graph, meta): a training checkpoint (``.npz``: meta is its metadata) or a spec / example
    name (meta None)."""
    from .checkpoint import load_model
    from .specs import load

    if str(source).endswith(".npz") or (Path(source).is_file() and Path(source).suffix != ".toml"):
        graph, _, meta = load_model(source)
        return graph, meta
    return load(source, allow_outside_paths), None
