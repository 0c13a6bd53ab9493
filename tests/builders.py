"""Small graphs with random parameters shared by the tests."""

import numpy as np

from pgboltz import Bias, Dense, FactorGraph, Sparse
from pgboltz.models import boltzmann_machine, ising, rbm


def random_rbm(seed=0, nv=7, nh=5, units="bernoulli", scale=1.0):
    r = np.random.default_rng(seed)
    return rbm(nv, nh, W=r.normal(0, scale, (nv, nh)), b=r.normal(0, scale, nv), c=r.normal(0, scale, nh),
               units=units)


def mixed_graph():
    """Bernoulli and spin groups, dense + sparse + intra couplings, three groups."""
    r = np.random.default_rng(3)
    g = FactorGraph("mixed")
    g.add_group("v", 4, "bernoulli", "visible")
    g.add_group("s", 5, "spin")
    g.add_group("h", 3, "bernoulli")
    g.add_factor(Dense("v", "s", r.normal(size=(4, 5))))
    g.add_factor(Sparse("s", "s", [[0, 1], [1, 2], [2, 3], [3, 4], [0, 4], [1, 3]], r.normal(size=6)))
    g.add_factor(Sparse("s", "h", [[0, 0], [4, 2], [2, 1]], r.normal(size=3)))
    g.add_factor(Bias("v", r.normal(size=4)))
    g.add_factor(Bias("s", r.normal(size=5)))
    g.add_factor(Bias("h", r.normal(size=3)))
    return g


GRAPH_BUILDERS = {
    "rbm": random_rbm,
    # Spin units double the field (P(s=+1) = sigma(2 theta)): with N(0, 1) weights this RBM is bimodal and
    # single-site Gibbs needs far more than 300 sweeps to balance the modes (measured: lag-20 autocorrelation
    # 0.09). Weights of scale 0.5 keep the test about the sampler, not about mixing.
    "spin-rbm": lambda: random_rbm(1, units="spin", scale=0.5),
    "general-bm": lambda: boltzmann_machine(5, 3, seed=4, scale=0.8),
    # Per-bond random couplings. Kept at |J| ~ 0.4: with N(0, 1) couplings the 4x4 torus is a frustrated
    # spin glass whose single-site Gibbs chains stay trapped for thousands of sweeps (a job for tempering).
    "ising-4x4-periodic": lambda: ising(4, 4, J=(np.random.default_rng(5).normal(0, 0.4, size=(4, 4)),
                                                  np.random.default_rng(6).normal(0, 0.4, size=(4, 4))), field=0.2),
    "ising-4x5-open": lambda: ising(4, 5, J=0.7, field=-0.3, periodic=False),
    "mixed": mixed_graph,
}
