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


# -- consumers of the zoo-ready contract: one small graph per new element ---------------------------------------

def gb_rbm(seed=0, nv=3, nh=2):
    """Gaussian visibles with learned log sigma (quadratic factor), Bernoulli hiddens."""
    from pgboltz.factors import Quadratic

    r = np.random.default_rng(seed)
    g = FactorGraph("gb-rbm")
    g.add_group("v", nv, "gaussian", "visible")
    g.add_group("h", nh)
    g.add_factor(Quadratic("v", r.normal(0, 0.3, nv), name="sigma"))
    g.add_factor(Bias("v", r.normal(0, 0.5, nv), name="b"))
    g.add_factor(Dense("v", "h", r.normal(0, 0.5, (nv, nh)), name="W"))
    g.add_factor(Bias("h", r.normal(0, 0.5, nh), name="c"))
    return g


def covariance_rbm(seed=0, nx=3, F=4, K=2):
    """Gaussian x with a covariance factor to binary h (the mcRBM's covariance part)."""
    from pgboltz.factors import Covariance, Quadratic

    r = np.random.default_rng(seed)
    g = FactorGraph("covariance-rbm")
    g.add_group("x", nx, "gaussian", "visible")
    g.add_group("hc", K)
    g.add_factor(Quadratic("x", r.normal(0, 0.2, nx)))
    g.add_factor(Bias("x", r.normal(0, 0.5, nx)))
    g.add_factor(Covariance("x", "hc", r.normal(0, 0.7, (nx, F)), np.abs(r.normal(0, 1.0, (F, K)))))
    g.add_factor(Bias("hc", r.normal(0, 0.5, K)))
    return g


def pooling_graph(seed=0):
    """Visible units densely coupled to 1x4x4 detectors, 2x2 probabilistic max pooling, pooling units
    coupled upward to a third layer (a CDBN's pooling-to-next-layer link)."""
    from pgboltz.factors import MaxPool

    r = np.random.default_rng(seed)
    g = FactorGraph("pool")
    g.add_group("v", 8, role="visible")
    g.add_group("d", (1, 4, 4))
    g.add_group("p", (1, 2, 2))
    g.add_group("h2", 3)
    g.add_factor(Dense("v", "d", r.normal(0, 0.5, (8, 16))))
    g.add_factor(MaxPool("d", "p", 2))
    g.add_factor(Dense("p", "h2", r.normal(0, 0.5, (4, 3))))
    for n in ("v", "d", "p", "h2"):
        g.add_factor(Bias(n, r.normal(0, 0.5, g.group(n).size)))
    return g


def threeway_graph(seed=0):
    from pgboltz.factors import ThreeWay

    r = np.random.default_rng(seed)
    g = FactorGraph("three-way")
    g.add_group("a", 3, role="visible")
    g.add_group("b", 2)
    g.add_group("c", 2, "spin")
    g.add_factor(ThreeWay("a", "b", "c", r.normal(size=(3, 2)), r.normal(size=(2, 2)), r.normal(size=(2, 2))))
    for n in "abc":
        g.add_factor(Bias(n, r.normal(0, 0.5, g.group(n).size)))
    return g


def sigmoid_belief_net(seed=0):
    """top (independent, bias) -> mid -> v, all directed below the top."""
    from pgboltz.factors import Directed

    r = np.random.default_rng(seed)
    g = FactorGraph("sbn")
    g.add_group("top", 3)
    g.add_group("mid", 4)
    g.add_group("v", 5, role="visible")
    g.add_factor(Bias("top", r.normal(size=3)))
    g.add_factor(Directed("top", "mid", r.normal(size=(3, 4)), r.normal(size=4)))
    g.add_factor(Directed("mid", "v", r.normal(size=(4, 5)), r.normal(size=5)))
    return g


def small_dbn(seed=0, sizes=(6, 4, 3)):
    """A DBN: undirected RBM between the top two layers, a logistic layer down to v."""
    from pgboltz.factors import Directed

    r = np.random.default_rng(seed)
    nv, n1, n2 = sizes
    g = FactorGraph("dbn")
    g.add_group("v", nv, role="visible")
    g.add_group("h1", n1)
    g.add_group("h2", n2)
    g.add_factor(Dense("h1", "h2", r.normal(0, 0.8, (n1, n2))))
    g.add_factor(Bias("h1", r.normal(0, 0.5, n1)))
    g.add_factor(Bias("h2", r.normal(0, 0.5, n2)))
    g.add_factor(Directed("h1", "v", r.normal(0, 1.0, (n1, nv)), r.normal(0, 0.5, nv)))
    return g


def small_dbm(seed=0, sizes=(6, 5, 4), scale=0.5):
    r = np.random.default_rng(seed)
    g = FactorGraph("dbm")
    names = ["v", "h1", "h2"]
    for k, (n, size) in enumerate(zip(names, sizes)):
        g.add_group(n, size, role="visible" if k == 0 else "hidden")
    for a, b in zip(names[:-1], names[1:]):
        g.add_factor(Dense(a, b, r.normal(0, scale, (g.group(a).size, g.group(b).size)), name=f"W_{b}"))
    for n in names:
        g.add_factor(Bias(n, r.normal(0, scale, g.group(n).size), name=f"b_{n}"))
    return g


def conditional_rbm(seed=0, nu=3, nv=4, nh=3, input_units="bernoulli"):
    """An input group u (history) shifting the biases of v and h: a conditional RBM."""
    r = np.random.default_rng(seed)
    g = FactorGraph("crbm")
    g.add_group("u", nu, input_units, role="input")
    g.add_group("v", nv, role="visible")
    g.add_group("h", nh)
    g.add_factor(Dense("u", "v", r.normal(0, 0.8, (nu, nv)), name="A"))
    g.add_factor(Dense("u", "h", r.normal(0, 0.8, (nu, nh)), name="B"))
    g.add_factor(Dense("v", "h", r.normal(0, 0.8, (nv, nh)), name="W"))
    g.add_factor(Bias("v", r.normal(0, 0.5, nv)))
    g.add_factor(Bias("h", r.normal(0, 0.5, nh)))
    return g


def doubled_rbm(seed=0):
    """The bottom RBM of DBM pre-training: two copies of v share W (a replicated factor)."""
    from pgboltz.learning import doubled_rbm as build

    g = build(4, 3, "v", seed=seed, scale=0.7)
    for f in g.factors[1:]:
        f.params["b"][...] = np.random.default_rng(seed + 1).normal(0, 0.5, f.params["b"].shape)
    return g
