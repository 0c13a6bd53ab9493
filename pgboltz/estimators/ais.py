"""Annealed importance sampling for log Z, forward and reverse (a bracket).

The path from a base-rate model A (independent visible units with biases b_A
fitted to the data, hidden units uniform) to the model B is

    f_beta(v) = exp((1 - beta) b_A^T v) * sum_h exp(-beta E_B(v, h)),   beta: 0 -> 1

with the hidden groups summed out analytically (Salakhutdinov & Murray 2008).
Z_0 = prod_i Z_i(b_A) * |support|^(n_hidden) is known. Each transition is one
blocked Gibbs sweep that leaves f_beta invariant: the model's factors at inverse
temperature beta plus a bias (1 - beta)/beta * b_A on the visible units.

* **forward** AIS (x_0 from the base model, beta rising) gives
  Z_hat = Z_0 * mean(w) with E[Z_hat] = Z, so log Z_hat is a stochastic *lower*
  bound of log Z (Jensen): the log-likelihood it implies is optimistic;
* **reverse** AIS (x_K from the model, beta falling) estimates Z_0 / Z, so its
  log Z is a stochastic *upper* bound when the starting states are exact model
  samples (Grosse et al. 2015): the log-likelihood it implies is conservative.

Both report log(Z_hat -/+ 3 sigma), sigma the standard error of the mean weight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..conditionals import accumulate, field_terms, independent_groups
from ..errors import DataError, GraphError
from ..factors import Bias


@dataclass
class AISResult:
    log_z: float
    lower: float  # log(Z_hat - 3 sigma); -inf if the interval reaches 0
    upper: float  # log(Z_hat + 3 sigma)
    log_weights: np.ndarray
    log_z_base: float
    direction: str
    runs: int
    n_betas: int
    seconds: float

    def __str__(self):
        return (f"log Z = {self.log_z:.4f}  [{self.lower:.4f}, {self.upper:.4f}] (+-3 sigma; {self.direction} AIS, "
                f"{self.runs} runs, {self.n_betas} betas, {self.seconds:.1f} s)")


def default_betas(n: int = 14500) -> np.ndarray:
    """Salakhutdinov & Murray's schedule, scaled to ``n`` points: 500/14500 of them in [0, 0.5),
    4000/14500 in [0.5, 0.9), the rest in [0.9, 1]."""
    n1, n2 = max(2, round(n * 500 / 14500)), max(2, round(n * 4000 / 14500))
    n3 = max(2, n - n1 - n2)
    return np.concatenate([np.linspace(0, 0.5, n1, endpoint=False), np.linspace(0.5, 0.9, n2, endpoint=False),
                           np.linspace(0.9, 1.0, n3)])


def base_rate_biases(graph, data: dict, smoothing: float = 1.0) -> dict:
    """Visible biases of the base-rate model: each unit's data frequency, smoothed, as a natural parameter."""
    out = {}
    for g, x in graph.check_states(data, groups=graph.visible, what="data").items():
        units = graph.group(g).units
        lo, hi = units.support
        p = ((x == hi).sum(axis=0) + smoothing) / (x.shape[0] + 2 * smoothing)
        out[g] = np.log(p / (1 - p)) / (hi - lo)  # P(hi) = sigma(theta * (hi - lo))
    return out


def _interval(log_w, log_z0):
    m = log_w.max()
    w = np.exp(log_w - m)
    mean, se = w.mean(), w.std(ddof=1) / np.sqrt(len(w)) if len(w) > 1 else 0.0
    lo = np.log(mean - 3 * se) + m + log_z0 if mean > 3 * se else -np.inf
    return np.log(mean) + m + log_z0, lo, np.log(mean + 3 * se) + m + log_z0


