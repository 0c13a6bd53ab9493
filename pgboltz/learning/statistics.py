"""The two phases of Boltzmann-machine learning, from the factors' sufficient statistics.

    d/d theta_k  (1/N) sum_n log p(v_n) = E_data[s_k] - E_model[s_k]      (seed section 1)

where s_k is factor statistic k (``Factor.statistics``). In the *positive* (data)
phase the visible groups are clamped to data; when the hidden groups are
independent given the visible ones (RBM), E[s_k | v] is exact with the hidden
states replaced by their conditional means, because every factor is linear in
each group it touches. Otherwise (a general BM with lateral hidden couplings) the
positive phase samples the hidden units with the visible ones clamped. The
*negative* (model) phase averages the statistics over sampler states.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..backends import get_backend
from ..conditionals import independent_groups, sum_out
from ..errors import TooLargeError


def factor_statistics(graph, states: dict, weights, backend) -> list:
    """[{param: weighted average statistic}] per factor, as host float64 arrays."""
    xp = backend.xp
    out = []
    for f in graph.factors:
        s = f.statistics(xp, states, weights)
        out.append({k: backend.to_numpy(v).astype(np.float64).reshape(f.params[k].shape) for k, v in s.items()})
    return out


def mean_field_hidden(graph, visible: dict, hidden, params, backend):
    """States with every hidden group replaced by E[h | v] (exact when the hidden groups are independent)."""
    states = dict(visible)
    _, means, _ = sum_out(graph, visible, hidden, 1.0, params, backend, need_means=True, need_log_p=False)
    states.update(means)
    return states


def can_average_hidden(graph) -> bool:
    """True if the positive phase is exact with conditional means (hidden groups independent given visible)."""
    hidden = [g for g in graph.groups if g not in graph.visible]
    return independent_groups(graph, hidden)


def uniform_weights(xp, n, mask=None):
    if mask is None:
        return xp.full(n, 1.0 / n, dtype=np.float64)
    w = xp.asarray(mask, dtype=np.float64)
    return w / w.sum()


def exact_gradient(graph, data: dict, max_units: int = 20) -> list:
    """The exact log-likelihood gradient, by enumerating every joint state (small graphs only).

    Independent of the samplers; the positive phase enumerates the hidden states of
    each data vector, the negative phase every joint state.
    """
    n_units = graph.n_units()
    if n_units > max_units:
        raise TooLargeError(f"exact_gradient enumerates 2^{n_units} states; limit {max_units} units")
    be = get_backend("numpy", dtype="float64", streams=1)
    params = [f.device_params(be) for f in graph.factors]
    visible = list(graph.visible)
    hidden = [g for g in graph.groups if g not in visible]
    data = graph.check_states(data, groups=visible, what="data")
    n = next(iter(data.values())).shape[0]

    def joint(groups):
        sizes = [graph.group(g).size for g in groups]
        rows = np.array(list(itertools.product([0, 1], repeat=sum(sizes))), dtype=np.float64).reshape(-1, sum(sizes))
        out, off = {}, 0
        for g, k in zip(groups, sizes):
            lo, hi = graph.group(g).units.support
            out[g] = lo + (hi - lo) * rows[:, off:off + k]
            off += k
        return out

    def probs(states):
        e = sum(f.energy(np, states, p) for f, p in zip(graph.factors, params))
        w = np.exp(-(e - e.min()))
        return w / w.sum()

    everything = joint(list(graph.groups))
    neg = factor_statistics(graph, everything, probs(everything), be)
    pos = [{k: np.zeros_like(v) for k, v in d.items()} for d in neg]
    hid = joint(hidden) if hidden else {}
    m = next(iter(hid.values())).shape[0] if hidden else 1
    for i in range(n):
        st = {g: np.repeat(data[g][i:i + 1], m, axis=0) for g in visible}
        st.update(hid)
        s = factor_statistics(graph, st, probs(st), be)
        for acc, d in zip(pos, s):
            for k in acc:
                acc[k] += d[k] / n
    return [{k: pos_k[k] - neg_k[k] for k in pos_k} for pos_k, neg_k in zip(pos, neg)]
