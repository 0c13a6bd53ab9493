"""Average test log-likelihood: exact when the model can be enumerated, else an AIS bracket.

    log p(v) = -F(v) - log Z

The free energy F is exact: hidden groups summed out analytically, and for deep models
(DBN, DBM) the hidden layers that cannot be summed given v enumerated. When that is too
large, -F(v) is replaced by a variational lower bound per example (:mod:`.bound`: the
mean-field bound of Salakhutdinov & Hinton for a DBM, the up-pass bound of Salakhutdinov &
Murray for a DBN), with an importance-sampled estimate beside it. log Z is exact by
enumeration when at most 22 units remain after summing one side out (a 784x20
RBM qualifies), otherwise estimated twice: forward AIS (a stochastic lower bound of
log Z, so an *optimistic* log-likelihood) and reverse AIS from the end of long
Gibbs runs started at data (an upper bound when those states are model samples,
so a *conservative* log-likelihood). Every figure comes with the base-rate
model's log-likelihood for scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TooLargeError
from ..exact import log_z as exact_log_z
from .ais import (ais, as_field, base_rate_biases, centred_ais, default_betas, default_gammas, hidden_couplings,
                  undirected_part)
from .free_energy import free_energy


@dataclass
class Evaluation:
    method: str  # "exact" or "ais"
    log_likelihood: float  # exact, or the forward-AIS (optimistic) estimate
    interval: tuple  # (low, high) nats: +-3 sigma of forward AIS, (value, value) if exact
    conservative: tuple | None  # reverse AIS estimate and its interval, or None
    log_z: float
    base_rate: float  # log-likelihood of the base-rate model (independent pixels)
    n: int
    details: str = ""
    numerator: str = "exact"  # how log p~(v) was computed: "exact", or the name of a lower bound
    importance: float | None = None  # importance-sampled estimate of the same average (bounds only)
    warnings: str = ""  # AIS weights too uneven to trust (see AISResult.warning)

    def __str__(self):
        if self.numerator != "exact":
            return self._bound_str()
        if self.method == "exact":
            s = f"exact log-likelihood {self.log_likelihood:.3f} nats/example (log Z = {self.log_z:.4f})"
        else:
            s = (f"AIS log-likelihood {self.log_likelihood:.3f} nats/example, +-3 sigma "
                 f"[{self.interval[0]:.3f}, {self.interval[1]:.3f}] (forward AIS: optimistic)")
            if self.conservative is not None:
                v, lo, hi = self.conservative
                s += f"\n  reverse AIS {v:.3f} [{lo:.3f}, {hi:.3f}] (conservative)"
        return s + f"\n  base-rate model {self.base_rate:.3f} nats/example; {self.n} examples{self.details}" + \
            self.warnings

    def _bound_str(self):
        lz = "exact log Z" if self.method == "exact" else "forward AIS log Z"
        s = f"{self.numerator} on the log-likelihood {self.log_likelihood:.3f} nats/example ({lz} = {self.log_z:.4f}"
        if self.method != "exact":
            s += f", +-3 sigma [{self.interval[0]:.3f}, {self.interval[1]:.3f}]"
        s += ")"
        if self.importance is not None:
            s += f"\n  importance-sampled estimate {self.importance:.3f} (a tighter lower bound in expectation)"
        if self.conservative is not None:
            v, lo, hi = self.conservative
            s += f"\n  with reverse AIS log Z: {v:.3f} [{lo:.3f}, {hi:.3f}] (conservative)"
        return s + f"\n  base-rate model {self.base_rate:.3f} nats/example; {self.n} examples{self.details}" + \
            self.warnings


def base_rate_log_likelihood(graph, base: dict, data: dict) -> float:
    """Average log-likelihood of the base-rate model: independent visible units with natural parameters ``base``."""
    total = 0.0
    for g, x in graph.check_states(data, groups=list(base), what="data").items():
        units = graph.group(g).units
        field = as_field(base[g])
        ll = x @ field["linear"]
        if field.get("precision") is not None:
            ll = ll - 0.5 * (x * x) @ field["precision"]
        total += float(np.mean(ll) - units.log_partition_total(np, {s: v[None] for s, v in field.items()})[0])
    return total


def ais_runner(graph, base: dict, train: dict, runs: int, n_betas: int | None, backend="numpy", dtype="float32",
               progress: bool = False):
    """(``run(seed=, reverse_from=None) -> AISResult``, a description of the path) for ``graph``: the centred
    two-stage path of :func:`pgboltz.estimators.centred_ais` for a deep Boltzmann machine (default 22000
    steps, 6/22 of them to the decoupled model), else :func:`pgboltz.estimators.ais` (default 14500 betas on
    Salakhutdinov & Murray's schedule)."""
    undirected = undirected_part(graph)
    if undirected.visible and hidden_couplings(undirected):  # a DBM: switch the hidden couplings on last
        centres = hidden_centres(undirected, train, backend=backend)
        n_all = 22000 if n_betas is None else int(n_betas)
        n1 = max(2, round(n_all * 6 / 22))
        betas, gammas = np.linspace(0.0, 1.0, n1), default_gammas(max(2, n_all - n1))

        def run(**kw):
            return centred_ais(graph, base, centres, runs=runs, betas=betas, gammas=gammas, backend=backend,
                               dtype=dtype, progress=progress, **kw)

        return run, (f"{len(betas)} betas to the decoupled model + {len(gammas)} steps switching the hidden "
                     "layers' couplings on (centred)")
    betas = default_betas(14500 if n_betas is None else n_betas)

    def run(**kw):
        return ais(graph, base, runs=runs, betas=betas, backend=backend, dtype=dtype, progress=progress, **kw)

    return run, f"{len(betas)} betas"


def hidden_centres(graph, train: dict, rows: int = 1000, backend="numpy") -> dict:
    """Mean activities of the hidden groups under the mean-field posteriors of ``rows`` random rows of the
    training data: the centres of :func:`pgboltz.estimators.centred_ais`."""
    from .bound import mean_field_bound

    n = next(iter(train.values())).shape[0]
    pick = np.random.default_rng(0).choice(n, size=min(rows, n), replace=False)  # spread over the whole set
    means = mean_field_bound(graph, {g: x[pick] for g, x in train.items()}, backend=backend).means
    return {g: np.asarray(m, dtype=np.float64).reshape(len(m), -1).mean(axis=0) for g, m in means.items()}


def evaluate(graph, data: dict, train: dict, ais_runs: int = 100, n_betas: int | None = None, seed: int = 0,
             backend="numpy", dtype="float32", reverse: bool = True, reverse_sweeps: int = 1000,
             progress: bool = False, bound_samples: int = 100) -> Evaluation:
    """Average log p(v) over ``data``; ``train`` fits the base-rate model (as in Salakhutdinov & Murray).

    log Z is exact when enumeration is small enough, else AIS: ``n_betas`` intermediate distributions
    (default 14500, Salakhutdinov & Murray's schedule), or for a deep Boltzmann machine the two-stage
    centred path of :func:`pgboltz.estimators.centred_ais` (default 22000: 6/22 of them to the decoupled
    model, the rest switching the hidden layers' couplings on, centred on ``train``'s mean-field activities).

    ``bound_samples``: importance samples per example when a deep model's -F(v) is replaced by a bound."""
    base = base_rate_biases(graph, train)
    base_ll = base_rate_log_likelihood(graph, base, data)
    n = next(iter(data.values())).shape[0]
    numerator, importance, extra = "exact", None, ""
    try:
        neg_f = float(np.mean(-free_energy(graph, data)))
    except TooLargeError:
        from .bound import deep_bound

        b = deep_bound(graph, data, bound_samples, seed)
        neg_f, numerator = float(np.mean(b.value)), b.method
        if b.importance is not None:
            importance = float(np.mean(b.importance))
            extra = f"; {b.samples} importance samples per example"
    try:  # a DBN's Z is its top RBM's: the directed tables sum to one
        lz = exact_log_z(undirected_part(graph))
        return Evaluation("exact", neg_f - lz, (neg_f - lz, neg_f - lz), None, lz, base_ll, n, extra, numerator,
                          None if importance is None else importance - lz)
    except TooLargeError:
        pass
    run, path = ais_runner(graph, base, train, ais_runs, n_betas, backend, dtype, progress)
    fwd = run(seed=seed)
    conservative = None
    details = f"{extra}; {ais_runs} AIS runs x {path}"
    if reverse:
        from ..sampling import GibbsSampler

        rows = np.random.default_rng(seed).choice(n, size=ais_runs, replace=ais_runs > n)
        init = {g: x[rows] for g, x in data.items()}
        s = GibbsSampler(graph, chains=ais_runs, backend=backend, seed=seed + 1, dtype=dtype, init=init)
        s.sweep(reverse_sweeps)
        rev = run(seed=seed + 2, reverse_from=s.get_states())
        s.backend.close()
        conservative = (neg_f - rev.log_z, neg_f - rev.upper, neg_f - rev.lower)
        start = "" if any(f.directed for f in graph.factors) else " started at data"
        details += f"; reverse AIS from {reverse_sweeps} Gibbs sweeps{start}"
    warnings = fwd.warning() + (rev.warning() if reverse else "")
    return Evaluation("ais", neg_f - fwd.log_z, (neg_f - fwd.upper, neg_f - fwd.lower), conservative, fwd.log_z,
                      base_ll, n, details, numerator, None if importance is None else importance - fwd.log_z, warnings)
