"""Real-valued visibles: the Gaussian-Bernoulli RBM as a factor graph (seed eqs. 29-30).

    E(v, h) = sum_i v_i^2 / (2 sigma_i^2) - b^T v - v^T W h - c^T h,   sigma_i = exp(log_sigma_i)

Nothing else is written here: p(v | h) = N(sigma^2 (b + W h), diag(sigma^2)) and
P(h_j = 1 | v) = sigma(c_j + v^T W[:, j]) come from the factors -- a quadratic factor
gives the precision slot, the bias and the dense factor the linear one.
"""

from __future__ import annotations

import numpy as np

from ..factors import Bias, Dense, Quadratic
from ..graph import FactorGraph


def gb_rbm(n_visible: int, n_hidden: int, W=None, b=None, c=None, sigma=1.0, seed: int = 0, scale: float = 0.01,
           name: str = "gb-rbm") -> FactorGraph:
    """A Gaussian-Bernoulli RBM; ``sigma`` is one number or one per visible unit (the model learns log sigma)."""
    rng = np.random.default_rng(seed)
    g = FactorGraph(name, f"Gaussian-Bernoulli RBM {n_visible}x{n_hidden}")
    g.add_group("v", n_visible, "gaussian", role="visible")
    g.add_group("h", n_hidden, role="hidden")
    log_sigma = np.log(np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n_visible,)))
    g.add_factor(Quadratic("v", log_sigma.copy(), name="sigma"))
    g.add_factor(Bias("v", np.zeros(n_visible) if b is None else b, name="b"))
    g.add_factor(Dense("v", "h", rng.normal(0, scale, (n_visible, n_hidden)) if W is None else W, name="W"))
    g.add_factor(Bias("h", np.zeros(n_hidden) if c is None else c, name="c"))
    return g
