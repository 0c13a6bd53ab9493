"""The two phases of Boltzmann-machine learning, from the factors' statistics.

    d/d theta_k  (1/N) sum_n log p(v_n) = E_data[s_k] - E_model[s_k],   s_k = -dE/d theta_k   (seed section 1)

(``Factor.statistics``). In the *positive* (data) phase the visible groups (and
inputs) are clamped to data; when the hidden groups are independent given them
(RBM), E[s_k | v] is exact with the hidden states replaced by their conditional
means, because every factor is linear in each group it gives a conditional for.
Otherwise a model picks its own positive phase: clamped Gibbs sampling (a general
BM with lateral couplings) or mean-field (a DBM, :meth:`CompiledModel.mean_field`).
The *negative* (model) phase averages the statistics over sampler states.
"""

from __future__ import annotations

import numpy as np

from ..errors import TooLargeError
from ..model import float64_model, independent_groups


def hidden_groups(graph) -> list:
    """Groups that are neither visible nor inputs: what the positive phase infers."""
    return [g for g in graph.groups if g not in graph.visible and g not in graph.inputs]


def conditional_means(model, given: dict, hidden) -> dict:
    """States with every hidden group replaced by E[h | given] (exact when the hidden groups are independent)."""
    states = dict(given)
    _, means, _ = model.sum_out(hidden, given, 1.0, need_means=True, need_log_p=False, need_squares=False)
    states.update(means)
    return states


def can_average_hidden(graph) -> bool:
    """True if the positive phase is exact with conditional means (hidden groups independent given the data)."""
    return independent_groups(graph, hidden_groups(graph))


def uniform_weights(xp, n, mask=None, dtype=np.float64):
    """Weights 1/n per chain (or per chain of ``mask``), in ``dtype``: the model's, so that the statistics
    products of a float32 run stay float32 GEMMs instead of being promoted to float64."""
    if mask is None:
        return xp.full(n, 1.0 / n, dtype=dtype)
    w = xp.asarray(mask, dtype=dtype)
    return w / w.sum()


def exact_gradient(graph, data: dict, max_units: int = 20) -> list:
    """The exact log-likelihood gradient, by enumerating every joint state (small graphs only).

    Independent of the samplers; the positive phase enumerates the hidden states of
    each data vector, the negative phase every joint state. Host float64 arrays.
    """
    from ..exact.enumerate import enumeration, n_states
    from ..graph.unit_level import unit_variables

    if graph.inputs:
        raise ValueError("exact_gradient: graphs with input groups are conditional models; clamp the inputs first")
    variables = unit_variables(graph)
    if n_states(variables) > 2 ** max_units:
        raise TooLargeError(f"exact_gradient enumerates {n_states(variables)} states; limit 2^{max_units}")
    model = float64_model(graph)
    visible = list(graph.visible)
    hidden = hidden_groups(graph)
    data = graph.check_states(data, groups=visible, what="data")
    n = next(iter(data.values())).shape[0]

    def probs(states):
        e = model.energy(states)
        w = np.exp(-(e - e.min()))
        return w / w.sum()

    def stats(states):
        return model.statistics(states, probs(states))

    everything = enumeration(graph, list(graph.groups), 0, n_states(variables))
    neg = stats(everything)
    pos = [{k: np.zeros_like(v) for k, v in d.items()} for d in neg]
    hid = enumeration(graph, hidden, 0, n_states(unit_variables(graph, hidden))) if hidden else {}
    m = next(iter(hid.values())).shape[0] if hidden else 1
    for i in range(n):
        st = {g: np.repeat(data[g][i:i + 1], m, axis=0) for g in visible}
        st.update(hid)
        for acc, d in zip(pos, stats(st)):
            for k in acc:
                acc[k] += d[k] / n
    return [{k: pos_k[k] - neg_k[k] for k in pos_k} for pos_k, neg_k in zip(pos, neg)]
