"""Free energies: summing groups out analytically.

If a set T of groups has no couplings inside or between its groups, its units
are independent given everything else, and

    log sum_{x_T} exp(-beta E(x)) = -beta * sum_{f not touching T} E_f(x)
                                    + sum_{i in T} A_i(beta * theta_i(x))

with theta the derived natural parameters and A the unit type's log-partition.
With T = the hidden groups this is minus beta times the free energy,

    p(v) = exp(-beta F(v)) / Z,    F(v) = sum_{f not touching H} E_f(v) - (1/beta) sum_{h in H} A(beta theta_h(v))

which for an RBM is F(v) = -b^T v - sum_j log(1 + exp(c_j + v^T W[:, j])).
The summing out itself is :func:`pgboltz.conditionals.sum_out`, shared with the enumerator.
"""

from __future__ import annotations

import numpy as np

from ..backends import get_backend
from ..conditionals import independent_groups, sum_out
from ..errors import GraphError


def free_energy(graph, visible_states: dict, beta: float = 1.0, backend=None) -> np.ndarray:
    """F(v) per chain for host states of the visible groups, ``{group: (chains, *shape)}``.

    All non-visible groups are summed out; they must be independent given the
    visible ones (true for RBMs, not for a DBM's two hidden layers).
    """
    hidden = [g for g in graph.groups if g not in visible_states]
    if not independent_groups(graph, hidden):
        raise GraphError(
            f"the free energy of {graph.name!r} needs its hidden groups ({', '.join(hidden)}) to be independent "
            "given the visible ones; they are coupled to each other, so they cannot be summed out analytically"
        )
    be = backend or get_backend("numpy", dtype="float64", streams=1)
    flat = {g: be.asarray(x) for g, x in graph.check_states(visible_states, groups=list(visible_states)).items()}
    params = [f.device_params(be) for f in graph.factors]
    log_p, _, _ = sum_out(graph, flat, hidden, beta, params, be)
    return be.to_numpy(-log_p / beta)
