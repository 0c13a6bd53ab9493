"""Conditional RBM (Taylor, Hinton & Roweis 2007; seed section 7) as a factor graph.

    p(x_t | x_{t-1}, ..., x_{t-m}):   E = - b^T v - c^T h - v^T W h
                                          - sum_k lag_k^T A_k v - sum_k lag_k^T B_k h  (+ sum_i v_i^2 / 2 sigma_i^2)

The past m frames are **input groups** ``lag1 .. lagm`` (always clamped); the autoregressive
factors ``A_k`` (past -> current visibles) and ``B_k`` (past -> hiddens) are ordinary dense
factors, so with the inputs clamped they shift the biases of ``v`` and ``h`` chain by chain,
and their gradients ``<lag_k v^T>_data - <lag_k v^T>_model`` come out of the generic statistics.
Nothing here samples or differentiates: generation and one-step prediction run the derived
conditionals of the graph with the lags clamped to the frames just generated or observed.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError, GraphError
from ..factors import Bias, Dense, Quadratic
from ..graph import FactorGraph

VISIBLE_UNITS = ("bernoulli", "gaussian")


def lag_name(k: int) -> str:
    return f"lag{k}"


def crbm(n_visible: int, n_hidden: int, order: int = 2, units: str = "bernoulli", seed: int = 0,
         scale: float = 0.01, sigma=1.0, min_sigma: float | None = None, name: str = "crbm") -> FactorGraph:
    """A conditional RBM over frames of ``n_visible`` units with ``order`` past frames as inputs.

    ``units``: ``"bernoulli"`` (binary frames, e.g. piano rolls; the lags are Bernoulli inputs, so their
    data are checked to be binary) or ``"gaussian"`` (real frames with per-unit sigma, learned in log
    space, kept at or above ``min_sigma``; the lags are real inputs). Couplings are drawn N(0, scale^2)."""
    if units not in VISIBLE_UNITS:
        raise GraphError(f"crbm: units must be one of {', '.join(VISIBLE_UNITS)}, got {units!r}")
    if int(order) < 1:
        raise GraphError(f"crbm: order must be a positive integer (past frames), got {order!r}")
    rng = np.random.default_rng(seed)
    g = FactorGraph(name, f"conditional RBM {n_visible}x{n_hidden}, order {order} ({units} frames)")
    g.add_group("v", n_visible, units, role="visible")
    g.add_group("h", n_hidden, role="hidden")
    for k in range(1, int(order) + 1):
        g.add_group(lag_name(k), n_visible, "bernoulli" if units == "bernoulli" else "real", role="input")
    if units == "gaussian":
        log_sigma = np.log(np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n_visible,)))
        g.add_factor(Quadratic("v", log_sigma.copy(), min_sigma, name="sigma"))
    g.add_factor(Dense("v", "h", rng.normal(0, scale, (n_visible, n_hidden)), name="W"))
    g.add_factor(Bias("v", np.zeros(n_visible), name="b"))
    g.add_factor(Bias("h", np.zeros(n_hidden), name="c"))
    for k in range(1, int(order) + 1):
        g.add_factor(Dense(lag_name(k), "v", rng.normal(0, scale, (n_visible, n_visible)), name=f"A{k}"))
        g.add_factor(Dense(lag_name(k), "h", rng.normal(0, scale, (n_visible, n_hidden)), name=f"B{k}"))
    return g


def crbm_order(graph) -> int | None:
    """The order of a conditional RBM (input groups ``lag1 .. lagm`` the size of one visible group ``v``),
    or None when ``graph`` is not one."""
    if list(graph.visible) != ["v"] or not graph.inputs:
        return None
    names = sorted(graph.inputs)
    order = len(names)
    if names != sorted(lag_name(k) for k in range(1, order + 1)):
        return None
    if any(graph.group(n).size != graph.group("v").size for n in names):
        return None
    return order


def _order(graph) -> int:
    m = crbm_order(graph)
    if m is None:
        raise DataError(f"{graph.name!r} is not a conditional RBM: it needs one visible group 'v' and input groups "
                        f"lag1 .. lagm of the same size (it has visible {graph.visible}, inputs {graph.inputs})")
    return m


def _as_sequences(sequences) -> list:
    if isinstance(sequences, np.ndarray) and sequences.ndim == 2:
        sequences = [sequences]
    out = []
    for i, s in enumerate(sequences):
        s = np.asarray(s, dtype=np.float64)
        if s.ndim != 2:
            raise DataError(f"sequence {i}: expected frames (T, n), got shape {s.shape}")
        out.append(s)
    return out


def lag_windows(sequences, order: int) -> dict:
    """Every window of ``order + 1`` consecutive frames as training data of a conditional RBM:
    ``{"v": x_t, "lag1": x_{t-1}, ..., "lagm": x_{t-m}}``, each ``(windows, n)``, for t = m .. T-1 of
    each sequence (sequences shorter than m + 1 frames give none)."""
    order = int(order)
    seqs = _as_sequences(sequences)
    cols = {"v": []} | {lag_name(k): [] for k in range(1, order + 1)}
    for s in seqs:
        T = len(s)
        if T <= order:
            continue
        cols["v"].append(s[order:])
        for k in range(1, order + 1):
            cols[lag_name(k)].append(s[order - k:T - k])
    if not cols["v"]:
        raise DataError(f"no sequence has more than {order} frames: nothing to condition on")
    return {g: np.concatenate(x) for g, x in cols.items()}


class _FrameSampler:
    """Gibbs chains of a cRBM whose lags are reloaded frame by frame."""

    def __init__(self, graph, chains, seed, backend, dtype):
        from ..sampling import GibbsSampler

        self.graph, self.order = graph, _order(graph)
        self.sampler = GibbsSampler(graph, chains=chains, backend=backend, seed=seed, dtype=dtype)
        self.model = self.sampler.model
        self.be = self.sampler.backend
        self.units = graph.group("v").units

    def condition(self, history):
        """Clamp lag k of every chain to ``history[:, -k]`` and start v at the most recent frame."""
        states = {lag_name(k): history[:, -k] for k in range(1, self.order + 1)}
        states["v"] = history[:, -1]
        self.model.set_states(states)

    def v_mean(self):
        """E[v | h, lags] per chain (host array)."""
        xp = self.be.xp
        return self.be.to_numpy(self.units.mean(xp, self.model.field("v")))


def _history(graph, history, order):
    h = np.asarray(history, dtype=np.float64)
    if h.ndim == 2:
        h = h[None]
    n = graph.group("v").size
    if h.ndim != 3 or h.shape[1] < order or h.shape[2] != n:
        raise DataError(f"history: expected (chains, >= {order}, {n}) or (>= {order}, {n}) frames, got shape "
                        f"{np.shape(history)}")
    if not np.all(np.isfinite(h)):
        raise DataError("history holds NaN or infinite values")
    return h


def generate(graph, history, frames: int, gibbs_steps: int = 30, final: str | None = None, seed: int = 0,
             backend="numpy", dtype="float64") -> np.ndarray:
    """Run a conditional RBM forward from ``history`` (``(chains, >= m, n)`` or ``(>= m, n)``) for ``frames``
    new frames, feeding back its own output: each frame clamps the last m frames as lags, starts v at
    the previous frame and runs ``gibbs_steps`` blocked Gibbs sweeps. The frame kept is a sample of v
    (``final="sample"``, the default for binary frames) or its conditional mean given the last hiddens
    (``"mean"``, the default for real frames, as in Taylor et al.). Returns ``(chains, frames, n)``."""
    m = _order(graph)
    h = _history(graph, history, m)
    real = graph.group("v").units.support is None
    final = final or ("mean" if real else "sample")
    if final not in ("sample", "mean"):
        raise DataError(f"final must be 'sample' or 'mean', got {final!r}")
    if final == "mean" and not real:
        raise DataError("final = 'mean' feeds probabilities back as the next lags, but this model's lags are binary "
                        "inputs; use final = 'sample'")
    if int(gibbs_steps) < 1 or int(frames) < 1:
        raise DataError("frames and gibbs_steps must be positive integers")
    fs = _FrameSampler(graph, h.shape[0], seed, backend, dtype)
    past = list(np.moveaxis(h[:, -m:], 1, 0))  # m arrays (chains, n), oldest first
    out = np.empty((h.shape[0], int(frames), h.shape[2]))
    with fs.model.running():
        for t in range(int(frames)):
            fs.condition(np.stack(past[-m:], axis=1))
            fs.sampler.sweep(int(gibbs_steps))
            x = fs.v_mean() if final == "mean" else fs.sampler.get_states()["v"].reshape(h.shape[0], -1)
            out[:, t] = x
            past.append(x)
    return out


def predict_next(graph, lags: dict, sweeps: int = 50, burn_in: int = 20, seed: int = 0, backend="numpy",
                 dtype="float64") -> np.ndarray:
    """One-step prediction E[x_t | x_{t-1}, ..., x_{t-m}] for each row of ``lags`` (``{"lag1": (N, n), ...}``,
    e.g. from :func:`lag_windows`): Gibbs chains started at the last frame, averaging the conditional
    mean of v given the hiddens over ``sweeps`` sweeps after ``burn_in`` (Rao-Blackwellised)."""
    m = _order(graph)
    missing = [lag_name(k) for k in range(1, m + 1) if lag_name(k) not in lags]
    if missing:
        raise DataError(f"predict_next needs the lags {', '.join(missing)}")
    hist = np.stack([np.asarray(lags[lag_name(k)], dtype=np.float64) for k in range(m, 0, -1)], axis=1)
    hist = _history(graph, hist, m)
    fs = _FrameSampler(graph, hist.shape[0], seed, backend, dtype)
    total = np.zeros((hist.shape[0], hist.shape[2]))
    with fs.model.running():
        fs.condition(hist)
        fs.sampler.sweep(int(burn_in))
        for _ in range(int(sweeps)):
            fs.sampler.sweep(1)
            total += fs.v_mean()
    return total / int(sweeps)


def linear_ar(train_lags: dict, order: int, ridge: float = 1e-6):
    """A linear autoregressive baseline x_t ~ c + sum_k M_k x_{t-k}, fitted by (lightly regularised) least
    squares on ``train_lags`` (``{"v", "lag1", ...}`` from :func:`lag_windows`). Returns ``predict(lags)``."""
    X = np.concatenate([np.ones((len(train_lags["v"]), 1))]
                       + [train_lags[lag_name(k)] for k in range(1, order + 1)], axis=1)
    Y = train_lags["v"]
    coef = np.linalg.solve(X.T @ X + ridge * np.eye(X.shape[1]), X.T @ Y)

    def predict(lags):
        Z = np.concatenate([np.ones((len(lags["lag1"]), 1))] + [lags[lag_name(k)] for k in range(1, order + 1)], axis=1)
        return Z @ coef

    return predict
