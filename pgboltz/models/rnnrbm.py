"""RNN-RBM (Boulanger-Lewandowski, Bengio & Vincent 2012; seed section 7): an RNN whose state emits
the parameters of each frame's RBM.

Each frame t is an RBM over v_t conditioned on the RNN state u_{t-1}, an **input group** ``u`` of
real units. The emission is itself part of the frame's factor graph:

    E(v, h; u) = - b^T v - c^T h - v^T W h - u^T W_uv v - u^T W_uh h          (the paper's variant)
                 - sum_f (v U)_f (h V)_f (u Z)_f                             (``n_factors`` > 0: also the weights)

so with u clamped the frame is an RBM with biases b + W_uv^T u, c + W_uh^T u and weights
W(u) = W + U diag(Z^T u) V^T -- the factored modulation ``W + A diag(g(u)) B`` with the gates
g(u) = Z^T u emitted linearly by the RNN's state. Conditionals, CD statistics and the gradient of
log p(v_t | u) with respect to u (the input group's linear slot, data minus model) all come out of
the generic graph machinery; this module holds only the RNN

    u_t = tanh(b_u + W_uu^T u_{t-1} + W_vu^T v_t),    u_0 = 0,

its back-propagation through time, and frame-by-frame generation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError, GraphError
from ..factors import Bias, Dense, ThreeWay
from ..graph import FactorGraph

RNN_KEYS = ("W_uu", "W_vu", "b_u")


def rnn_rbm_frame(n_visible: int, n_hidden: int, n_recurrent: int, n_factors: int = 0, seed: int = 0,
                  scale: float = 0.01, name: str = "rnn-rbm", factor_scale: float = 0.1) -> FactorGraph:
    """The frame graph of an RNN-RBM: binary ``v`` (visible), ``h`` (hidden), the RNN state ``u`` (input).

    Couplings start N(0, scale^2); the three-way factor's U, V, Z start N(0, factor_scale^2): each one's
    gradient is a product of the other two, so at the couplings' small scale they would barely move."""
    for what, n in (("n_visible", n_visible), ("n_hidden", n_hidden), ("n_recurrent", n_recurrent)):
        if int(n) < 1:
            raise GraphError(f"rnn_rbm_frame: {what} must be a positive integer, got {n!r}")
    if int(n_factors) < 0:
        raise GraphError(f"rnn_rbm_frame: n_factors must be >= 0, got {n_factors!r}")
    rng = np.random.default_rng(seed)
    variant = f", weights modulated through {n_factors} factors" if n_factors else ""
    g = FactorGraph(name, f"RNN-RBM frame {n_visible}x{n_hidden}, RNN state {n_recurrent}{variant}")
    g.add_group("v", n_visible, role="visible")
    g.add_group("h", n_hidden, role="hidden")
    g.add_group("u", n_recurrent, "real", role="input")
    g.add_factor(Dense("v", "h", rng.normal(0, scale, (n_visible, n_hidden)), name="W"))
    g.add_factor(Bias("v", np.zeros(n_visible), name="b"))
    g.add_factor(Bias("h", np.zeros(n_hidden), name="c"))
    g.add_factor(Dense("u", "v", rng.normal(0, scale, (n_recurrent, n_visible)), name="W_uv"))
    g.add_factor(Dense("u", "h", rng.normal(0, scale, (n_recurrent, n_hidden)), name="W_uh"))
    if n_factors:
        F = int(n_factors)
        fs = factor_scale
        g.add_factor(ThreeWay("v", "h", "u", rng.normal(0, fs, (n_visible, F)), rng.normal(0, fs, (n_hidden, F)),
                              rng.normal(0, fs, (n_recurrent, F)), name="M"))
    return g


def frame_sizes(graph) -> tuple[int, int, int]:
    """(visible, hidden, recurrent) sizes of an RNN-RBM frame graph; a clear error for anything else."""
    if list(graph.visible) != ["v"] or list(graph.inputs) != ["u"] or "h" not in graph.groups \
            or graph.group("v").units.support is None:
        raise DataError(f"{graph.name!r} is not an RNN-RBM frame: it needs a binary visible group 'v', a hidden "
                        f"group 'h' and one input group 'u' (see rnn_rbm_frame)")
    return graph.group("v").size, graph.group("h").size, graph.group("u").size


