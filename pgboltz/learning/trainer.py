"""Training by stochastic maximum likelihood: CD-k, persistent CD and parallel tempering.

One update on a minibatch of data:

1. positive statistics with the visible groups (and inputs) clamped to the batch
   (:mod:`pgboltz.learning.statistics`);
2. negative statistics from a sampler that runs ``k`` sweeps:
   * ``cd``  -- chains restarted at the batch (contrastive divergence, CD-k),
   * ``pcd`` -- persistent chains that carry on between updates (Tieleman 2008),
   * ``pt``  -- persistent chains at several temperatures with replica exchange
     after every sweep; statistics from the beta = 1 chains (Desjardins et al. 2010);
3. a gradient step on the backend (:mod:`pgboltz.learning.optim`): the positive and
   negative samplers share the compiled model's device parameters, so nothing is
   copied; the graph's host parameters are refreshed after each epoch.

Input groups (a conditional RBM's history) are clamped in both phases: each negative
chain is conditioned on one example's inputs.

Every epoch reseeds the random streams, the batch order and the exchange
decisions from (seed, epoch), so a run resumed from a checkpoint written at an
epoch boundary repeats the uninterrupted run bit for bit on the same backend.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..checkpoint import CheckpointError, load_model, save_checkpoint
from ..errors import DataError, PgboltzError
from ..graph.serialize import graph_to_dict
from ..model import MEAN_FIELD_START, independent_groups
from ..graph.schedule import derive_blocks, groups_last
from ..sampling import GibbsSampler
from .optim import SGD, OptimConfig
from .statistics import can_average_hidden, conditional_means, hidden_groups, uniform_weights
from .tempering import Tempering, geometric_betas

METHODS = ("cd", "pcd", "pt")
#: positive phases: exact conditional means when the hidden groups are independent given the data, else
#: clamped Gibbs sampling ("auto"); or mean-field fixed points (a DBM, Salakhutdinov & Hinton 2009)
POSITIVE = ("auto", "mean_field")


def run_epochs(trainer, epochs, progress, callback, desc, postfix=None) -> list:
    """Run ``trainer.run_epoch()`` until ``epochs`` (default: its config's) epochs in total have run, calling
    ``callback(trainer, metrics)`` after each, with a progress bar (``postfix(metrics)``: what it shows)."""
    target = trainer.config.epochs if epochs is None else int(epochs)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=target, initial=trainer.epoch, desc=desc, unit="epoch")
    while trainer.epoch < target:
        m = trainer.run_epoch()
        if callback is not None:
            callback(trainer, m)
        if bar is not None:
            extra = postfix(m) if postfix is not None else {}
            if extra:
                bar.set_postfix(**extra)
            bar.update(1)
    if bar is not None:
        bar.close()
    return trainer.history


class TrainingDiverged(PgboltzError, RuntimeError):
    """Parameters became NaN or infinite; the graph keeps the last finite parameters."""


@dataclass
class TrainConfig:
    method: str = "pcd"
    k: int = 1
    epochs: int = 10
    batch_size: int = 100
    chains: int | None = None  # persistent chains per temperature (default: batch_size)
    temperatures: int = 8  # pt only
    beta_min: float = 0.3  # pt only: lowest inverse temperature (geometric spacing)
    positive_sweeps: int = 10  # clamped sweeps, when hidden units cannot be averaged exactly
    positive: str = "auto"  # "auto" or "mean_field"
    mean_field_iterations: int = 30  # positive = "mean_field": fixed-point iterations per batch (at most)
    mean_field_damping: float = 0.0
    negative: str = "gibbs"  # "gibbs", or "hmc": hybrid Monte Carlo on the visible group's free energy
    hmc_step: float = 0.05
    hmc_leapfrog: int = 20
    seed: int = 0
    backend: str = "numpy"
    dtype: str = "float32"
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self):
        if isinstance(self.optim, dict):
            self.optim = OptimConfig(**self.optim)
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.positive not in POSITIVE:
            raise ValueError(f"positive must be one of {', '.join(POSITIVE)}, got {self.positive!r}")
        if self.negative not in ("gibbs", "hmc"):
            raise ValueError(f"negative must be 'gibbs' or 'hmc', got {self.negative!r}")
        if self.negative == "hmc" and (self.method == "pt" or not self.hmc_step > 0 or int(self.hmc_leapfrog) < 1):
            raise ValueError("negative = 'hmc' needs method cd or pcd, hmc_step > 0 and hmc_leapfrog >= 1")
        for name in ("k", "epochs", "batch_size", "temperatures", "positive_sweeps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")


class Trainer:
    """Train ``graph`` on ``train`` (``{visible and input group: (n, *shape)}``), in place.

    Parameters and optimiser state live on the backend (``self.model.params``); the graph's
    host parameters are refreshed at the end of every epoch and before checkpoints.
    """

    def __init__(self, graph, train: dict, config: TrainConfig | None = None, test: dict | None = None):
        self.graph, self.config = graph, config or TrainConfig()
        c = self.config
        if not graph.visible:
            raise DataError(f"{graph.name!r} has no visible group to clamp data to (set role = \"visible\")")
        self.data_groups = list(graph.visible) + list(graph.inputs)
        self.train = graph.check_states(train, groups=self.data_groups, what="training data")
        self.test = graph.check_states(test, groups=self.data_groups, what="test data") if test is not None else None
        self.n = next(iter(self.train.values())).shape[0]
        if self.n < c.batch_size:
            raise DataError(f"{self.n} training examples, fewer than one batch of {c.batch_size}")
        self.hidden = hidden_groups(graph)
        self.average_hidden = can_average_hidden(graph) and c.positive == "auto"
        #: an RBM-like graph trained by CD or PCD with Gibbs chains: the chains draw the hidden groups last, so the
        #: negative statistics' conditional means come from the fields of that draw (no extra product), and CD
        #: draws the first hidden states from the positive phase's fields
        self.fields_reused = self.average_hidden and c.method in ("cd", "pcd") and c.negative == "gibbs" \
            and not any(f.directed for f in graph.factors)
        self._joint_hidden = any(set(js) & set(self.hidden) for f, js in graph.joint_sets()
                                 if f.joint_distribution() is not None)
        self.epoch = 0
        self.history: list[dict] = []
        chains = c.chains or c.batch_size
        if c.method == "cd":
            chains = c.batch_size
        K = c.temperatures if c.method == "pt" else 1
        if graph.inputs and (chains != c.batch_size or K > 1):
            raise DataError(f"{graph.name!r} has input groups ({', '.join(graph.inputs)}): each negative chain is "
                            "conditioned on one example's inputs, so use chains = batch size and cd or pcd")
        blocks = groups_last(graph, derive_blocks(graph), self.hidden) if self.fields_reused else None
        self.neg = GibbsSampler(graph, chains=chains * K, backend=c.backend, seed=c.seed, dtype=c.dtype, blocks=blocks)
        self.model = self.neg.model
        self.be = self.neg.backend
        self.opt = SGD(self.model, c.optim, c.epochs, hidden=self.hidden)
        self.train_dev = {g: self.be.asarray(x) for g, x in self.train.items()}
        self.tempering = Tempering(self.neg, geometric_betas(K, c.beta_min), np.random.default_rng(c.seed)) \
            if c.method == "pt" else None
        self.hmc = None
        if c.negative == "hmc":
            from ..sampling import HMC

            if len(graph.visible) != 1 or graph.inputs:
                raise DataError("negative = 'hmc' moves one real-valued visible group; "
                                f"{graph.name!r} has visible {graph.visible} and inputs {graph.inputs}")
            self.hmc = HMC(graph, graph.visible[0], chains, step=c.hmc_step, leapfrog=c.hmc_leapfrog, seed=c.seed,
                           model=self.model)
        self.pos = None
        if not self.average_hidden:
            clamp = {g: self.train[g][:c.batch_size] for g in graph.visible}
            self.pos = GibbsSampler(graph, chains=c.batch_size, backend=c.backend, seed=c.seed + 1, dtype=c.dtype,
                                    clamp=clamp, params=self.model.params)

    # -- one update -------------------------------------------------------------
    def _device(self, batch):
        """Data on the backend in its dtype (arrays already there are used as they are)."""
        be = self.be
        return {g: x if isinstance(x, be.xp.ndarray) and x.dtype == be.dtype else be.asarray(x)
                for g, x in batch.items()}

    def _positive(self, batch):
        """(statistics, states, hidden fields or None) with the data clamped; ``batch`` maps data groups to
        ``(batch, size)``. The fields (views of the model's buffers) are valid until its next field query."""
        xp = self.be.xp
        batch = self._device(batch)
        n = next(iter(batch.values())).shape[0]
        c = self.config
        fields = None
        if self.fields_reused and c.method == "cd" and not self._joint_hidden:
            m = self.model
            fields = {g: m.field(g, batch) for g in self.hidden}
            states = dict(batch)
            states.update({g: self.graph.group(g).units.mean(xp, fields[g]) for g in self.hidden})
        elif self.average_hidden:
            states = conditional_means(self.model, batch, self.hidden)
        elif c.positive == "mean_field":  # q(h) = prod of independent units, from 0 each batch
            pos = self.pos.model
            pos.load_states(batch)
            for g in self.hidden:  # see MEAN_FIELD_START
                pos.states[g][...] = MEAN_FIELD_START
            pos.mean_field(c.mean_field_iterations, c.mean_field_damping, tol=1e-6)
            states = pos.states  # multilinear factors: E_q[s(h)] = s(E_q[h])
        else:
            self.pos.model.load_states(batch)
            self.pos.sweep(c.positive_sweeps)
            states = self.pos.model.states
        return self.model.statistics(states, uniform_weights(xp, n, dtype=self.be.dtype)), states, fields

    def _negative(self, batch, fields=None):
        c, s, m = self.config, self.neg, self.model
        batch = self._device(batch)
        if c.method == "cd":
            m.load_states({g: batch[g] for g in self.graph.visible})
        if self.graph.inputs:
            m.load_states({g: batch[g] for g in self.graph.inputs})
        if self.fields_reused:  # (CD: h ~ p(h | data) first) then k sweeps ending with the hidden groups
            if c.method == "cd":
                m.draw(self.hidden, given=fields)
            states = {g: m.states[g] for g in self.data_groups}
            states.update(s.sweep(c.k, means=self.hidden))
            return m.statistics(states, uniform_weights(self.be.xp, s.chains, dtype=self.be.dtype))
        if self.hmc is not None:  # k HMC transitions of x, the hidden groups summed out
            self.hmc.sweep(c.k)
        else:
            for _ in range(c.k):
                s.sweep(1)
                if self.tempering is not None:
                    self.tempering.swap()
        mask = self.tempering.cold_mask() if self.tempering is not None else None
        states = m.states
        if self.average_hidden:
            states = conditional_means(m, {g: states[g] for g in self.data_groups}, self.hidden)
        return m.statistics(states, uniform_weights(self.be.xp, s.chains, mask, dtype=self.be.dtype))

    def _update(self, batch):
        pos, pos_states, fields = self._positive(batch)
        neg = self._negative(batch, fields)
        for p, q in zip(pos, neg):  # statistics are fresh arrays: the positive ones become the gradient
            for k in p:
                p[k] -= q[k]
        grads = pos
        means = {g: pos_states[g].mean(axis=0) for g in self.hidden} \
            if self.config.optim.sparsity_target is not None else None
        self.opt.step(grads, self.epoch, means)

    # -- epochs -------------------------------------------------------------------
    def run_epoch(self) -> dict:
        c = self.config
        t0 = time.perf_counter()
        for s in (self.neg, self.pos):
            if s is not None:
                s.backend.reseed([c.seed, self.epoch, 1 if s is self.neg else 2])
        if self.tempering is not None:
            self.tempering.rng = np.random.default_rng([c.seed, self.epoch, 3])
        if self.hmc is not None:
            self.hmc.rng = np.random.default_rng([c.seed, self.epoch, 4])
        order = np.random.default_rng([c.seed, self.epoch]).permutation(self.n)
        n_batches = self.n // c.batch_size  # the incomplete last batch is dropped
        with self.model.running():
            for b in range(n_batches):
                idx = self.be.asarray(order[b * c.batch_size:(b + 1) * c.batch_size], dtype=np.intp)
                self._update({g: x[idx] for g, x in self.train_dev.items()})
        if not self.model.params_finite():
            raise TrainingDiverged(
                f"training {self.graph.name!r} diverged in epoch {self.epoch + 1}: parameters became NaN or infinite. "
                "The graph keeps the parameters of the last finite epoch; lower the learning rate or momentum")
        self.model.pull_params()
        self.epoch += 1
        metrics = {"epoch": self.epoch, "seconds": time.perf_counter() - t0,
                   "reconstruction_error": self.reconstruction_error(self.train)}
        if self.tempering is not None:
            metrics["swap_acceptance"] = float(np.mean(self.tempering.acceptance()))
        self.history.append(metrics)
        return metrics

    def fit(self, epochs: int | None = None, progress: bool = False, callback=None) -> list:
        """Train until ``epochs`` epochs in total (default: config.epochs) have run."""

        def postfix(m):
            return {} if m["reconstruction_error"] is None else {"recon": f"{m['reconstruction_error']:.4f}"}

        return run_epochs(self, epochs, progress, callback, f"train {self.graph.name} ({self.config.method})", postfix)

    def exact_log_likelihoods(self, max_units: int = 20) -> dict | None:
        """Exact average log-likelihood of the train (and test) data, or None if the model is too large
        (a conditional model: the average log p(v | inputs) of the first 2000 rows of each)."""
        from ..errors import TooLargeError
        from ..estimators import exact_log_likelihood
        from ..exact import log_z

        self.model.pull_params()
        if self.graph.inputs:  # a conditional model: log p(v | u) row by row, each row with its own log Z(u)
            from ..estimators import conditional_log_likelihood

            sets = {"train": self.train} if self.test is None else {"train": self.train, "test": self.test}
            try:
                return {k: float(conditional_log_likelihood(self.graph, {g: x[:2000] for g, x in d.items()},
                                                            max_units=min(max_units, 16)).mean())
                        for k, d in sets.items()}
            except (TooLargeError, DataError):
                return None
        try:
            lz = log_z(self.graph, max_units=max_units)
        except TooLargeError:
            return None
        out = {"train": exact_log_likelihood(self.graph, self.train, lz)}
        if self.test is not None:
            out["test"] = exact_log_likelihood(self.graph, self.test, lz)
        return out

    def reconstruction_error(self, data: dict, limit: int = 1000) -> float | None:
        """Mean squared error of v against E[v | h = E[h | v]] (mean-field reconstruction), over the first
        ``limit`` rows of ``data``."""
        if not self.average_hidden or not independent_groups(self.graph, self.graph.visible):
            return None
        be, m = self.be, self.model
        given = {g: be.asarray(x[:limit]) for g, x in data.items()}
        states = conditional_means(m, given, self.hidden)
        err, count = 0.0, 0
        for g in self.graph.visible:
            recon = self.graph.group(g).units.mean(be.xp, m.field(g, states))
            err += float(((given[g] - recon) ** 2).sum())
            count += given[g].size
        return err / count

    # -- checkpoints ------------------------------------------------------------
    def save(self, path) -> None:
        self.model.pull_params()
        structure, arrays = graph_to_dict(self.graph)
        arrays.update({f"optim/{k}": v for k, v in self.opt.state().items()})
        arrays.update({f"chains/{g}": x for g, x in self.neg.get_states().items()})
        if self.tempering is not None:
            arrays["tempering/chain_at"] = self.tempering.chain_at
            arrays["tempering/accepted"] = self.tempering.accepted
            arrays["tempering/proposed"] = self.tempering.proposed
            arrays["tempering/parity"] = np.array(self.tempering.parity)
        config = asdict(self.config)
        save_checkpoint(path, arrays, {"graph": structure, "config": config, "epoch": self.epoch,
                                       "history": self.history, "n_train": self.n})

    @classmethod
    def resume(cls, path, train: dict, test: dict | None = None, epochs: int | None = None) -> "Trainer":
        """Rebuild a trainer from a checkpoint; ``train`` must be the data it was trained on."""
        return cls.from_checkpoint(path, load_model(path), train, test, epochs)

    @classmethod
    def from_checkpoint(cls, path, loaded, train: dict, test: dict | None = None,
                        epochs: int | None = None) -> "Trainer":
        """Like :meth:`resume`, from what :func:`~pgboltz.checkpoint.load_model` returned for ``path``."""
        graph, arrays, meta = loaded
        try:
            config = TrainConfig(**meta["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: the checkpoint's config cannot be rebuilt ({exc})") from None
        if epochs is not None:
            config.epochs = int(epochs)
        t = cls(graph, train, config, test)
        if t.n != meta.get("n_train"):
            raise CheckpointError(f"{path}: trained on {meta.get('n_train')} examples, but {t.n} were given; "
                                  "resume with the same data")
        try:
            t.opt.load_state({k[len("optim/"):]: v for k, v in arrays.items() if k.startswith("optim/")})
            t.neg.set_states({g: arrays[f"chains/{g}"] for g in graph.groups})
            if t.tempering is not None:
                t.tempering.chain_at[...] = arrays["tempering/chain_at"]
                t.tempering.accepted[...] = arrays["tempering/accepted"]
                t.tempering.proposed[...] = arrays["tempering/proposed"]
                t.tempering.parity = int(arrays["tempering/parity"])
                t.tempering.push_betas()
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{path}: the checkpoint does not match its own graph/config ({exc})") from None
        t.epoch, t.history = int(meta["epoch"]), list(meta["history"])
        return t
