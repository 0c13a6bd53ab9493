"""Conditionals derived from the factors -- never written per model.

For a unit i of group g, with every other unit fixed,

    theta_i = sum over factors f touching g of (-dE_f / dx_i)          (natural parameter)
    P(x_i | rest) = exp(beta * theta_i * x_i) / Z(beta * theta_i)      (unit type)

Because every factor is multilinear in each group and has no self-couplings,
theta_i does not depend on x_i, and for binary units

    logit P(x_i = hi | rest) = beta * (E(x_i = lo) - E(x_i = hi))

which the test-suite checks against the energy for random states.

:func:`compile_part` turns this sum into the list of compiled field terms that the
Gibbs sampler runs every sweep; :func:`natural_parameters` and
:func:`conditional_prob` are the same computation for inspection and tests;
:func:`sum_out` sums groups out analytically (free energies, enumeration).
"""

from __future__ import annotations

import numpy as np

from .backends import get_backend


def field_terms(graph, group, index, params, backend, chains):
    """Compiled contributions of every factor touching ``group`` to its units ``index``.

    Terms of factors that can *write* the field (products) come first, so the first
    of them initialises the buffer and no zero-fill pass is needed.
    """
    factors = [(k, f) for k, f in enumerate(graph.factors) if group in f.groups]
    factors.sort(key=lambda kf: not kf[1].writes_field)
    return [f.field_term(group, index, params[k], backend, chains) for k, f in factors]


def accumulate(terms, states, out, rows=slice(None)):
    """out[rows] = sum of the terms' contributions for chains ``rows`` (0 if there are none)."""
    if not terms:
        out[rows] = 0
    for k, term in enumerate(terms):
        term(states, out, k > 0, rows)


def _flat_states(graph, states, backend):
    return {g: backend.asarray(x) for g, x in graph.check_states(states).items()}


def natural_parameters(graph, states, group, index=None, backend=None):
    """theta for the units ``index`` (default all) of ``group`` given host ``states``.

    ``states`` maps every group to ``(chains, *shape)``; returns ``(chains, n)`` float64.
    """
    be = backend or get_backend("numpy", dtype="float64", streams=1)
    flat = _flat_states(graph, states, be)
    chains = next(iter(flat.values())).shape[0]
    params = [f.device_params(be) for f in graph.factors]
    n = graph.group(group).size if index is None else len(index)
    out = be.empty((chains, n))
    accumulate(field_terms(graph, group, index, params, be, chains), flat, out)
    return be.to_numpy(out)


def conditional_prob(graph, states, group, beta=1.0, backend=None):
    """P(x_i = hi | all other units) for every unit i of ``group``: ``(chains, *shape)``.

    'hi' is the upper state of the group's binary unit type (1 for Bernoulli, +1 for spin).
    """
    grp = graph.group(group)
    theta = natural_parameters(graph, states, group, backend=backend)
    p = grp.units.prob_hi(np, theta, beta)
    return p.reshape((-1,) + grp.shape)


def conditional_logit(graph, states, group, beta=1.0):
    """logit P(x_i = hi | rest), computed without ever forming the probability."""
    grp = graph.group(group)
    theta = natural_parameters(graph, states, group)
    return grp.units.logit(np, theta, beta).reshape((-1,) + grp.shape)


def independent_groups(graph, groups) -> bool:
    """True if no factor couples two units of ``groups`` (within one group or between two)."""
    gs = set(groups)
    return not any(c.group_a in gs and c.group_b in gs for f in graph.factors for c in f.couplings())


def sum_out(graph, states, summed, beta, params, backend, need_means=False, need_log_p=True):
    """log sum over the ``summed`` groups of exp(-beta E), per chain, given ``states`` of all others.

    ``states`` maps the other groups to backend arrays ``(chains, size)``. Returns
    ``(log_p, means, mean_squares)``; the last two (conditional E[x] and E[x^2] of the
    summed groups, by group) only when ``need_means``; ``log_p`` is None unless ``need_log_p``.
    """
    xp = backend.xp
    chains = next(iter(states.values())).shape[0]
    log_p = xp.zeros(chains, dtype=np.float64) if need_log_p else None
    for f, p in zip(graph.factors, params):
        if need_log_p and not set(f.groups) & set(summed):
            log_p -= beta * f.energy(xp, states, p)
    means, squares = {}, {}
    for g in summed:
        units = graph.group(g).units
        theta = backend.empty((chains, graph.group(g).size))
        accumulate(field_terms(graph, g, None, params, backend, chains), states, theta)
        if need_log_p:
            log_p += units.log_partition(xp, theta, beta).sum(axis=1)
        if need_means:
            means[g] = units.mean(xp, theta, beta)
            squares[g] = units.mean_square(xp, theta, beta)
    return log_p, means, squares