def pad(sequences, n: int):
    """Sequences ``[(T_i, n)]`` as a zero-padded ``(B, L, n)`` array and a ``(B, L)`` mask of real frames."""
    seqs = []
    for i, s in enumerate(sequences):
        s = np.asarray(s, dtype=np.float64)
        if s.ndim != 2 or s.shape[1] != n or len(s) == 0:
            raise DataError(f"sequence {i}: expected frames (T >= 1, {n}), got shape {s.shape}")
        seqs.append(s)
    if not seqs:
        raise DataError("no sequences given")
    L = max(len(s) for s in seqs)
    x = np.zeros((len(seqs), L, n))
    mask = np.zeros((len(seqs), L), dtype=bool)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = s
        mask[i, :len(s)] = True
    return x, mask


@dataclass
class RNN:
    """u_t = tanh(b_u + W_uu^T u_{t-1} + W_vu^T v_t), u_0 = 0 (float64, host)."""

    W_uu: np.ndarray  # (n_u, n_u)
    W_vu: np.ndarray  # (n_v, n_u)
    b_u: np.ndarray  # (n_u,)

    @classmethod
    def init(cls, n_visible, n_recurrent, seed=0, scale=0.01):
        rng = np.random.default_rng([seed, 1])
        return cls(rng.normal(0, scale, (n_recurrent, n_recurrent)), rng.normal(0, scale, (n_visible, n_recurrent)),
                   np.zeros(n_recurrent))

    def params(self) -> dict:
        return {k: getattr(self, k) for k in RNN_KEYS}

    def step(self, u_prev, v):
        return np.tanh(self.b_u + u_prev @ self.W_uu + v @ self.W_vu)

    def forward(self, x):
        """States for padded frames ``x`` (B, L, n_v): ``(B, L + 1, n_u)``, ``[:, t]`` the input of frame t."""
        B, L, _ = x.shape
        U = np.zeros((B, L + 1, self.b_u.size))
        for t in range(L):
            U[:, t + 1] = self.step(U[:, t], x[:, t])
        return U

    def backward(self, x, U, grad_inputs):
        """Back-propagation through time: the gradient of sum_t L_t with respect to the RNN's parameters,
        given ``grad_inputs[:, t] = dL_t / du_{t-1}`` (``(B, L, n_u)``, zero on padding)."""
        B, L, n_u = grad_inputs.shape
        grads = {k: np.zeros_like(v) for k, v in self.params().items()}
        delta = np.zeros((B, n_u))  # dL / du_t from frames after t, through u_{t+1}
        for t in range(L - 1, -1, -1):  # u_{t+1} = tanh(a_{t+1}), a_{t+1} = b_u + u_t W_uu + v_t W_vu
            d_u_next = delta + (grad_inputs[:, t + 1] if t + 1 < L else 0.0)  # total dL / du_{t+1}
            da = d_u_next * (1.0 - U[:, t + 1] ** 2)
            grads["W_uu"] += U[:, t].T @ da
            grads["W_vu"] += x[:, t].T @ da
            grads["b_u"] += da.sum(axis=0)
            delta = da @ self.W_uu.T
        return grads


