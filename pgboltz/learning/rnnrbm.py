"""Training an RNN-RBM (Boulanger-Lewandowski et al. 2012): CD-k on every frame's RBM, plus
back-propagation through time of the emitted parameters' gradients into the RNN.

For a minibatch of whole sequences:

1. the RNN runs over the data, giving each frame's input u_{t-1};
2. every frame of the minibatch is one chain of the compiled frame graph (frames are
   independent given their inputs, so all of them run as one batch of chains): positive
   statistics with v clamped and h averaged exactly, negative statistics after k Gibbs sweeps
   started at the data (CD-k), h again averaged given the sampled v;
3. the frame graph's parameters (W, b, c, W_uv, W_uh and the factored modulation) move by
   data minus model statistics -- the generic gradient of the graph;
4. d log p(v_t | u_{t-1}) / du_{t-1} is the input group's linear slot under the data minus under
   the model; back-propagated through time it gives the RNN's gradient (u_t depends on the data v_t).

Minibatches pack whole sequences (shuffled per epoch) into at most ``frames_per_batch`` chains;
rows past the last frame carry zero weight. Everything is reseeded from (seed, epoch), so a run
resumed from a checkpoint repeats the uninterrupted run bit for bit.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..checkpoint import CheckpointError, load_model, save_checkpoint
from ..errors import DataError
from ..factors import Bias
from ..graph.serialize import graph_to_dict
from ..models.rnnrbm import RNN, RNN_KEYS, RNNRBM
from .optim import SGD, OptimConfig
from .statistics import conditional_means
from .trainer import TrainingDiverged, run_epochs

RECIPE = "rnn-rbm"


@dataclass
class SequenceConfig:
    k: int = 10  # Gibbs sweeps of CD-k per frame
    epochs: int = 50
    frames_per_batch: int = 512  # chains: frames of whole sequences per update (at least the longest sequence)
    # the RNN's learning rate relative to optim.lr: at the full rate its recurrent weights grew until the state
    # saturated and the validation log-likelihood fell back (chorales, lr 0.1); 0.1 worked best there
    rnn_lr_scale: float = 0.1
    base_rate_init: bool = True  # a visible bias still at zero starts at the training frames' log-odds
    seed: int = 0
    backend: str = "numpy"
    dtype: str = "float32"
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=0.01, momentum=0.9, final_momentum=0.9,
                                                                  weight_decay=0.0))

    def __post_init__(self):
        if isinstance(self.optim, dict):
            self.optim = OptimConfig(**self.optim)
        for name in ("k", "epochs", "frames_per_batch"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not self.rnn_lr_scale >= 0:
            raise ValueError(f"rnn_lr_scale must be >= 0, got {self.rnn_lr_scale}")


class RNNRBMTrainer:
    """Train ``model`` (an :class:`~pgboltz.models.rnnrbm.RNNRBM`) on ``train`` sequences ``[(T_i, n_v)]``, in place."""

    def __init__(self, model: RNNRBM, train, config: SequenceConfig | None = None, valid=None, *,
                 resumed: bool = False):
        from ..sampling import GibbsSampler

        self.rnnrbm, self.graph, self.config = model, model.graph, config or SequenceConfig()
        c = self.config
        self.train = [np.asarray(s, dtype=np.float64) for s in train]
        model.check(self.train, "training sequences")
        if c.base_rate_init and not resumed:  # Hinton's practical guide, section 8: log p_i / (1 - p_i)
            frames = np.concatenate(self.train)
            for f in self.graph.factors:
                if isinstance(f, Bias) and f.groups == ("v",):
                    if not np.any(f.params["b"]):  # untrained: never overwrite a bias that was learned or set
                        f.params["b"][...] = self.graph.group("v").units.base_rate(frames)["linear"]
                    break
        self.valid = None if valid is None else [np.asarray(s, dtype=np.float64) for s in valid]
        if self.valid is not None:
            model.check(self.valid, "validation sequences")
        longest = max(len(s) for s in self.train)
        self.chains = max(int(c.frames_per_batch), longest)
        self.neg = GibbsSampler(self.graph, chains=self.chains, backend=c.backend, seed=c.seed, dtype=c.dtype)
        self.model = self.neg.model
        self.be = self.neg.backend
        self.opt = SGD(self.model, c.optim, c.epochs, hidden=())
        self.rnn_velocity = {k: np.zeros_like(v) for k, v in model.rnn.params().items()}
        self.epoch = 0
        self.history: list[dict] = []

    # -- one update ---------------------------------------------------------------
    def batches(self, epoch: int) -> list:
        """Sequence indices per minibatch: a permutation from (seed, epoch), packed greedily."""
        order = np.random.default_rng([self.config.seed, epoch]).permutation(len(self.train))
        out, cur, n = [], [], 0
        for i in order:
            T = len(self.train[i])
            if cur and n + T > self.chains:
                out.append(cur)
                cur, n = [], 0
            cur.append(int(i))
            n += T
        if cur:
            out.append(cur)
        return out

    def _rows(self, x, U, mask):
        """Device arrays (chains rows) of v and u for the frames of ``mask``, zero-padded, and the weights."""
        n = int(mask.sum())
        v = np.zeros((self.chains, x.shape[2]))
        u = np.zeros((self.chains, U.shape[2]))
        v[:n], u[:n] = x[mask], U[:, :-1][mask]
        w = np.zeros(self.chains)
        w[:n] = 1.0 / n
        be = self.be
        return {"v": be.asarray(v), "u": be.asarray(u)}, be.asarray(w), n

    def gradients(self, sequences, negative: str = "cd"):
        """(graph gradients per factor, RNN gradients, frames): of the average frame log-likelihood, with the
        model's expectations from CD-k chains started at the data (``negative="cd"``) or, for frames small
        enough to enumerate, exact (``"exact"``: every joint state of v and h weighted by p(v, h | u))."""
        rnn = self.rnnrbm.rnn
        x, mask = self.rnnrbm.check(sequences)
        if mask.sum() > self.chains:
            raise DataError(f"{int(mask.sum())} frames in one update, but the trainer runs {self.chains} chains (one "
                            "per frame): pass fewer sequences, or raise SequenceConfig.frames_per_batch")
        U = rnn.forward(x)
        given, w, n = self._rows(x, U, mask)
        m = self.model
        pos_states = conditional_means(m, given, ["h"])
        pos = m.statistics(pos_states, w)
        pos_u = np.array(self.be.to_numpy(m.field("u", pos_states)["linear"]))  # field() fills a reused buffer
        if negative == "exact":
            neg, neg_u = self._exact_negative(U[:, :-1][mask])
        elif negative == "cd":
            m.load_states(given)
            self.neg.sweep(self.config.k)
            neg_states = conditional_means(m, {"v": m.states["v"], "u": given["u"]}, ["h"])
            neg = m.statistics(neg_states, w)
            neg_u = self.be.to_numpy(m.field("u", neg_states)["linear"])
        else:
            raise ValueError(f"negative must be 'cd' or 'exact', got {negative!r}")
        grads = [{k: p[k] - q[k] for k in p} for p, q in zip(pos, neg)]
        g_u = np.zeros(U[:, :-1].shape)
        g_u[mask] = (pos_u[:n] - neg_u[:n]) / n  # per-frame slot differences, averaged like the statistics
        return grads, rnn.backward(x, U, g_u), n

    def _exact_negative(self, u, max_units: int = 16):
        """Model statistics and input-slot expectations per frame by enumerating v and h (tiny frames only)."""
        from ..errors import TooLargeError
        from ..exact.enumerate import enumeration

        free = ["v", "h"]
        units = self.graph.n_units(free)
        if units > max_units:
            raise TooLargeError(f"exact negative statistics enumerate 2^{units} states per frame; the limit is "
                                f"2^{max_units}. Use negative='cd'")
        total = 2 ** units
        enum = enumeration(self.graph, free, 0, total)
        n = len(u)
        states = {g: np.tile(x, (n, 1)) for g, x in enum.items()}
        states["u"] = np.repeat(u, total, axis=0)
        be, m = self.be, self.model
        dev = {g: be.asarray(x) for g, x in states.items()}
        logp = -be.to_numpy(m.energy(dev)).reshape(n, total)
        p = np.exp(logp - logp.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        stats = m.statistics(dev, be.asarray(p.reshape(-1) / n))
        slot = be.to_numpy(m.field("u", dev)["linear"]).reshape(n, total, -1)
        neg_u = np.zeros((self.chains, u.shape[1]))
        neg_u[:n] = np.einsum("ns,nsk->nk", p, slot)
        return stats, neg_u

    def _update(self, sequences):
        grads, rnn_grads, _ = self.gradients(sequences)
        self.opt.step(grads, self.epoch)
        c, rnn = self.config, self.rnnrbm.rnn
        lr = self.opt.lr(self.epoch) * c.rnn_lr_scale
        mom = c.optim.momentum if self.epoch < c.optim.momentum_switch else c.optim.final_momentum
        for k, g in rnn_grads.items():
            vel = self.rnn_velocity[k]
            vel *= mom
            vel += lr * g
            getattr(rnn, k)[...] += vel

    # -- epochs ---------------------------------------------------------------------
    def run_epoch(self) -> dict:
        c = self.config
        t0 = time.perf_counter()
        self.neg.backend.reseed([c.seed, self.epoch, 1])
        with self.model.running():
            for idx in self.batches(self.epoch):
                self._update([self.train[i] for i in idx])
        rnn_ok = all(np.all(np.isfinite(v)) for v in self.rnnrbm.rnn.params().values())
        if not (self.model.params_finite() and rnn_ok):
            raise TrainingDiverged(f"training {self.graph.name!r} diverged in epoch {self.epoch + 1}: parameters became "
                                   "NaN or infinite; lower the learning rate or momentum")
        self.model.pull_params()
        self.epoch += 1
        metrics = {"epoch": self.epoch, "seconds": time.perf_counter() - t0}
        self.history.append(metrics)
        return metrics

    def fit(self, epochs: int | None = None, progress: bool = False, callback=None) -> list:
        return run_epochs(self, epochs, progress, callback, f"train {self.graph.name} (RNN-RBM, CD-{self.config.k})")

    # -- checkpoints ------------------------------------------------------------------
    def save(self, path) -> None:
        self.model.pull_params()
        structure, arrays = graph_to_dict(self.graph)
        arrays.update({f"rnn/{k}": v for k, v in self.rnnrbm.rnn.params().items()})
        arrays.update({f"optim/{k}": v for k, v in self.opt.state().items()})
        arrays.update({f"rnn_velocity/{k}": v for k, v in self.rnn_velocity.items()})
        save_checkpoint(path, arrays, {"graph": structure, "config": asdict(self.config), "epoch": self.epoch,
                                       "history": self.history, "n_train": len(self.train), "recipe": RECIPE})

    @classmethod
    def resume(cls, path, train, valid=None, epochs: int | None = None) -> "RNNRBMTrainer":
        """Continue a checkpoint written by :meth:`save`; ``train`` must be the sequences it was trained on."""
        model, arrays, meta = load_rnn_rbm(path, with_arrays=True)
        try:
            config = SequenceConfig(**meta["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: the checkpoint's config cannot be rebuilt ({exc})") from None
        if epochs is not None:
            config.epochs = int(epochs)
        t = cls(model, train, config, valid, resumed=True)
        if len(t.train) != meta.get("n_train"):
            raise CheckpointError(f"{path}: trained on {meta.get('n_train')} sequences, but {len(t.train)} were given; "
                                  "resume with the same data")
        try:
            t.opt.load_state({k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")})
            for k in RNN_KEYS:
                t.rnn_velocity[k][...] = arrays[f"rnn_velocity/{k}"]
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{path}: the checkpoint does not match its own graph/config ({exc})") from None
        t.epoch, t.history = int(meta["epoch"]), list(meta["history"])
        return t


def load_rnn_rbm(path, with_arrays: bool = False):
    """The :class:`~pgboltz.models.rnnrbm.RNNRBM` of a checkpoint (with its arrays and meta if asked)."""
    graph, arrays, meta = load_model(path)
    if meta.get("recipe") != RECIPE:
        raise CheckpointError(f"{path}: not an RNN-RBM checkpoint (recipe {meta.get('recipe')!r})")
    try:
        rnn = RNN(**{k: np.asarray(arrays[f"rnn/{k}"], dtype=np.float64) for k in RNN_KEYS})
        model = RNNRBM(graph, rnn)
    except (KeyError, DataError, ValueError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's RNN cannot be rebuilt ({exc})") from None
    return (model, arrays, meta) if with_arrays else model
