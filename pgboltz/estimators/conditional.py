"""Exact log-likelihoods of *conditional* models, row by row: each row has its own input values.

A conditional RBM's or an RNN-RBM's frame distribution p(v | u) has a partition function Z(u)
that depends on the input groups u, so there is one log Z per row instead of one per model:

    log p(v | u) = log sum_h exp(-E(v, h, u)) - log Z(u),
    log Z(u)     = log sum_{x_S} sum_{x_T} exp(-E(x_S, x_T, u))

with the groups split as the enumerator splits them (:func:`~pgboltz.exact.enumerate.choose_summed_groups`):
T summed analytically (independent given the rest), S enumerated -- for an RBM frame, h is
enumerated and v summed out, so the cost per row is 2^(hidden units) field evaluations.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import DataError, TooLargeError
from ..exact.enumerate import choose_summed_groups, enumeration, n_states, unit_variables

#: enumerated units per row at most (2^16 states x rows field evaluations)
MAX_CONDITIONAL_UNITS = 16
#: rows x states evaluated per chunk
CHUNK = 1 << 16


def check_inputs(graph, inputs: dict, rows: int | None = None) -> dict:
    """``inputs`` validated: exactly the graph's input groups, the same number of rows (``rows`` if given)."""
    missing = [g for g in graph.inputs if g not in inputs]
    extra = [g for g in inputs if g not in graph.inputs]
    if missing or extra:
        raise DataError(f"{graph.name!r}: give exactly its input groups ({', '.join(graph.inputs)}); "
                        f"missing {missing or 'none'}, not inputs {extra or 'none'}")
    out = graph.check_states(inputs, groups=list(inputs), what="inputs")
    n = {x.shape[0] for x in out.values()}
    if len(n) != 1 or (rows is not None and n != {rows}):
        raise DataError(f"inputs have {sorted(n)} rows" + (f"; {rows} are needed (one per run)" if rows else
                                                          ": give every input group the same number of rows"))
    return out


def conditional_log_z(graph, inputs: dict, max_units: int = MAX_CONDITIONAL_UNITS) -> np.ndarray:
    """log Z(u) for every row of ``inputs`` (``{input group: (n, size)}``), exactly, in float64."""
    from ..model import float64_model

    inputs = check_inputs(graph, inputs)
    n = next(iter(inputs.values())).shape[0]
    free = [g for g in graph.groups if g not in graph.inputs]
    T = choose_summed_groups(graph, free, second_moments=False)
    S = [g for g in free if g not in T]
    variables = unit_variables(graph, S)
    total = n_states(variables)
    if total > 2 ** max_units:
        raise TooLargeError(
            f"exact conditional log Z of {graph.name!r} enumerates 2^{math.log2(total):.0f} states per row "
            f"({graph.n_units(S)} units in {', '.join(S)}); the limit is {max_units} units. Use fewer hidden units "
            "or estimate with AIS")
    model = float64_model(graph)
    out = np.empty(n)
    enum = enumeration(graph, S, 0, total, variables)  # every state of S, (total, size) per group
    per = max(1, CHUNK // total)
    for start in range(0, n, per):
        rows = min(n, start + per) - start
        states = {g: np.repeat(x[start:start + rows], total, axis=0) for g, x in inputs.items()}
        states.update({g: np.tile(x, (rows, 1)) for g, x in enum.items()})
        logp, _, _ = model.sum_out(T, states, 1.0)
        logp = np.asarray(logp).reshape(rows, total)
        m = logp.max(axis=1, keepdims=True)
        out[start:start + rows] = (m + np.log(np.exp(logp - m).sum(axis=1, keepdims=True)))[:, 0]
    return out


def conditional_log_likelihood(graph, data: dict, log_z: np.ndarray | None = None,
                               max_units: int = MAX_CONDITIONAL_UNITS) -> np.ndarray:
    """log p(v | u) per row of ``data`` (``{visible and input group: (n, size)}``), exactly: the hidden
    groups are summed out given v and u (they must be independent given them, as in an RBM frame)."""
    from ..model import float64_model, independent_groups

    hidden = [g for g in graph.groups if g not in graph.visible and g not in graph.inputs]
    if not independent_groups(graph, hidden):
        raise DataError(f"{graph.name!r}: the hidden groups are not independent given the visibles and inputs, so "
                        "log p~(v | u) has no closed form here")
    data = graph.check_states(data, groups=list(graph.visible) + list(graph.inputs), what="data")
    n = next(iter(data.values())).shape[0]
    lz = conditional_log_z(graph, {g: data[g] for g in graph.inputs}, max_units) if log_z is None else log_z
    if np.shape(lz) != (n,):
        raise DataError(f"log_z must hold one value per row ({n}), got shape {np.shape(lz)}")
    model = float64_model(graph)
    logp, _, _ = model.sum_out(hidden, data, 1.0)
    return np.asarray(logp) - lz