class _Path:
    """The annealing path over one graph: log f_beta(v) and transitions at beta."""

    def __init__(self, graph, base, runs, seed, backend, dtype):
        from ..graph import FactorGraph
        from ..sampling import GibbsSampler

        self.visible = list(graph.visible)
        self.hidden = [g for g in graph.groups if g not in self.visible]
        if not self.visible:
            raise GraphError(f"AIS needs visible groups; {graph.name!r} has none (set role = \"visible\")")
        if not independent_groups(graph, self.hidden):
            raise GraphError(f"AIS here sums the hidden groups of {graph.name!r} out, so they must be independent "
                             "given the visible ones (true for RBMs)")
        self.graph = graph
        self.base = {g: np.asarray(base[g], dtype=np.float64).reshape(-1) for g in self.visible}
        # the model's factors plus one bias per visible group carrying the base model
        aug = FactorGraph(graph.name + "+base")
        for g, grp in graph.groups.items():
            aug.add_group(g, grp.shape, grp.units, grp.role)
        for f in graph.factors:
            aug.add_factor(f)
        self.base_factor = {}
        for g in self.visible:
            self.base_factor[g] = len(aug.factors)
            aug.add_factor(Bias(g, np.zeros(graph.group(g).size), name=f"__base_{g}"))
        self.sampler = GibbsSampler(aug, chains=runs, backend=backend, seed=seed, dtype=dtype)
        self.be = self.sampler.backend
        self.base_dev = {g: self.be.asarray(b) for g, b in self.base.items()}
        n_model = len(graph.factors)  # the sampler's factors: the model's, then the base biases
        self.visible_only = [k for k in range(n_model) if not set(graph.factors[k].groups) & set(self.hidden)]
        params = self.sampler._params[:n_model]
        self.hidden_terms = {h: field_terms(graph, h, None, params, self.be, runs) for h in self.hidden}
        self.theta_buf = {h: self.be.empty((runs, graph.group(h).size)) for h in self.hidden}
        units = {g: graph.group(g).units for g in self.visible}
        self.log_z0 = float(sum(units[g].log_partition(np, self.base[g]).sum() for g in self.visible))
        self.log_z0 += float(sum(graph.group(h).size * np.log(len(graph.group(h).units.support)) for h in self.hidden))

    def pieces(self):
        """For the current visible states: (energy of the factors not touching hidden groups,
        hidden natural parameters, b_A . v), computed once and reused for several betas.

        Computed with the sampler's own arrays and dtype: binary states are exact, and an
        error in theta enters a weight difference only through beta_k - beta_(k-1)."""
        xp = self.be.xp
        s = self.sampler
        v = {g: s._states[g] for g in self.visible}
        e_vis = xp.zeros(s.chains, dtype=np.float64)
        for k in self.visible_only:
            e_vis += self.graph.factors[k].energy(xp, v, s._params[k]).astype(np.float64)
        thetas = {}
        for h in self.hidden:
            theta = self.theta_buf[h]
            accumulate(self.hidden_terms[h], v, theta)
            thetas[h] = theta.astype(np.float64)
        dot = sum((v[g] @ self.base_dev[g]).astype(np.float64) for g in self.visible)
        return e_vis, thetas, dot

    def log_f(self, beta, pieces):
        """log f_beta(v) per run from :meth:`pieces`."""
        e_vis, thetas, dot = pieces
        out = -beta * e_vis + (1.0 - beta) * dot
        for h, theta in thetas.items():
            out = out + self.graph.group(h).units.log_partition(self.be.xp, theta, beta).sum(axis=1)
        return out

    def sample_base(self):
        """Exact samples of the base model: visible from b_A, hidden uniform."""
        rng = self.be.host_rng
        states = {}
        for g, grp in self.graph.groups.items():
            units = grp.units
            if g in self.visible:
                p = units.prob_hi(np, self.base[g])
                states[g] = np.where(rng.random((self.sampler.chains, grp.size)) < p, units.support[1], units.support[0])
            else:
                states[g] = units.init_states(rng, (self.sampler.chains, grp.size))
        self.sampler.set_states(states)  # flat (runs, size) arrays are accepted as they are

    def transition(self, beta):
        """One Gibbs sweep leaving f_beta invariant (beta > 0)."""
        s = self.sampler
        s.beta = beta
        for g, k in self.base_factor.items():
            s.set_factor_params(k, b=self.base[g] * (1.0 - beta) / beta)
        s.sweep(1)


def ais(graph, base: dict, runs: int = 100, betas=None, seed: int = 0, backend="numpy", dtype="float32",
        reverse_from: dict | None = None, progress: bool = False) -> AISResult:
    """Estimate log Z of ``graph`` by AIS from the base-rate model ``base`` (``{visible group: biases}``).

    ``reverse_from``: states ``{group: (runs, *shape)}`` assumed to be model samples (for example
    the end of a long Gibbs run); then AIS runs from the model to the base and the result is
    a stochastic upper bound of log Z instead of a lower one.
    """
    betas = default_betas() if betas is None else np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or len(betas) < 2 or betas[0] != 0 or betas[-1] != 1 or np.any(np.diff(betas) <= 0):
        raise DataError("betas must rise strictly from 0 to 1")
    t0 = time.perf_counter()
    path = _Path(graph, base, runs, seed, backend, dtype)
    xp = path.be.xp
    log_w = xp.zeros(runs, dtype=np.float64)
    bar = _bar(len(betas) - 1, progress, "AIS reverse" if reverse_from else "AIS")
    if reverse_from is None:
        path.sample_base()
        for b_prev, b in zip(betas[:-1], betas[1:]):
            pieces = path.pieces()
            log_w += path.log_f(b, pieces) - path.log_f(b_prev, pieces)
            path.transition(b)
            bar.update(1)
        log_w = path.be.to_numpy(log_w)
        log_z, lo, hi = _interval(log_w, path.log_z0)
        direction = "forward"
    else:
        path.sampler.set_states(reverse_from)
        for b, b_prev in zip(betas[::-1][:-1], betas[::-1][1:]):  # b > b_prev
            pieces = path.pieces()
            log_w += path.log_f(b_prev, pieces) - path.log_f(b, pieces)
            if b_prev > 0:
                path.transition(b_prev)
            bar.update(1)
        log_w = path.be.to_numpy(log_w)
        # log w estimates log Z_0 - log Z: its lower end gives log Z's upper end and vice versa
        mid, lo_w, hi_w = _interval(log_w, 0.0)
        log_z, lo, hi = path.log_z0 - mid, path.log_z0 - hi_w, path.log_z0 - lo_w if np.isfinite(lo_w) else np.inf
        direction = "reverse"
    bar.close()
    path.sampler.backend.close()
    return AISResult(float(log_z), float(lo), float(hi), log_w, path.log_z0, direction, runs, len(betas),
                     time.perf_counter() - t0)


def _bar(total, enabled, desc):
    from ..sampling.gibbs import _progress

    return _progress(total, enabled, desc)
