"""Annealed importance sampling for log Z, forward and reverse (a bracket).

The states are split into *kept* groups K and a set T of groups that are summed
out analytically, independent given K (an RBM's hidden layer; a DBM's odd layers).
The path from a base model A (independent units: visible groups with biases
fitted to the data, other kept groups uniform or standard normal) to the model B is

    f_beta(x_K) = exp(-(1 - beta) E_A(x_K)) * sum_{x_T} exp(-beta E_B(x_K, x_T)),   beta: 0 -> 1

(Salakhutdinov & Murray 2008). Z_0 = prod_i Z_i(A) * |support|^(units of T) is known.
Each transition is one blocked Gibbs sweep that leaves f_beta invariant: the model's
factors at inverse temperature beta plus base factors (a bias, and a precision for
Gaussian units) scaled by (1 - beta)/beta on the kept groups.

* **forward** AIS (x_0 from the base model, beta rising) gives
  Z_hat = Z_0 * mean(w) with E[Z_hat] = Z, so log Z_hat is a stochastic *lower*
  bound of log Z (Jensen): the log-likelihood it implies is optimistic;
* **reverse** AIS (x_K from the model, beta falling) estimates Z_0 / Z, so its
  log Z is a stochastic *upper* bound when the starting states are exact model
  samples (Grosse et al. 2015): the log-likelihood it implies is conservative.

Both report log(Z_hat -/+ 3 sigma), sigma the standard error of the mean weight.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from ..errors import DataError, GraphError
from ..factors import Bias, Quadratic
from ..graph.schedule import derive_blocks, groups_last


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

    @property
    def effective_runs(self) -> float:
        """Kish's effective sample size of the importance weights, (sum w)^2 / sum w^2: near ``runs`` when
        the weights agree, near 1 when one run dominates -- then the interval means little and the
        estimate is likely far off (more betas, or a better base model, are needed)."""
        w = np.exp(self.log_weights - self.log_weights.max())
        return float(w.sum() ** 2 / (w ** 2).sum())

    def __str__(self):
        s = (f"log Z = {self.log_z:.4f}  [{self.lower:.4f}, {self.upper:.4f}] (+-3 sigma; {self.direction} AIS, "
             f"{self.runs} runs, {self.n_betas} betas, {self.seconds:.1f} s)")
        return s + self.warning()

    def warning(self) -> str:
        """A note when the weights are too uneven for the interval to be trusted, else ''."""
        ess = self.effective_runs
        if ess >= max(2.0, 0.1 * self.runs):
            return ""
        return (f"\n  warning: the {self.direction} AIS weights are dominated by {ess:.1f} of {self.runs} runs; this "
                "estimate and its interval are unreliable -- use more betas")


def default_betas(n: int = 14500) -> np.ndarray:
    """Salakhutdinov & Murray's schedule, scaled to ``n`` points: 500/14500 of them in [0, 0.5),
    4000/14500 in [0.5, 0.9), the rest in [0.9, 1]."""
    n1, n2 = max(2, round(n * 500 / 14500)), max(2, round(n * 4000 / 14500))
    n3 = max(2, n - n1 - n2)
    return np.concatenate([np.linspace(0, 0.5, n1, endpoint=False), np.linspace(0.5, 0.9, n2, endpoint=False),
                           np.linspace(0.9, 1.0, n3)])


def summed_groups(graph) -> list:
    """The largest (by units) set of hidden groups of finite support that are independent given the rest
    (the enumerator's choice, among the groups an AIS base model leaves uniform)."""
    from ..exact.enumerate import choose_summed_groups

    return choose_summed_groups(graph, [g for g, grp in graph.groups.items()
                                        if grp.role == "hidden" and grp.units.support is not None])


def base_rate_biases(graph, data: dict, smoothing: float = 1.0) -> dict:
    """The base model's natural parameters per visible group, fitted to ``data`` by each unit type:
    ``{group: linear}`` for binary units, ``{group: {slot: array}}`` for units with several slots."""
    out = {}
    for g, x in graph.check_states(data, groups=graph.visible, what="data").items():
        field = graph.group(g).units.base_rate(x, smoothing)
        out[g] = field["linear"] if list(field) == ["linear"] else field
    return out


def as_field(value) -> dict:
    return dict(value) if isinstance(value, dict) else {"linear": np.asarray(value, dtype=np.float64).reshape(-1)}


def _interval(log_w, log_z0):
    m = log_w.max()
    w = np.exp(log_w - m)
    mean, se = w.mean(), w.std(ddof=1) / np.sqrt(len(w)) if len(w) > 1 else 0.0
    lo = np.log(mean - 3 * se) + m + log_z0 if mean > 3 * se else -np.inf
    return np.log(mean) + m + log_z0, lo, np.log(mean + 3 * se) + m + log_z0


def undirected_part(graph):
    """``graph`` without its directed factors and their children: the same partition function,
    since conditional tables sum to 1 (a DBN's Z is its top RBM's)."""
    from ..graph import FactorGraph

    children = {c for f in graph.factors for c in f.children()}
    if not children:
        return graph
    g = FactorGraph(graph.name + "-undirected", f"the undirected part of {graph.name}")
    for n, grp in graph.groups.items():
        if n not in children:
            g.add_group(n, grp.shape, grp.units, grp.role)
    for f in graph.factors:
        if not f.directed:
            g.add_factor(f)
    return g


class _Path:
    """The annealing path over one graph: log f_beta(x_K) and transitions at beta."""

    def __init__(self, graph, base, runs, seed, backend, dtype, inputs=None):
        from ..graph import FactorGraph
        from ..sampling import GibbsSampler

        if graph.inputs and inputs is None:
            raise GraphError(f"AIS estimates one partition function; {graph.name!r} has input groups "
                             f"({', '.join(graph.inputs)}), so Z depends on their values -- use conditional_ais, "
                             "which estimates log Z(u) row by row")
        graph = undirected_part(graph)
        self.graph = graph
        self._given = (base, seed, dtype, inputs)  # what a sub-path over some of the runs is built from
        self.summed = summed_groups(graph)
        self.kept = [g for g in graph.groups if g not in self.summed]
        # jointly drawn sets (max pooling) start from their own uniform distribution, not from factors
        self.joints = [(f.joint_distribution(), js) for f, js in graph.joint_sets()
                       if f.joint_distribution() is not None]
        in_joint = {g for _, js in self.joints for g in js}
        self.base = {}
        for g in self.kept:
            if g in in_joint or g in graph.inputs:
                continue
            grp = graph.group(g)
            field = as_field(base[g]) if g in base else grp.units.base_rate(None, size=grp.size)
            self.base[g] = {s: np.asarray(v, dtype=np.float64).reshape(-1) for s, v in field.items()}
        # the model's factors, then base factors on the kept groups: a bias, and a precision for Gaussian units
        aug = FactorGraph(graph.name + "+base")
        for g, grp in graph.groups.items():
            aug.add_group(g, grp.shape, grp.units, grp.role)
        for f in graph.factors:
            aug.add_factor(f)
        self.n_model = len(graph.factors)
        self.base_factors = []  # (factor index, group, slot)
        for g, field in self.base.items():
            n = graph.group(g).size
            unknown = set(field) - {"linear", "precision"}
            if unknown:
                raise GraphError(f"AIS base models know linear and precision slots; {g!r} has {sorted(unknown)}")
            self.base_factors.append((len(aug.factors), g, "linear"))
            aug.add_factor(Bias(g, np.zeros(n), name=f"__base_{g}"))
            if "precision" in field:
                self.base_factors.append((len(aug.factors), g, "precision"))
                aug.add_factor(Quadratic(g, np.zeros(n), name=f"__base_precision_{g}"))
        # inputs (a conditional model's u, one row per run) stay clamped along the whole path: each run's
        # weight estimates its own Z(u); the base model does not depend on them.
        # The summed groups are drawn first in every sweep: the weights are ratios of f_beta(kept groups), so a
        # transition must leave that marginal invariant, which it does when the summed groups are drawn afresh
        # given the kept ones before anything else moves. Drawn later (a DBM summing its larger layer h2 has the
        # derived order h1, then v + h2), the kept groups would be drawn from summed states left over from the
        # previous beta, and the log weights drift by tens of nats.
        free = [g for g in aug.groups if g not in aug.inputs]
        blocks = groups_last(aug, derive_blocks(aug, free), self.kept, free)
        self.sampler = GibbsSampler(aug, chains=runs, backend=backend, seed=seed, dtype=dtype, clamp=inputs,
                                    blocks=blocks)
        self.model = self.sampler.model
        self.be = self.sampler.backend
        self.kept_only = [k for k in range(self.n_model) if not set(graph.factors[k].groups) & set(self.summed)]
        self.log_z0 = sum(float(graph.group(g).units.log_partition_total(np, {s: v[None] for s, v in f.items()})[0])
                          for g, f in self.base.items())
        self.log_z0 += sum(float(dist.log_partition(np, dist.reference(np, 1))[0]) for dist, _ in self.joints)
        self.log_z0 += float(sum(graph.group(h).size * np.log(len(graph.group(h).units.support)) for h in self.summed))
        self.base_dev = {g: {s: self.be.asarray(v) for s, v in f.items()} for g, f in self.base.items()}
        self.raw_fields = None
        self.n_summed = sum(graph.group(h).size for h in self.summed)
        #: each summed group's compiled weight increment (binary units on the CPU), or None: its unit type's
        #: log-partitions in float64
        self.log_steps = {h: self.be.log_partition_step(graph.group(h).units, tuple(self.model.terms(h).by_slot))
                          for h in self.summed}

    def pieces(self):
        """For the current kept states: (energy of the model factors not touching T, the summed groups'
        natural parameters, -E_A), computed once and reused for several betas.

        Computed with the sampler's own arrays and dtype: binary states are exact, and an
        error in a slot enters a weight difference only through beta_k - beta_(k-1)."""
        xp, m = self.be.xp, self.model
        x = m.states
        e_kept = xp.zeros(m.chains, dtype=np.float64)
        for k in self.kept_only:
            e_kept += m.factors[k].energy(xp, x, m.params[k]).astype(np.float64)  # the model's come first
        # the summed groups' fields at these states are also what the next sweep's first block draws from
        self.raw_fields = {h: m.field(h) for h in self.summed}
        fields = self.raw_fields  # in the model's dtype; log_step evaluates them in float64, chunk by chunk
        neg_base = xp.zeros(m.chains, dtype=np.float64)
        for g, f in self.base_dev.items():
            if "linear" in f:
                neg_base += (x[g] @ f["linear"]).astype(np.float64)
            if "precision" in f:
                neg_base -= 0.5 * ((x[g] * x[g]) @ f["precision"]).astype(np.float64)
        return e_kept, fields, neg_base

    def log_step(self, b_to, b_from, pieces):
        """log f_{b_to}(x_K) - log f_{b_from}(x_K) per run: the summed groups' log-partitions (most of the
        work) by row chunks on the backend's threads: binary units by the backend's compiled increment
        where it has one (:meth:`pgboltz.backends.Backend.log_partition_step`, float32 without
        cancellation), the others in float64."""
        e_kept, fields, neg_base = pieces
        xp = self.be.xp
        out = (b_from - b_to) * (e_kept + neg_base)

        def rows_of(k, rows):
            for h, field in fields.items():
                step = self.log_steps[h]
                if step is not None:
                    step({s: v[rows] for s, v in field.items()}, b_to, b_from, out[rows])
                    continue
                units = self.graph.group(h).units
                f64 = {s: v[rows].astype(np.float64) for s, v in field.items()}
                out[rows] += units.log_partition_total(xp, f64, b_to) - units.log_partition_total(xp, f64, b_from)

        self.be.map_rows(rows_of, self.be.parallel_chunks(self.sampler.chains, self.sampler.chains * self.n_summed))
        return out

    def split(self):
        """``[(rows, path)]``: paths over parts of the runs that the backend runs side by side, each drawing what
        this path would draw for its rows (:meth:`pgboltz.backends.Backend.stream_parts`), or None."""
        parts = self.be.stream_parts(self.sampler.chains)
        if not parts:
            return None
        base, seed, dtype, inputs = self._given
        return [(rows, _Path(self.graph, base, rows.stop - rows.start, seed, be, dtype,
                             None if inputs is None else {g: x[rows] for g, x in inputs.items()}))
                for rows, be in parts]

    def sample_base(self):
        """Exact samples of the base model: kept groups independent, joint sets uniform, summed groups uniform."""
        rng = self.be.host_rng
        runs = self.sampler.chains
        states = {}
        for g, grp in self.graph.groups.items():
            if g in self.graph.inputs:
                continue
            field = self.base.get(g) or grp.units.base_rate(None, size=grp.size)
            states[g] = grp.units.sample_host(rng, field, (runs, grp.size))
        for dist, js in self.joints:
            outs = {g: np.zeros((runs, self.graph.group(g).size)) for g in js}
            dist.sample_(np, dist.reference(np, runs), 1.0, rng.random(dist.noise_shape(runs)), outs)
            states.update(outs)
        self.sampler.set_states(states)  # flat (runs, size) arrays are accepted as they are

    def transition(self, beta, reuse: bool = True):
        """One Gibbs sweep leaving f_beta invariant (beta > 0); ``reuse``: draw the first block from the
        fields :meth:`pieces` computed at the same states."""
        self.model.beta = beta
        scale = (1.0 - beta) / beta
        for k, g, slot in self.base_factors:
            v = self.base[g][slot]
            if slot == "linear":
                self.model.set_params(k, b=v * scale)
            else:  # precision scale * lam = exp(-2 log_sigma)
                with np.errstate(divide="ignore"):
                    self.model.set_params(k, log_sigma=-0.5 * np.log(v * scale))
        if reuse and self.raw_fields:  # the states have not moved since pieces(): no second product for them
            self.model.sweep_given(self.raw_fields)
        else:
            self.model.sweep(1)
        self.raw_fields = None


def ais(graph, base: dict, runs: int = 100, betas=None, seed: int = 0, backend="numpy", dtype="float32",
        reverse_from: dict | None = None, progress: bool = False, inputs: dict | None = None) -> AISResult:
    """Estimate log Z of ``graph`` by AIS from the base-rate model ``base`` (``{visible group: biases}``).

    ``reverse_from``: states ``{group: (runs, *shape)}`` assumed to be model samples (for example
    the end of a long Gibbs run); then AIS runs from the model to the base and the result is
    a stochastic upper bound of log Z instead of a lower one.

    ``inputs``: values ``{input group: (runs, size)}`` of a conditional model's input groups, one row
    per run; each run's weight then estimates its own Z(u) (see :func:`conditional_ais`), and the
    pooled ``log_z`` of the result means nothing unless every row is the same.
    """
    betas = default_betas() if betas is None else np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or len(betas) < 2 or betas[0] != 0 or betas[-1] != 1 or np.any(np.diff(betas) <= 0):
        raise DataError("betas must rise strictly from 0 to 1")
    t0 = time.perf_counter()
    if inputs is not None:
        from .conditional import check_inputs

        inputs = check_inputs(graph, inputs, rows=runs)
    path = _Path(graph, base, runs, seed, backend, dtype, inputs)
    xp = path.be.xp
    log_w = xp.zeros(runs, dtype=np.float64)
    bar = _bar(len(betas) - 1, progress, "AIS reverse" if reverse_from else "AIS")
    try:
        with path.model.running():  # the backend's sweep settings entered once, not once per beta
            log_w, log_z, lo, hi, direction = _run(path, betas, log_w, reverse_from, bar)
    finally:
        bar.close()
        _close_own(backend, path.sampler.backend)
    return AISResult(float(log_z), float(lo), float(hi), log_w, path.log_z0, direction, runs, len(betas),
                     time.perf_counter() - t0)


def _close_own(given, backend) -> None:
    """Close ``backend`` if it was made here from a name; a backend the caller passed stays theirs (closed, a
    NumPy backend would stop using its threads)."""
    from ..backends import Backend

    if not isinstance(given, Backend):
        backend.close()


def _run(path, betas, log_w, reverse_from, bar):
    if reverse_from is None:
        path.sample_base()
    else:
        path.sampler.set_states({g: x for g, x in reverse_from.items() if g in path.graph.groups})
    reverse = reverse_from is not None
    parts = path.split()
    if parts is None:
        log_w += _anneal(path, betas, reverse, bar)
    else:
        # the runs are independent: each part anneals its rows on a worker of its own, from the same starting
        # states, with no exchange per beta; its final states come back to this path (a second stage reads them)
        states, shared = path.model.states, _PartsBar(bar, len(parts))
        for rows, sub in parts:
            sub.model.load_states({g: states[g][rows] for g in sub.model.states})

        def task(sub, progress, stop):
            with sub.model.running():
                return _anneal(sub, betas, reverse, progress, stop)

        done = path.be.run_parts([lambda stop, sub=sub, i=i: task(sub, shared.part(i), stop)
                                  for i, (_, sub) in enumerate(parts)])
        shared.finish(len(betas) - 1)
        for (rows, sub), lw in zip(parts, done):
            log_w[rows] += lw
            for g, x in sub.model.states.items():
                states[g][rows] = x
            sub.be.close()
    log_w = path.be.to_numpy(log_w)
    if not reverse:
        log_z, lo, hi = _interval(log_w, path.log_z0)
        return log_w, log_z, lo, hi, "forward"
    # log w estimates log Z_0 - log Z: its lower end gives log Z's upper end and vice versa
    mid, lo_w, hi_w = _interval(log_w, 0.0)
    log_z, lo, hi = path.log_z0 - mid, path.log_z0 - hi_w, path.log_z0 - lo_w if np.isfinite(lo_w) else np.inf
    return log_w, log_z, lo, hi, "reverse"


class _PartsBar:
    """One progress bar for parts that run side by side or one after another: it shows their mean number of
    steps, so it moves all along; each part reports every ``EVERY`` steps (the parts would otherwise wait for
    each other's lock on every step), and :meth:`finish` shows the rest."""

    EVERY = 16

    def __init__(self, bar, n_parts: int):
        self.bar, self.steps, self.shown = bar, [0] * n_parts, 0
        self.lock = threading.Lock()

    def part(self, i: int):
        return self.bar if getattr(self.bar, "silent", False) else _PartProgress(self, i)

    def report(self, i: int, n: int):
        with self.lock:
            self.steps[i] += n
            done = sum(self.steps) // len(self.steps)
            if done > self.shown:
                self.bar.update(done - self.shown)
                self.shown = done

    def finish(self, total: int):
        if total > self.shown:
            self.bar.update(total - self.shown)
            self.shown = total


class _PartProgress:
    def __init__(self, shared, i):
        self.shared, self.i, self.pending = shared, i, 0

    def update(self, n=1):
        self.pending += n
        if self.pending >= _PartsBar.EVERY:
            self.shared.report(self.i, self.pending)
            self.pending = 0


def _anneal(path, betas, reverse: bool, bar, stop=None):
    """The log weights of ``path``'s runs along ``betas`` (rising; walked down if ``reverse``) from the states
    it holds: each step's weight increment, then a transition at the step's target (none at 0, where a reverse
    walk ends); ``stop``: an event that ends the walk early (its weights are then meaningless). ``path``: a
    :class:`_Path`, or a :class:`_CouplingPath` walking its gammas."""
    log_w = path.be.xp.zeros(path.sampler.chains, dtype=np.float64)
    walk = betas[::-1] if reverse else betas
    for b_to, b_from in zip(walk[1:], walk[:-1]):
        if stop is not None and stop.is_set():
            break
        log_w += path.log_step(b_to, b_from, path.pieces())
        if b_to > 0:
            path.transition(b_to)
        bar.update(1)
    return log_w


@dataclass
class ConditionalAIS:
    """Forward AIS estimates of log Z(u), one per row of the inputs, each with its +-3 sigma interval."""

    log_z: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    runs_per_row: int
    n_betas: int
    seconds: float


def conditional_ais(graph, inputs: dict, base: dict, runs_per_row: int = 10, betas=None, seed: int = 0,
                    backend="numpy", dtype="float32", progress: bool = False,
                    max_chains: int = 20000) -> ConditionalAIS:
    """log Z(u) of a conditional model (a cRBM frame, an RNN-RBM frame) for every row of ``inputs``
    (``{input group: (n, size)}``) by forward AIS: ``runs_per_row`` runs per row from one base model
    (``{visible group: biases}``, e.g. :func:`base_rate_biases` of the frames), rows batched into at
    most ``max_chains`` chains. Each estimate is a stochastic lower bound of its log Z(u)."""
    from .conditional import check_inputs

    inputs = check_inputs(graph, inputs)
    n = next(iter(inputs.values())).shape[0]
    R = int(runs_per_row)
    if R < 2:
        raise DataError("runs_per_row must be at least 2 (the interval needs a spread)")
    betas = default_betas() if betas is None else np.asarray(betas, dtype=np.float64)
    t0 = time.perf_counter()
    rows = max(1, int(max_chains) // R)
    out = np.empty((3, n))
    for k, start in enumerate(range(0, n, rows)):
        stop = min(n, start + rows)
        chunk = {g: np.repeat(x[start:stop], R, axis=0) for g, x in inputs.items()}
        res = ais(graph, base, runs=(stop - start) * R, betas=betas, seed=int(np.random.SeedSequence([seed, k]).generate_state(1)[0]), backend=backend, dtype=dtype,
                  progress=progress, inputs=chunk)
        for i, lw in enumerate(res.log_weights.reshape(stop - start, R)):
            out[:, start + i] = _interval(lw, res.log_z_base)
    return ConditionalAIS(out[0], out[1], out[2], R, len(betas), time.perf_counter() - t0)


def _bar(total, enabled, desc):
    from ..sampling.gibbs import progress_bar

    return progress_bar(total, enabled, desc, unit="beta")


# -- deep models: a path that switches the hidden layers' couplings on last ---------------------------------
def hidden_couplings(graph) -> list:
    """Indices of the dense factors between two hidden groups (a DBM's h1-h2, h2-h3, ...)."""
    from ..factors.dense import Dense

    hidden = {g for g, grp in graph.groups.items() if grp.role == "hidden"}
    return [k for k, f in enumerate(graph.factors)
            if isinstance(f, Dense) and len(set(f.groups)) == 2 and set(f.groups) <= hidden]


def centred_parts(graph, centres: dict):
    """The two ends of the coupling path of :func:`centred_ais`: ``(path graph, decoupled graph, {factor
    index: {param: theta_0}}, {factor index: {param: theta_1 - theta_0}})``, factor indices of the path graph.

    Each coupling between hidden groups a and b, written around centres m_a, m_b,

        -x_a^T W x_b = -(x_a - m_a)^T W (x_b - m_b) - x_a^T (W m_b) - (W^T m_a)^T x_b + m_a^T W m_b,

    is switched on as ``gamma (x_a - m_a)^T W (x_b - m_b)``: along gamma the coupling is gamma W and the
    biases b_a + (1 - gamma) W m_b, b_b + (1 - gamma) W^T m_a (the constant does not depend on x, so it
    changes no ratio of the path and is left out). At gamma = 0 the hidden groups are coupled to the layer
    below only: the decoupled graph, whose log Z the ordinary path from the base model estimates. The path
    graph is ``graph`` itself, or, where a shifted group has no bias factor, a copy with a zero bias added
    (the same energy); a group with several bias factors carries the shift on its first."""
    from ..graph import FactorGraph

    couplings = hidden_couplings(graph)
    if not couplings:
        raise GraphError(f"{graph.name}: centred AIS switches on couplings between hidden groups; there are none")
    shift, m = {}, {}
    for k in couplings:
        f = graph.factors[k]
        for g in f.groups:
            grp = graph.group(g)
            if getattr(grp.units, "support", None) is None or len(grp.units.support) != 2:
                raise GraphError(f"{graph.name}: centred AIS needs binary hidden units; {g!r} has {grp.units.name}")
            if g not in centres:
                raise GraphError(f"centred AIS: no centre given for hidden group {g!r}")
            m[g] = np.asarray(centres[g], np.float64).reshape(-1)
            if m[g].size != grp.size:
                raise DataError(f"centred AIS: the centre of {g!r} has {m[g].size} values; the group has "
                                f"{grp.size} units")
        a, b = f.groups
        W = f.params["W"].astype(np.float64)
        shift[a] = shift.get(a, 0.0) + W @ m[b]
        shift[b] = shift.get(b, 0.0) + W.T @ m[a]
    path = graph
    missing = [g for g in shift if not any(isinstance(f, Bias) and f.group == g for f in graph.factors)]
    if missing:
        path = FactorGraph(graph.name, getattr(graph, "description", ""))
        for g, grp in graph.groups.items():
            path.add_group(g, grp.shape, grp.units, grp.role)
        for f in graph.factors:
            path.add_factor(f)
        for g in missing:
            path.add_factor(Bias(g, np.zeros(graph.group(g).size), name=f"__centre_bias_{g}"))
    first_bias = {}
    for k, f in enumerate(path.factors):
        if isinstance(f, Bias) and f.group in shift:
            first_bias.setdefault(f.group, k)
    dec = FactorGraph(graph.name + "-decoupled", f"{graph.name} with its hidden layers' couplings off")
    for g, grp in graph.groups.items():
        dec.add_group(g, grp.shape, grp.units, grp.role)
    start, delta = {}, {}
    for k, f in enumerate(path.factors):
        if k in couplings:
            start[k], delta[k] = {"W": np.zeros_like(f.params["W"])}, {"W": f.params["W"].astype(np.float64)}
        elif k in first_bias.values():
            b0 = f.params["b"].astype(np.float64) + shift[f.group]
            start[k], delta[k] = {"b": b0}, {"b": -shift[f.group]}
            dec.add_factor(Bias(f.group, b0, name=f.name))
        else:
            dec.add_factor(f)
    return path, dec, start, delta


class _CouplingPath:
    """log f_gamma(x_K) and transitions along theta(gamma) = theta_0 + gamma * delta over one graph (energies
    are linear in these parameters, so the summed groups' fields and the kept factors' energies are too:
    both ends are evaluated once per step and combined for any gamma)."""

    def __init__(self, graph, start, delta, runs, seed, backend, dtype):
        from ..model import CompiledModel
        from ..sampling import GibbsSampler

        self.graph = graph
        self.summed = summed_groups(graph)
        self.kept = [g for g in graph.groups if g not in self.summed]
        free = list(graph.groups)
        blocks = groups_last(graph, derive_blocks(graph, free), self.kept, free)
        self.sampler = GibbsSampler(graph, chains=runs, backend=backend, seed=seed, dtype=dtype, blocks=blocks)
        self.model = m = self.sampler.model
        self.be = be = m.backend
        # the two ends as models of their own (fields and energies only), on the sampler's backend: theta_0
        # (the graph's parameters where start says nothing) and delta (zero where it says nothing)
        self.ends = [CompiledModel(graph, runs, backend=be, blocks=False) for _ in range(2)]
        for k, f in enumerate(graph.factors):
            if k in start:
                self.ends[0].set_params(k, **start[k])
            self.ends[1].set_params(k, **delta.get(k, {n: np.zeros_like(v) for n, v in f.params.items()}))
        # kept factors whose parameters change: the others' energies cancel in every step's ratio
        self.kept_changing = [k for k in delta if not set(graph.factors[k].groups) & set(self.summed)]
        self.dev = {k: {n: (be.asarray(start[k][n]), be.asarray(delta[k][n])) for n in delta[k]} for k in delta}

    def set_gamma(self, gamma):
        xp = self.be.xp
        for k, params in self.dev.items():
            dev = self.model.params[k]
            for n, (a, d) in params.items():
                xp.multiply(d, gamma, out=dev[n])
                dev[n] += a
            dev.bump()

    def pieces(self):
        xp, x = self.be.xp, self.model.states
        out = []
        for end in self.ends:
            e = xp.zeros(self.model.chains, dtype=np.float64)
            for k in self.kept_changing:
                e += self.graph.factors[k].energy(xp, x, end.params[k]).astype(np.float64)
            fields = {h: {s: v.astype(np.float64) for s, v in end.field(h, x).items()} for h in self.summed}
            out.append((e, fields))
        return out

    def log_f(self, gamma, pieces):
        """log f_gamma(x_K) up to terms that do not depend on gamma (for ratios at the same states)."""
        (e0, f0), (e1, f1) = pieces
        xp = self.be.xp
        out = -(e0 + gamma * e1)
        for h in self.summed:
            field = {s: f0[h][s] + gamma * f1[h][s] for s in f0[h]}
            out += self.graph.group(h).units.log_partition_total(xp, field)
        return out

    def log_step(self, g_to, g_from, pieces):
        return self.log_f(g_to, pieces) - self.log_f(g_from, pieces)

    def transition(self, gamma):
        self.set_gamma(gamma)
        self.model.sweep(1)


def default_gammas(n: int) -> np.ndarray:
    """Coupling strengths for :func:`centred_ais`: ``1 - (1 - t)^2`` on ``n`` even steps of t, denser towards 1,
    where the coupled layers' states change most."""
    return 1.0 - (1.0 - np.linspace(0.0, 1.0, max(2, int(n)))) ** 2


def centred_ais(graph, base: dict, centres: dict, runs: int = 100, betas=None, gammas=None, seed: int = 0,
                backend="numpy", dtype="float32", reverse_from: dict | None = None,
                progress: bool = False) -> AISResult:
    """log Z of a deep Boltzmann machine by AIS in two stages, whose weights multiply run by run:

    1. ``betas``: the ordinary path (:func:`ais`) from the base model ``base`` to the *decoupled* graph, in
       which the couplings between hidden groups are off and their biases shifted by the centring (an RBM
       on the bottom layers plus independent units: :func:`centred_parts`);
    2. ``gammas``: those couplings switched on, ``gamma (x_a - m_a)^T W (x_b - m_b)`` for gamma from 0 to 1
       around ``centres`` m (``{hidden group: (size,)}``, e.g. the mean-field activities on the training
       data), with the graph's summed groups summed out analytically.

    Annealing all of a DBM from the base model passes through a first-order transition (on a 784-500-1000
    DBM trained on MNIST-5k the top layer's bias rate wins until beta = 0.75, then the lower hidden layer
    switches on at once) where the runs' log weights spread by tens of nats. Switching the couplings on
    last, around the layers' mean activities, moves no layer far from its activity at any step (that
    model: log-weight spread 0.8 nats, against 16 on the ordinary path). ``reverse_from`` (model samples)
    runs both stages backwards for the upper bound. Default schedules: 6,000 linear betas and 16,000
    :func:`default_gammas`."""
    betas = np.linspace(0.0, 1.0, 6000) if betas is None else np.asarray(betas, dtype=np.float64)
    gammas = default_gammas(16000) if gammas is None else np.asarray(gammas, dtype=np.float64)
    for name, s in (("betas", betas), ("gammas", gammas)):
        if s.ndim != 1 or len(s) < 2 or s[0] != 0 or s[-1] != 1 or np.any(np.diff(s) <= 0):
            raise DataError(f"{name} must rise strictly from 0 to 1")
    t0 = time.perf_counter()
    graph, dec, start, delta = centred_parts(undirected_part(graph), centres)
    first = _Path(dec, base, runs, seed, backend, dtype)
    second = _CouplingPath(graph, start, delta, runs, int(np.random.SeedSequence([seed, 2]).generate_state(1)[0]),
                           backend, dtype)
    log_z0 = first.log_z0
    xp = second.be.xp
    bar = _bar(len(betas) + len(gammas) - 2, progress, "AIS reverse" if reverse_from else "AIS")
    try:
        if reverse_from is None:
            with first.model.running():
                log_w1 = _run(first, betas, xp.zeros(runs, dtype=np.float64), None, bar)[0]
            second.model.set_states({g: x for g, x in first.sampler.get_states().items() if g in first.kept})
            second.set_gamma(0.0)
            # the kept groups of the second stage beyond the first's (a DBM's lower hidden layer) drawn exactly
            # given the first stage's states: at gamma = 0 they depend on the layer below only
            second.model.draw([g for g in second.kept if g not in first.kept])
            with second.model.running():
                log_w2 = _anneal(second, gammas, False, bar)
            log_w = log_w1 + second.be.to_numpy(log_w2)
            log_z, lo, hi = _interval(log_w, log_z0)
            direction = "forward"
        else:
            second.model.set_states({g: x for g, x in reverse_from.items() if g in graph.groups})
            with second.model.running():
                log_w2 = _anneal(second, gammas, True, bar)
            with first.model.running():
                log_w1 = _run(first, betas, xp.zeros(runs, dtype=np.float64), second.sampler.get_states(), bar)[0]
            log_w = log_w1 + second.be.to_numpy(log_w2)
            mid, lo_w, hi_w = _interval(log_w, 0.0)
            log_z, lo, hi = log_z0 - mid, log_z0 - hi_w, log_z0 - lo_w if np.isfinite(lo_w) else np.inf
            direction = "reverse"
    finally:
        bar.close()
        _close_own(backend, first.sampler.backend)
        _close_own(backend, second.sampler.backend)
    return AISResult(float(log_z), float(lo), float(hi), log_w, log_z0, direction, runs, len(betas) + len(gammas),
                     time.perf_counter() - t0)
