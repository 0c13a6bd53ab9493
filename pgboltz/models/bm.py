"""General Boltzmann machine with hidden units and intra-layer couplings (seed eqs. 1-5).

    E(v, h) = - 1/2 v^T L v - 1/2 h^T J h - v^T W h - b^T v - c^T h

with L and J symmetric and zero on the diagonal (each pair counted once, as in
the seed's ``E(x) = -x^T W x - b^T x`` over x = (v, h) with a triangular W).
"""

from __future__ import annotations

import numpy as np

from ..factors import Bias, Dense
from ..graph import FactorGraph


def _symmetric(rng, n, scale):
    a = np.triu(rng.normal(0, scale, (n, n)), k=1)
    return a + a.T


def boltzmann_machine(n_visible: int, n_hidden: int, seed: int = 0, scale: float = 0.5,
                      units: str = "bernoulli", name: str = "bm") -> FactorGraph:
    """A fully connected BM (lateral v-v and h-h couplings plus v-h weights), random parameters."""
    rng = np.random.default_rng(seed)
    g = FactorGraph(name, f"general BM {n_visible}+{n_hidden} with intra-layer couplings")
    g.add_group("v", n_visible, units, role="visible")
    g.add_group("h", n_hidden, units, role="hidden")
    g.add_factor(Dense("v", "v", _symmetric(rng, n_visible, scale), name="L"))
    if n_hidden > 1:
        g.add_factor(Dense("h", "h", _symmetric(rng, n_hidden, scale), name="J"))
    g.add_factor(Dense("v", "h", rng.normal(0, scale, (n_visible, n_hidden)), name="W"))
    g.add_factor(Bias("v", rng.normal(0, scale, n_visible), name="b"))
    g.add_factor(Bias("h", rng.normal(0, scale, n_hidden), name="c"))
    return g
