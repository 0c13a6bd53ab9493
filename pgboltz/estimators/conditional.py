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

import numpy as np

from ..errors import DataError

#: enumerated units per row at most (2^16 states x rows field evaluations)
MAX_CONDITIONAL_UNITS = 16


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
    """log Z(u) for every row of ``inputs`` (``{input group: (n, size)}``), exactly, in float64: minus the
    free energy of the inputs, every other group summed out or enumerated."""
    from .free_energy import _enumerated_free_energy

    inputs = check_inputs(graph, inputs)
    free = [g for g in graph.groups if g not in graph.inputs]
    return -_enumerated_free_energy(graph, inputs, free, 1.0, max_units, row_cap=False,
                                    advice="Use fewer hidden units, or estimate log Z(u) with conditional_ais")


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
