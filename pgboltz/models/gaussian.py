"""Real-valued visibles: the Gaussian-Bernoulli RBM as a factor graph (seed eqs. 29-30).

    E(v, h) = sum_i v_i^2 / (2 sigma_i^2) - b^T v - v^T W h - c^T h,   sigma_i = exp(log_sigma_i)

Nothing else is written here: p(v | h) = N(sigma^2 (b + W h), diag(sigma^2)) and
P(h_j = 1 | v) = sigma(c_j + v^T W[:, j]) come from the factors -- a quadratic factor
gives the precision slot, the bias and the dense factor the linear one.
"""

from __future__ import annotations

import numpy as np

from ..factors import Bias, Covariance, Dense, Quadratic
from ..graph import FactorGraph


def gb_rbm(n_visible: int, n_hidden: int, W=None, b=None, c=None, sigma=1.0, seed: int = 0, scale: float = 0.01,
           min_sigma: float | None = None, name: str = "gb-rbm") -> FactorGraph:
    """A Gaussian-Bernoulli RBM; ``sigma`` is one number or one per visible unit (the model learns log sigma,
    kept at or above ``min_sigma`` if given)."""
    rng = np.random.default_rng(seed)
    g = FactorGraph(name, f"Gaussian-Bernoulli RBM {n_visible}x{n_hidden}")
    g.add_group("v", n_visible, "gaussian", role="visible")
    g.add_group("h", n_hidden, role="hidden")
    log_sigma = np.log(np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n_visible,)))
    g.add_factor(Quadratic("v", log_sigma.copy(), min_sigma, name="sigma"))
    g.add_factor(Bias("v", np.zeros(n_visible) if b is None else b, name="b"))
    g.add_factor(Dense("v", "h", rng.normal(0, scale, (n_visible, n_hidden)) if W is None else W, name="W"))
    g.add_factor(Bias("h", np.zeros(n_hidden) if c is None else c, name="c"))
    return g


def mcrbm(n_visible: int, n_factors: int, n_cov: int, n_mean: int = 0, sigma=1.0, seed: int = 0,
          scale: float = 0.1, cov_bias: float = 1.0, name: str = "mcrbm") -> FactorGraph:
    """A mean-covariance RBM (Ranzato & Hinton 2010; seed eqs. 31-33) over Gaussian visibles ``v``:

        E = sum_i v_i^2 / (2 sigma_i^2) - b^T v + 1/2 sum_k hc_k sum_f P_fk (v . C_f)^2 - c_c^T hc
            - v^T W hm - c_m^T hm

    ``n_factors`` factor loadings C (drawn N(0, scale^2)), ``n_cov`` covariance hiddens ``hc`` pooling
    them through a non-negative P (each factor to one unit, round robin), ``n_mean`` mean hiddens ``hm``
    (none: a covariance RBM). The covariance hiddens start on (bias ``cov_bias``), gating precision in."""
    rng = np.random.default_rng(seed)
    g = FactorGraph(name, f"mean-covariance RBM {n_visible} visible, {n_factors} factors, {n_cov}+{n_mean} hidden")
    g.add_group("v", n_visible, "gaussian", role="visible")
    g.add_group("hc", n_cov, role="hidden")
    log_sigma = np.log(np.broadcast_to(np.asarray(sigma, dtype=np.float64), (n_visible,)))
    g.add_factor(Quadratic("v", log_sigma.copy(), name="sigma"))
    g.add_factor(Bias("v", np.zeros(n_visible), name="b"))
    P = np.zeros((n_factors, n_cov))
    P[np.arange(n_factors), np.arange(n_factors) % n_cov] = 1.0
    g.add_factor(Covariance("v", "hc", rng.normal(0, scale, (n_visible, n_factors)), P, name="C"))
    g.add_factor(Bias("hc", np.full(n_cov, float(cov_bias)), name="c_c"))
    if n_mean:
        g.add_group("hm", n_mean, role="hidden")
        g.add_factor(Dense("v", "hm", rng.normal(0, scale, (n_visible, n_mean)), name="W"))
        g.add_factor(Bias("hm", np.zeros(n_mean), name="c_m"))
    return g
