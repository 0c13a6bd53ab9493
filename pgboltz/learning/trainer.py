"""Training by stochastic maximum likelihood: CD-k, persistent CD and parallel tempering.

One update on a minibatch of data:

1. positive statistics with the visible groups clamped to the batch
   (:mod:`pgboltz.learning.statistics`);
2. negative statistics from a sampler that runs ``k`` sweeps:
   * ``cd``  -- chains restarted at the batch (contrastive divergence, CD-k),
   * ``pcd`` -- persistent chains that carry on between updates (Tieleman 2008),
   * ``pt``  -- persistent chains at several temperatures with replica exchange
     after every sweep; statistics from the beta = 1 chains (Desjardins et al. 2010);
3. a gradient step (:mod:`pgboltz.learning.optim`), then the samplers' device
   parameters are refreshed.

Every epoch reseeds the random streams, the batch order and the exchange
decisions from (seed, epoch), so a run resumed from a checkpoint written at an
epoch boundary repeats the uninterrupted run bit for bit on the same backend.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from ..checkpoint import CheckpointError, load_model, save_checkpoint
from ..conditionals import accumulate, field_terms, independent_groups
from ..errors import DataError
from ..graph.serialize import graph_to_dict
from ..sampling import GibbsSampler
from .optim import SGD, OptimConfig
from .statistics import can_average_hidden, factor_statistics, mean_field_hidden, uniform_weights
from .tempering import Tempering, geometric_betas

METHODS = ("cd", "pcd", "pt")


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
    seed: int = 0
    backend: str = "numpy"
    dtype: str = "float32"
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self):
        if isinstance(self.optim, dict):
            self.optim = OptimConfig(**self.optim)
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name in ("k", "epochs", "batch_size", "temperatures", "positive_sweeps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")


class Trainer:
    """Train ``graph`` on ``train`` (``{visible group: (n, *shape)}``), in place."""

    def __init__(self, graph, train: dict, config: TrainConfig | None = None, test: dict | None = None):
        self.graph, self.config = graph, config or TrainConfig()
        c = self.config
        if not graph.visible:
            raise DataError(f"{graph.name!r} has no visible group to clamp data to (set role = \"visible\")")
        self.train = graph.check_states(train, groups=graph.visible, what="training data")
        self.test = graph.check_states(test, groups=graph.visible, what="test data") if test is not None else None
        self.n = next(iter(self.train.values())).shape[0]
        if self.n < c.batch_size:
            raise DataError(f"{self.n} training examples, fewer than one batch of {c.batch_size}")
        self.hidden = [g for g in graph.groups if g not in graph.visible]
        self.average_hidden = can_average_hidden(graph)
        self.opt = SGD(graph, c.optim, c.epochs)
        self.epoch = 0
        self.history: list[dict] = []
        chains = c.chains or c.batch_size
        if c.method == "cd":
            chains = c.batch_size
        K = c.temperatures if c.method == "pt" else 1
        self.neg = GibbsSampler(graph, chains=chains * K, backend=c.backend, seed=c.seed, dtype=c.dtype)
        self.be = self.neg.backend
        self.tempering = Tempering(self.neg, geometric_betas(K, c.beta_min), np.random.default_rng(c.seed)) \
            if c.method == "pt" else None
        self.pos = None
        if not self.average_hidden:
            clamp = {g: np.zeros((c.batch_size,) + graph.group(g).shape) for g in graph.visible}
            self.pos = GibbsSampler(graph, chains=c.batch_size, backend=c.backend, seed=c.seed + 1, dtype=c.dtype,
                                    clamp=clamp)

    # -- one update -------------------------------------------------------------
    def _positive(self, batch):
        xp = self.be.xp
        if self.average_hidden:
            vis = {g: self.be.asarray(x) for g, x in batch.items()}
            states = mean_field_hidden(self.graph, vis, self.hidden, self.neg._params, self.be)
            n = next(iter(batch.values())).shape[0]
            return factor_statistics(self.graph, states, uniform_weights(xp, n), self.be), states
        self.pos.set_states(batch)
        self.pos.sweep(self.config.positive_sweeps)
        n = self.pos.chains
        return factor_statistics(self.graph, self.pos._states, uniform_weights(xp, n), self.be), self.pos._states

    def _negative(self, batch):
        c, s = self.config, self.neg
        if c.method == "cd":
            s.set_states(batch)
        for _ in range(c.k):
            s.sweep(1)
            if self.tempering is not None:
                self.tempering.swap()
        mask = self.tempering.cold_mask() if self.tempering is not None else None
        states = s._states
        if self.average_hidden:
            vis = {g: states[g] for g in self.graph.visible}
            states = mean_field_hidden(self.graph, vis, self.hidden, s._params, self.be)
        return factor_statistics(self.graph, states, uniform_weights(self.be.xp, s.chains, mask), self.be)

    def _update(self, batch):
        pos, pos_states = self._positive(batch)
        neg = self._negative(batch)
        grads = [{k: p[k] - q[k] for k in p} for p, q in zip(pos, neg)]
        means = {g: self.be.to_numpy(pos_states[g].mean(axis=0)).astype(np.float64) for g in self.hidden}
        self.opt.step(grads, self.epoch, means)
        self.neg.refresh_params()
        if self.pos is not None:
            self.pos.refresh_params()

    # -- epochs -------------------------------------------------------------------
    def run_epoch(self) -> dict:
        c = self.config
        t0 = time.perf_counter()
        for s in (self.neg, self.pos):
            if s is not None:
                s.backend.reseed([c.seed, self.epoch, 1 if s is self.neg else 2])
        if self.tempering is not None:
            self.tempering.rng = np.random.default_rng([c.seed, self.epoch, 3])
        order = np.random.default_rng([c.seed, self.epoch]).permutation(self.n)
        n_batches = self.n // c.batch_size  # the incomplete last batch is dropped
        with self.be.hot_loop():
            for b in range(n_batches):
                idx = order[b * c.batch_size:(b + 1) * c.batch_size]
                self._update({g: x[idx] for g, x in self.train.items()})
        self.epoch += 1
        metrics = {"epoch": self.epoch, "seconds": time.perf_counter() - t0,
                   "reconstruction_error": self.reconstruction_error(self.train)}
        if self.tempering is not None:
            metrics["swap_acceptance"] = float(np.mean(self.tempering.acceptance()))
        self.history.append(metrics)
        return metrics

    def fit(self, epochs: int | None = None, progress: bool = False, callback=None) -> list:
        """Train until ``epochs`` epochs in total (default: config.epochs) have run."""
        target = self.config.epochs if epochs is None else int(epochs)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=target, initial=self.epoch, desc=f"train {self.graph.name} ({self.config.method})",
                       unit="epoch")
        while self.epoch < target:
            m = self.run_epoch()
            if callback is not None:
                callback(self, m)
            if bar is not None:
                if m["reconstruction_error"] is not None:
                    bar.set_postfix(recon=f"{m['reconstruction_error']:.4f}")
                bar.update(1)
        if bar is not None:
            bar.close()
        return self.history

    def exact_log_likelihoods(self, max_units: int = 20) -> dict | None:
        """Exact average log-likelihood of the train (and test) data, or None if the model is too large."""
        from ..errors import TooLargeError
        from ..estimators import exact_log_likelihood
        from ..exact import log_z

        try:
            lz = log_z(self.graph, max_units=max_units)
        except TooLargeError:
            return None
        out = {"train": exact_log_likelihood(self.graph, self.train, lz)}
        if self.test is not None:
            out["test"] = exact_log_likelihood(self.graph, self.test, lz)
        return out

    def reconstruction_error(self, data: dict, limit: int = 2000) -> float | None:
        """Mean squared error of v against E[v | h = E[h | v]] (mean-field reconstruction)."""
        if not self.average_hidden or not independent_groups(self.graph, self.graph.visible):
            return None
        be = self.be
        vis = {g: be.asarray(x[:limit]) for g, x in data.items()}
        states = mean_field_hidden(self.graph, vis, self.hidden, self.neg._params, be)
        err, count = 0.0, 0
        for g in self.graph.visible:
            n = vis[g].shape[0]
            theta = be.empty((n, self.graph.group(g).size))
            accumulate(field_terms(self.graph, g, None, self.neg._params, be, n), states, theta)
            recon = self.graph.group(g).units.mean(be.xp, theta)
            err += float(((vis[g] - recon) ** 2).sum())
            count += vis[g].size
        return err / count

    # -- checkpoints ------------------------------------------------------------
    def save(self, path) -> None:
        structure, arrays = graph_to_dict(self.graph)
        arrays.update({f"optim/{k}": v for k, v in self.opt.state().items()})
        arrays.update({f"chains/{g}": self.be.to_numpy(x) for g, x in self.neg._states.items()})
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
                t.tempering._push_betas()
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{path}: the checkpoint does not match its own graph/config ({exc})") from None
        t.epoch, t.history = int(meta["epoch"]), list(meta["history"])
        return t
