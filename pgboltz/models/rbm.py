"""Restricted Boltzmann machine as a factor graph (seed eqs. 6-18).

    E(v, h) = - b^T v - c^T h - v^T W h

Nothing else is written here: the conditionals P(h_j=1|v) = sigma(c_j + v^T W[:, j])
and P(v_i=1|h) = sigma(b_i + W[i, :] h), the {h}, {v} block schedule and the free
energy are all derived by the library from these three factors.
"""

from __future__ import annotations

import numpy as np

from ..factors import Bias, Dense
from ..graph import FactorGraph


def rbm(n_visible: int, n_hidden: int, W=None, b=None, c=None, seed: int = 0, scale: float = 0.01,
        units: str = "bernoulli", name: str = "rbm") -> FactorGraph:
    """An RBM with ``n_visible`` x ``n_hidden`` weights.

    Parameters not given are drawn: ``W ~ N(0, scale^2)`` and zero biases, from ``seed``.
    """
    rng = np.random.default_rng(seed)
    g = FactorGraph(name, f"RBM {n_visible}x{n_hidden}")
    g.add_group("v", n_visible, units, role="visible")
    g.add_group("h", n_hidden, units, role="hidden")
    g.add_factor(Dense("v", "h", rng.normal(0, scale, (n_visible, n_hidden)) if W is None else W, name="W"))
    g.add_factor(Bias("v", np.zeros(n_visible) if b is None else b, name="b"))
    g.add_factor(Bias("h", np.zeros(n_hidden) if c is None else c, name="c"))
    return g
