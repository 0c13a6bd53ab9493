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
"""

from __future__ import annotations

from ..errors import GraphError
from ..model import float64_model, independent_groups


def free_energy(graph, given_states: dict, beta: float = 1.0, backend=None, model=None):
    """F per chain for host states of some groups ``{group: (chains, *shape)}``, summing out all others.

    The other groups must be independent given the given ones (an RBM's hidden layer
    given v; a DBM's odd layers given the even ones). Returns a host float64 array, or
    a backend array when ``model`` (a compiled model to evaluate with) is passed.
    """
    summed = [g for g in graph.groups if g not in given_states]
    if not independent_groups(graph, summed):
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
