"""Exact inference by enumeration, independent of pgmpy.

The free groups are split into an *enumerated* set S and a *summed-out* set T,
where T is a set of groups with no couplings inside or between them that can be
summed analytically (for an RBM, the larger layer; for a DBM 24-20-16, {v, h2};
for a Gaussian-Bernoulli RBM, the Gaussian visibles). Given x_S the units of T are
independent, so

    log p~(x_S) = -beta * sum_{f not touching T} E_f(x_S)
                  + sum_{i in T} A_i(beta * slots_i(x_S))              (A = unit log-partition)
    log Z = logsumexp over all x_S of log p~(x_S)

with the slots the derived natural parameters -- the same code the sampler runs
(:meth:`pgboltz.model.CompiledModel.sum_out`). S is enumerated over its unit-level
variables (:func:`pgboltz.graph.unit_level.unit_variables`): supports of any size,
and categorical blocks such as max pooling's n + 1 states. Marginals and second
moments follow by weighting each x_S by p(x_S) and using the conditional moments of
T. Cost: the number of joint states of S, done in batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ..errors import TooLargeError
from ..graph.unit_level import assign, unit_variables
from ..model import float64_model, independent_groups

#: default ceiling on enumerated states, as binary units (2^22 ~ 4.2 million states)
MAX_ENUMERATED_UNITS = 22
BATCH = 1 << 14


@dataclass
class ExactResult:
    log_z: float
    groups: list  # free groups, in order of `names`
    names: list  # unit names of the free units
    mean: np.ndarray  # E[x_i], flat over `names`
    second: np.ndarray | None  # E[x_i x_j]
    enumerated: list  # groups enumerated
    summed: list  # groups summed out analytically

    def mean_of(self, graph, group):
        off = 0
        for g in self.groups:
            n = graph.group(g).size
            if g == group:
                return self.mean[off:off + n].reshape(graph.group(g).shape)
            off += n
        raise KeyError(group)


def choose_summed_groups(graph, free, second_moments=True) -> list:
    """The largest (by units) set of free groups that can be summed out together, independently
    given the rest. Jointly drawn groups are enumerated, except a lone jointly drawn group (a
    Gaussian with a full precision matrix) when no second moments are needed: its units are
    correlated given the rest, which the second moments here do not account for."""
    joint = {g for _, js in graph.joint_sets() for g in js if len(js) > 1 or second_moments}
    free = [g for g in free if g not in joint]
    # groups without a finite support cannot be enumerated: a set that sums them all out wins over any other
    continuous = {g for g in free if graph.group(g).units.support is None}
    best, best_n = [], (-1, 0)
    for r in range(len(free), 0, -1):
        for combo in combinations(free, r):
            n = (len(continuous & set(combo)), sum(graph.group(g).size for g in combo))
            if n > best_n and independent_groups(graph, combo):
                best, best_n = list(combo), n
    return best


def enumeration(graph, groups, start, stop, variables=None) -> dict:
    """Rows start..stop of the enumeration of every joint state of ``groups`` (last variable fastest)."""
    variables = unit_variables(graph, groups) if variables is None else variables
    rows = stop - start
    out = {g: np.zeros((rows, graph.group(g).size)) for g in groups}
    rem = np.arange(start, stop, dtype=np.int64)
    index = {}
    for v in reversed(variables):
        index[v.name] = rem % v.n
        rem = rem // v.n
    assign(variables, index, out)
    return out


def n_states(variables) -> int:
    return math.prod(v.n for v in variables)


def exact(graph, beta: float = 1.0, clamp: dict | None = None, second_moments: bool = True,
          max_units: int = MAX_ENUMERATED_UNITS, summed=None) -> ExactResult:
    """Exact log Z, marginals and (optionally) second moments by enumeration.

    ``clamp`` fixes groups to one configuration each (``shape`` arrays): the
    result is then the conditional distribution of the other groups and
    ``log_z`` the log of its normaliser. Input groups must be clamped. Refuses with
    :class:`TooLargeError` when more than 2^``max_units`` states would have to be enumerated.
    """
    clamp = dict(clamp or {})
    missing = [g for g in graph.inputs if g not in clamp]
    if missing:
        from ..errors import DataError

        raise DataError(f"exact inference conditions on input groups: give values for {', '.join(missing)} in clamp")
    free = [g for g in graph.groups if g not in clamp]
    T = choose_summed_groups(graph, free, second_moments) if summed is None else list(summed)
    if second_moments:
        joint = [g for _, js in graph.joint_sets() for g in js if g in T]
        if joint:
            raise ValueError(f"second moments with {', '.join(joint)} summed out are not computed (its units are "
                             "correlated given the rest); pass second_moments=False, or enumerate it")
    S = [g for g in free if g not in T]
    variables = unit_variables(graph, S)
    total = n_states(variables)
    if total > 2 ** max_units:
        n_enum = math.log2(total)
        raise TooLargeError(
            f"exact enumeration of {graph.name!r} needs 2^{n_enum:.0f} states ({graph.n_units(S)} units in "
            f"{', '.join(S)} after summing out {', '.join(T) or 'nothing'}); the limit is {max_units} units. "
            "Use a smaller graph, clamp some groups, or estimate log Z with AIS"
        )
    model = float64_model(graph)
    fixed = {g: np.asarray(v, dtype=np.float64).reshape(1, -1) for g, v in clamp.items()}
    graph.check_states({g: v for g, v in fixed.items()}, groups=list(fixed), what="clamp")
    n_free = graph.n_units(free)

    # Streaming log-sum-exp: running sums are kept relative to exp(ref), ref = largest log p~ so far.
    ref, sw = -np.inf, 0.0
    m1 = np.zeros(n_free)
    m2 = np.zeros((n_free, n_free)) if second_moments else None
    for start in range(0, total, BATCH):
        stop = min(total, start + BATCH)
        rows = stop - start
        states = {g: np.broadcast_to(x, (rows, x.shape[1])) for g, x in fixed.items()}
        states.update(enumeration(graph, S, start, stop, variables))
        logp, cond_means, cond_sq = model.sum_out(T, states, beta, need_means=True)
        new_ref = max(ref, float(logp.max()))
        rescale = np.exp(ref - new_ref) if np.isfinite(ref) else 0.0
        ref = new_ref
        w = np.exp(logp - ref)
        sw = sw * rescale + w.sum()
        mu = np.concatenate([states[g] if g in S else cond_means[g] for g in free], axis=1)
        m1 = m1 * rescale + w @ mu
        if second_moments:
            m2 = m2 * rescale + (mu * w[:, None]).T @ mu
            # diagonal for summed-out units: E[x^2 | x_S], not E[x | x_S]^2
            off = 0
            for g in free:
                n = graph.group(g).size
                if g in T:
                    d = np.arange(off, off + n)
                    m2[d, d] += w @ cond_sq[g] - w @ (cond_means[g] ** 2)
                off += n
    mean = m1 / sw
    second = m2 / sw if second_moments else None
    log_z_value = ref + np.log(sw)
    return ExactResult(float(log_z_value), free, graph.unit_names(free), mean, second, S, T)


def log_z(graph, beta: float = 1.0, **kw) -> float:
    """Exact log partition function by enumeration (see :func:`exact`)."""
    return exact(graph, beta=beta, second_moments=False, **kw).log_z
