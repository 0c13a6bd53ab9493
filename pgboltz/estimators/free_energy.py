"""Free energies: summing groups out analytically.

If a set T of groups has no couplings inside or between its groups, its units
are independent given everything else, and

    log sum_{x_T} exp(-beta E(x)) = -beta * sum_{f not touching T} E_f(x)
                                    + sum_{i in T} A_i(beta * theta_i(x))

with theta the derived natural parameters and A the unit type's log-partition.
With T = the hidden groups this is minus beta times the free energy,

    p(v) = exp(-beta F(v)) / Z,    F(v) = sum_{f not touching H} E_f(v) - (1/beta) sum_{h in H} A(beta theta_h(v))

which for an RBM is F(v) = -b^T v - sum_j log(1 + exp(c_j + v^T W[:, j])).
The summing out itself is :meth:`pgboltz.model.CompiledModel.sum_out`, shared with the enumerator.

When the other groups are *not* independent given the given ones (a DBM's hidden layers
given v; a DBN's hidden layers given v), the largest independent set T of them is still
summed analytically and the rest, S, is enumerated (as exact inference does):

    -beta F(x_given) = logsumexp over x_S of  log sum_{x_T} exp(-beta E(x_given, x_S, x_T))

which is exact but costs 2^(units of S) per row; it is refused above ``max_units``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import GraphError, TooLargeError
from ..model import float64_model, independent_groups

#: rows of (example, enumerated state) pairs evaluated at once, and in all
ROWS = 1 << 15
MAX_ROWS = 1 << 26


def free_energy(graph, given_states: dict, beta: float = 1.0, backend=None, model=None,
                enumerate_rest: bool = True, max_units: int = 20):
    """F per chain for host states of some groups ``{group: (chains, *shape)}``, summing out all others.

    Groups independent given the given ones (an RBM's hidden layer given v; a DBM's odd layers
    given the even ones) are summed analytically; with ``enumerate_rest`` any others are
    enumerated (at most 2^``max_units`` states, else :class:`TooLargeError`). Returns a host
    float64 array, or a backend array when ``model`` (a compiled model to evaluate with) is passed.
    """
    summed = [g for g in graph.groups if g not in given_states]
    if not independent_groups(graph, summed):
        if enumerate_rest and model is None:
            return _enumerated_free_energy(graph, given_states, summed, beta, max_units)
        raise GraphError(
            f"the free energy of {graph.name!r} sums out {', '.join(summed)}, which must be independent given "
            f"{', '.join(given_states)}; they are coupled (or drawn jointly with a given group), so they cannot be "
            "summed out analytically -- give more groups"
        )
    m = model or float64_model(graph, backend=backend)
    flat = graph.check_states(given_states, groups=list(given_states))
    flat = {g: m.backend.asarray(x) for g, x in flat.items()}
    log_p, _, _ = m.sum_out(summed, flat, beta)
    out = -log_p / beta
    return out if model is not None else m.backend.to_numpy(out)


def _enumerated_free_energy(graph, given_states, rest, beta, max_units, row_cap=True,
                            advice="Use a variational bound (pgboltz.estimators.evaluate does) instead"):
    from ..exact.enumerate import choose_summed_groups, enumeration, n_states
    from ..graph.unit_level import unit_variables

    T = choose_summed_groups(graph, rest, second_moments=False)
    S = [g for g in rest if g not in T]
    variables = unit_variables(graph, S)
    total = n_states(variables)
    if total > 2 ** max_units:
        raise TooLargeError(
            f"the exact free energy of {graph.name!r} given {', '.join(given_states)} enumerates "
            f"2^{math.log2(total):.0f} states of {', '.join(S)} (after summing out {', '.join(T) or 'nothing'}); "
            f"the limit is 2^{max_units}. {advice}")
    flat = graph.check_states(given_states, groups=list(given_states))
    n = next(iter(flat.values())).shape[0]
    if row_cap and n * total > MAX_ROWS:
        raise TooLargeError(
            f"the exact free energy of {graph.name!r} for {n} rows enumerates {total} states of {', '.join(S)} each "
            f"({n * total:.3g} evaluations; the limit is {MAX_ROWS:.3g}). Use fewer rows or a variational bound "
            "(pgboltz.estimators.evaluate falls back on one)")
    m = float64_model(graph)
    per = max(1, min(total, ROWS // max(n, 1)))
    acc = np.full(n, -np.inf)
    for start in range(0, total, per):
        stop = min(total, start + per)
        b = stop - start
        states = {g: np.repeat(x, b, axis=0) for g, x in flat.items()}
        states.update({g: np.tile(e, (n, 1)) for g, e in enumeration(graph, S, start, stop, variables).items()})
        log_p, _, _ = m.sum_out(T, states, beta)
        acc = np.logaddexp(acc, np.logaddexp.reduce(log_p.reshape(n, b), axis=1))
    return -acc / beta
