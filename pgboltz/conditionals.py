"""Conditionals derived from the factors -- never written per model.

For a block of units of group g, with every other unit fixed, each slot s of the
natural parameters is

    slot_s = sum over factors f touching g of  f's contribution to s            (-dE_f / d statistic_s)
    P(x | rest) = the unit type's distribution at beta * slots                  (units.py)

Because factors are multilinear in each group they give a conditional for (or
quadratic with the statistic ``-x^2/2`` for precisions), the slots do not depend
on the block itself, and for binary units

    logit P(x_i = hi | rest) = beta * (E(x_i = lo) - E(x_i = hi))

which the test suite checks against the energy for random states. The compiled
form of these sums is :class:`pgboltz.model.CompiledModel`; the functions here are
the same computation on host states, for inspection, verification and tests.
"""

from __future__ import annotations

import numpy as np

from .model import float64_model, independent_groups


def _model_and_states(graph, states, backend):
    model = float64_model(graph, backend=backend)
    flat = {g: model.backend.asarray(x) for g, x in graph.check_states(states).items()}
    return model, flat


def field(graph, states, group, index=None, backend=None) -> dict:
    """All slots of the natural parameters of ``group`` (units ``index``) given host ``states``:
    ``{slot: (chains, n)}`` float64 host arrays (``precision_matrix``: ``(chains, n, n)``)."""
    model, flat = _model_and_states(graph, states, backend)
    return {s: model.backend.to_numpy(v) for s, v in model.field(group, flat, index).items()}


def natural_parameters(graph, states, group, index=None, backend=None):
    """The ``linear`` slot for the units ``index`` (default all) of ``group`` given host ``states``.

    ``states`` maps every group to ``(chains, *shape)``; returns ``(chains, n)`` float64.
    """
    return field(graph, states, group, index, backend)["linear"]


def _joint_prob(graph, states, group, beta, backend):
    """For a group drawn jointly with others (max pooling): P(x_i = 1 | every unit outside its block),
    from the joint distribution of the block; None for an ordinary group."""
    for f, groups in graph.joint_sets():
        dist = f.joint_distribution()
        if group in groups and dist is not None:
            fields = {g: field(graph, states, g, backend=backend) for g in groups}
            return np.asarray(dist.mean(np, fields, beta)[group]).reshape((-1,) + graph.group(group).shape)
    return None


def conditional_log_probs(graph, states, group, beta=1.0):
    """log P(x_i = s | every other unit) for every unit i of ``group`` and every state s of its
    finite support: ``(chains, *shape, len(support))``. For units drawn jointly in blocks (max
    pooling), the condition is every unit outside the unit's block (see :func:`conditional_prob`)."""
    grp = graph.group(group)
    p = _joint_prob(graph, states, group, beta, None)
    if p is not None:
        with np.errstate(divide="ignore"):
            return np.stack([np.log1p(-p), np.log(p)], axis=-1)
    f = field(graph, states, group)
    return grp.units.log_prob_states(np, f, beta).reshape((-1,) + grp.shape + (len(grp.units.support),))


def conditional_prob(graph, states, group, beta=1.0, backend=None):
    """P(x_i = hi | all other units) for every unit i of a binary ``group``: ``(chains, *shape)``.

    'hi' is the upper state of the group's binary unit type (1 for Bernoulli, +1 for spin). Units
    drawn jointly in blocks (a max-pooling factor's detectors and pooling units) are constrained by
    the other units of their block, so for them this is P(x_i = 1 | every unit outside the block),
    the block's joint distribution summed over the rest of the block.
    """
    grp = graph.group(group)
    p = _joint_prob(graph, states, group, beta, backend)
    if p is not None:
        return p
    p = grp.units.prob_hi(np, field(graph, states, group, backend=backend), beta)
    return p.reshape((-1,) + grp.shape)


def conditional_logit(graph, states, group, beta=1.0):
    """logit P(x_i = hi | rest), computed without ever forming the probability (for units drawn
    jointly in blocks, from the block's marginal as in :func:`conditional_prob`)."""
    grp = graph.group(group)
    p = _joint_prob(graph, states, group, beta, None)
    if p is not None:
        with np.errstate(divide="ignore"):
            return np.log(p) - np.log1p(-p)
    return grp.units.logit(np, field(graph, states, group), beta).reshape((-1,) + grp.shape)


__all__ = ["field", "natural_parameters", "conditional_log_probs", "conditional_prob", "conditional_logit",
           "independent_groups"]
