"""Verify a graph against exact inference: what ``pgboltz verify`` runs.

Checks, each with its tolerance:

1. **conditionals** -- for random states, the derived conditional distribution of
   every unit (and of every jointly drawn block, e.g. a max-pooling block's n + 1
   states) equals pgmpy's exact conditional (|diff| <= 1e-9 in float64);
2. **energy** -- log P(x_i = s | rest) - log P(x_i = s0 | rest) equals
   -beta * (E(x_i = s) - E(x_i = s0)) computed from the factor energies (|diff| <= 1e-9);
3. **log Z** -- our enumerator equals pgmpy's variable elimination (<= 1e-8),
   when the graph is small enough to enumerate;
4. **Gibbs** -- first moments of every unit, and second moments of pairs, from
   batched blocked Gibbs agree with the exact values within ``z_max`` (4) standard
   errors (batch means over independent chains, so autocorrelation is included),
   raised for large families of comparisons so that a correct sampler fails a run
   with probability below 1e-3 (:func:`family_z_limit`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .conditionals import conditional_log_probs
from .errors import TooLargeError
from .graph.unit_level import assign, unit_variables
from .exact import PgmpyOracle, exact
from .sampling import GibbsSampler

EXACT_TOL = 1e-9
#: family-wise false-alarm rate of the statistical checks of one run
FAMILY_ALPHA = 1e-3


def family_z_limit(m: int, z_min: float = 4.0, alpha: float = FAMILY_ALPHA, batches: int = 100) -> float:
    """Largest |z| allowed when comparing ``m`` quantities at once.

    With standard errors from ``batches`` batch means, each z of a correct sampler
    follows Student's t with ``batches - 1`` degrees of freedom, and the largest of
    m exceeds z with probability about m * P(|t| > z). The limit is ``z_min`` (4
    standard errors) or, for large families, the Bonferroni bound that keeps the
    chance that a correct sampler fails a run below ``alpha`` (about 4.8 for 100
    quantities and 100 batches).
    """
    from scipy.stats import t

    return max(z_min, float(t.ppf(1.0 - alpha / (2.0 * max(1, m)), df=max(1, batches - 1))))


@dataclass
class Check:
    name: str
    value: float
    limit: float
    detail: str = ""

    @property
    def passed(self) -> bool:
        return bool(self.value <= self.limit)


@dataclass
class Report:
    graph: str
    checks: list = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def table(self) -> str:
        lines = [f"verify {self.graph}", f"  {'check':<34} {'value':>11} {'limit':>9}  result"]
        for c in self.checks:
            lines.append(f"  {c.name:<34} {c.value:>11.3g} {c.limit:>9.3g}  {'ok' if c.passed else 'FAIL'}"
                         + (f"  ({c.detail})" if c.detail else ""))
        lines.append(f"  {'all checks passed' if self.passed else 'SOME CHECKS FAILED'}")
        return "\n".join(lines)


def random_states(graph, n, rng):
    """``n`` random valid states: each unit-level variable uniform over its states (joint blocks stay valid)."""
    finite = [g for g, grp in graph.groups.items() if grp.units.support is not None]
    out = {g: grp.units.init_states(rng, (n, grp.size)) for g, grp in graph.groups.items() if g not in finite}
    out.update({g: np.zeros((n, graph.group(g).size)) for g in finite})
    variables = unit_variables(graph, finite)
    assign(variables, {v.name: rng.integers(0, v.n, n) for v in variables}, out)
    return {g: x.reshape((n,) + graph.group(g).shape) for g, x in out.items()}


def derivable_groups(graph):
    """Groups whose conditional given all other units is a sum of factor contributions (not in a joint set):
    every factor touching them contributes (a directed factor's parent is not derivable, its leaf child is)."""
    joint = {g for _, js in graph.joint_sets() for g in js}
    return [g for g in graph.groups if g not in joint and graph.group(g).units.support is not None
            and all(f.contributes_to(g) for f in graph.factors_touching(g))]


def _rest(graph, states, s):
    rest = {}
    for h, hg in graph.groups.items():
        flat = states[h][s].reshape(-1)
        rest.update({hg.unit_name(i): flat[i] for i in range(hg.size)})
    return rest


def check_conditionals(graph, oracle, n_states=4, seed=0, beta=1.0):
    """max |derived - pgmpy| over the conditional distributions of every derivable unit and every
    jointly drawn block, for ``n_states`` random states."""
    from .model import float64_model

    rng = np.random.default_rng(seed)
    states = random_states(graph, n_states, rng)
    worst = 0.0
    for g in derivable_groups(graph):
        grp = graph.group(g)
        p = np.exp(conditional_log_probs(graph, states, g, beta)).reshape(n_states, grp.size, -1)
        for s in range(n_states):
            rest = _rest(graph, states, s)
            for i in range(grp.size):
                worst = max(worst, float(np.abs(p[s, i] - oracle.conditional(grp.unit_name(i), rest)).max()))
    model = float64_model(graph)
    flat = {g: x.reshape(n_states, -1) for g, x in states.items()}
    for f, js in graph.joint_sets():
        dist = f.joint_distribution()
        if dist is None:
            continue
        p = np.exp(dist.log_prob_states(np, {h: model.field(h, flat) for h in js}, beta))  # (chains, blocks, states)
        names = [name for name, _, _ in f.unit_variables()]
        for s in range(n_states):
            rest = _rest(graph, states, s)
            for b, name in enumerate(names):
                worst = max(worst, float(np.abs(p[s, b] - oracle.conditional(name, rest)).max()))
    return worst


def check_energy_differences(graph, n_states=16, seed=0, beta=1.0):
    """max |log P(x_i=s|rest) - log P(x_i=s0|rest) + beta (E(x_i=s) - E(x_i=s0))| over derivable units,
    states s of their support and random states of the rest."""
    rng = np.random.default_rng(seed)
    states = random_states(graph, n_states, rng)
    worst = 0.0
    for g in derivable_groups(graph):
        grp = graph.group(g)
        logp = conditional_log_probs(graph, states, g, beta).reshape(n_states, grp.size, -1)
        support = grp.units.support
        for i in range(grp.size):
            e = []
            for val in support:
                st = {k: v.copy() for k, v in states.items()}
                st[g].reshape(n_states, -1)[:, i] = val
                e.append(graph.energy(st))
            for k in range(1, len(support)):
                diff = logp[:, i, k] - logp[:, i, 0] + beta * (e[k] - e[0])
                worst = max(worst, float(np.abs(diff).max()))
    return worst


def exact_moments(graph, oracle):
    """(means, {pair: E[x_a x_b]}, source): all pairs by enumeration if possible, else coupled pairs by pgmpy."""
    try:
        ex = exact(graph)
    except TooLargeError:
        pairs = choose_pairs(graph, all_pairs=False)
        means = np.array([oracle.mean(n) for n in graph.unit_names()])
        return means, {(a, b): oracle.pair_moment(a, b) for a, b in pairs}, "pgmpy"
    index = {n: k for k, n in enumerate(ex.names)}
    pairs = choose_pairs(graph, all_pairs=True)
    return ex.mean, {(a, b): float(ex.second[index[a], index[b]]) for a, b in pairs}, "enumeration"


def choose_pairs(graph, all_pairs: bool):
    """All pairs, or only the directly coupled pairs (when exact pair moments cost a pgmpy query each).

    Fewer comparisons also keep the chance that one of many honest |z| exceeds the
    limit small: with m comparisons it is about m * P(|z| > z_max).
    """
    names = graph.unit_names()
    if all_pairs:
        return [(names[a], names[b]) for a in range(len(names)) for b in range(a + 1, len(names))]
    from .graph.unit_level import unit_factor_graph

    G = unit_factor_graph(graph)
    return sorted({tuple(sorted(d["scope"], key=names.index)) for _, d in G.nodes(data=True)
                   if d["bipartite"] == 1 and len(d["scope"]) == 2 and set(d["scope"]) <= set(names)})


def verify(graph, chains=4000, sweeps=400, burn_in=100, seed=0, backend="numpy", dtype="float64",
           z_max=4.0, n_states=4, progress=False) -> Report:
    """Run every check on ``graph``; see the module docstring."""
    report = Report(graph.name)
    oracle = PgmpyOracle(graph)
    report.checks.append(Check("conditionals vs pgmpy (max |dP|)", check_conditionals(graph, oracle, n_states, seed),
                               EXACT_TOL, f"{n_states} random states x {graph.n_units()} units"))
    report.checks.append(Check("log P ratios vs energy differences", check_energy_differences(graph, seed=seed), EXACT_TOL))
    lz_pgmpy = oracle.log_z()
    try:
        lz_enum = exact(graph, second_moments=False).log_z
        report.checks.append(Check("log Z enumeration vs pgmpy", abs(lz_enum - lz_pgmpy), 1e-8,
                                   f"log Z = {lz_pgmpy:.10g}"))
    except TooLargeError:
        pass
    means, pair_exact, source = exact_moments(graph, oracle)
    sampler = GibbsSampler(graph, chains=chains, backend=backend, seed=seed, dtype=dtype)
    n = graph.n_units()
    B = min(100, chains)
    res = sampler.run(sweeps, burn_in=burn_in, second_moments=n <= 1024, batches=B, progress=progress)
    m = res.moments
    floor = 0.5 / (m.n_samples * m.n_chains)  # resolution of an empirical frequency
    z1 = np.abs(m.flat_mean() - means) / np.maximum(m.flat_mean_se(), floor)
    report.checks.append(Check("Gibbs means: max |z|", float(z1.max()), family_z_limit(len(z1), z_max, batches=B),
                               f"{n} units vs {source}, {chains} chains x {sweeps} sweeps"))
    index = {name: k for k, name in enumerate(m.names)}
    z2 = [abs(m.second[index[a], index[b]] - v) / max(m.second_se[index[a], index[b]], floor)
          for (a, b), v in pair_exact.items()]
    report.checks.append(Check("Gibbs pair moments: max |z|", float(max(z2)), family_z_limit(len(z2), z_max, batches=B),
                               f"{len(z2)} pairs"))
    sampler.backend.close()
    return report