class RNNRBM:
    """An RNN-RBM: the frame graph (``rnn_rbm_frame``) plus its :class:`RNN`."""

    def __init__(self, graph: FactorGraph, rnn: RNN | None = None, seed: int = 0, scale: float = 0.01):
        self.n_visible, self.n_hidden, self.n_recurrent = frame_sizes(graph)
        self.graph = graph
        self.rnn = rnn or RNN.init(self.n_visible, self.n_recurrent, seed, scale)
        shapes = {"W_uu": (self.n_recurrent, self.n_recurrent), "W_vu": (self.n_visible, self.n_recurrent),
                  "b_u": (self.n_recurrent,)}
        for k, shape in shapes.items():
            v = np.asarray(getattr(self.rnn, k), dtype=np.float64)
            if v.shape != shape:
                raise GraphError(f"RNN parameter {k}: expected shape {shape}, got {v.shape}")
            if not np.all(np.isfinite(v)):
                raise GraphError(f"RNN parameter {k} holds NaN or infinite values")
            setattr(self.rnn, k, v)

    @classmethod
    def build(cls, n_visible, n_hidden, n_recurrent, n_factors=0, seed=0, scale=0.01, name="rnn-rbm",
              factor_scale=0.1):
        return cls(rnn_rbm_frame(n_visible, n_hidden, n_recurrent, n_factors, seed, scale, name, factor_scale),
                   seed=seed, scale=scale)

    @property
    def factored(self) -> bool:
        return any(isinstance(f, ThreeWay) for f in self.graph.factors)

    def check(self, sequences, what="sequences"):
        """Padded binary frames and their mask, with clear errors."""
        x, mask = pad(sequences, self.n_visible)
        self.graph.check_states({"v": x[mask]}, groups=["v"], what=what)
        return x, mask

    def frames(self, sequences) -> dict:
        """Every frame with its RNN input, ``{"v": (N, n_v), "u": (N, n_u)}``, sequences in order."""
        x, mask = self.check(sequences)
        U = self.rnn.forward(x)
        return {"v": x[mask], "u": U[:, :-1][mask]}

    # -- evaluation --------------------------------------------------------------
    def log_likelihood(self, sequences, max_units: int | None = None) -> np.ndarray:
        """Exact log p(v_t | v_<t) per frame (all sequences concatenated), enumerating the hidden units."""
        from ..estimators.conditional import MAX_CONDITIONAL_UNITS, conditional_log_likelihood

        return conditional_log_likelihood(self.graph, self.frames(sequences),
                                          max_units=max_units or MAX_CONDITIONAL_UNITS)

    def predict(self, sequences, sweeps: int = 50, burn_in: int = 20, seed: int = 0, backend="numpy",
                dtype="float64") -> np.ndarray:
        """E[v_t | v_<t] per frame, from Gibbs chains on each frame's RBM started at the previous frame,
        averaging the conditional mean of v given h over ``sweeps`` sweeps after ``burn_in``."""
        from ..sampling import GibbsSampler

        x, mask = self.check(sequences)
        U = self.rnn.forward(x)
        prev = np.concatenate([np.zeros_like(x[:, :1]), x[:, :-1]], axis=1)
        data = {"u": U[:, :-1][mask], "v": prev[mask]}
        s = GibbsSampler(self.graph, chains=len(data["u"]), backend=backend, seed=seed, dtype=dtype)
        s.model.set_states(data)
        units, be = self.graph.group("v").units, s.backend
        total = np.zeros_like(data["v"])
        with s.model.running():
            s.sweep(int(burn_in))
            for _ in range(int(sweeps)):
                s.sweep(1)
                total += be.to_numpy(units.mean(be.xp, s.model.field("v")))
        return total / int(sweeps)

    def generate(self, frames: int, chains: int = 1, gibbs_steps: int = 25, seed: int = 0, prime=None,
                 backend="numpy", dtype="float64") -> np.ndarray:
        """Sample ``chains`` sequences of ``frames`` frames: at each step the RNN state sets the frame's RBM,
        ``gibbs_steps`` Gibbs sweeps draw v_t (from the previous frame), and v_t advances the RNN.
        ``prime``: optional frames ``(T0, n_v)`` fed to the RNN first (the output continues them)."""
        from ..sampling import GibbsSampler

        if int(frames) < 1 or int(chains) < 1 or int(gibbs_steps) < 1:
            raise DataError("frames, chains and gibbs_steps must be positive integers")
        u = np.zeros((int(chains), self.n_recurrent))
        v = np.zeros((int(chains), self.n_visible))
        if prime is not None:
            px, _ = self.check([prime], what="prime")
            for t in range(px.shape[1]):
                v = np.repeat(px[:, t], chains, axis=0)
                u = self.rnn.step(u, v)
        s = GibbsSampler(self.graph, chains=int(chains), backend=backend, seed=seed, dtype=dtype)
        out = np.empty((int(chains), int(frames), self.n_visible))
        with s.model.running():
            for t in range(int(frames)):
                s.model.set_states({"u": u, "v": v})
                s.sweep(int(gibbs_steps))
                v = s.get_states()["v"].reshape(int(chains), -1).astype(np.float64)
                out[:, t] = v
                u = self.rnn.step(u, v)
        return out


def frame_accuracy(predicted: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> float:
    """Frame-level accuracy of Bay et al. (2009), used by Boulanger-Lewandowski et al.:
    sum_t TP_t / sum_t (TP_t + FP_t + FN_t), with notes predicted on where ``predicted > threshold``."""
    p = np.asarray(predicted) > threshold
    t = np.asarray(truth) > 0.5
    tp = np.sum(p & t)
    denom = tp + np.sum(p & ~t) + np.sum(~p & t)
    return float(tp / denom) if denom else 1.0
