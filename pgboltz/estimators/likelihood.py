"""Exact average log-likelihood for models small enough to enumerate.

    log p(v) = -F(v) - log Z

F from :func:`free_energy` (hidden groups summed out), log Z from the enumerator,
which sums the larger side out analytically: a 64x20 or 784x20 RBM is exact
(2^20 hidden states enumerated).
"""

from __future__ import annotations

import numpy as np

from ..exact import log_z as exact_log_z
from .free_energy import free_energy


def exact_log_likelihood(graph, data: dict, log_z: float | None = None) -> float:
    """Average log p(v) over the rows of ``data`` (``{visible group: (n, *shape)}``), in nats."""
    lz = exact_log_z(graph) if log_z is None else log_z
    return float(np.mean(-free_energy(graph, data)) - lz)
