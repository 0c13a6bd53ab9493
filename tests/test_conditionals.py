"""Derived conditionals against pgmpy's exact conditionals and against the energy."""

import warnings

import numpy as np
import pytest

from pgboltz.conditionals import conditional_logit, conditional_prob, natural_parameters
from pgboltz.exact import PgmpyOracle
from pgboltz.graph.spec import load_spec
from pgboltz.models import ising, rbm
from pgboltz.verify import check_conditionals, check_energy_differences

from .builders import GRAPH_BUILDERS, random_rbm
from .conftest import GRAPHS, SMALL_SPECS


@pytest.mark.parametrize("name", list(GRAPH_BUILDERS))
def test_derived_conditionals_equal_pgmpy(name):
    g = GRAPH_BUILDERS[name]()
    oracle = PgmpyOracle(g)
    assert check_conditionals(g, oracle, n_states=3, seed=1) < 1e-9


@pytest.mark.parametrize("spec", SMALL_SPECS)
def test_derived_conditionals_equal_pgmpy_for_every_small_spec(spec):
    g = load_spec(GRAPHS / f"{spec}.toml")
    assert check_conditionals(g, PgmpyOracle(g), n_states=3, seed=2) < 1e-9


def test_conditionals_at_another_temperature_equal_pgmpy():
    g = GRAPH_BUILDERS["mixed"]()
    assert check_conditionals(g, PgmpyOracle(g, beta=0.4), n_states=3, seed=3, beta=0.4) < 1e-9


@pytest.mark.parametrize("name", list(GRAPH_BUILDERS))
def test_logit_equals_energy_difference(name):
    g = GRAPH_BUILDERS[name]()
    assert check_energy_differences(g, n_states=8, seed=7) < 1e-9
    assert check_energy_differences(g, n_states=4, seed=8, beta=2.5) < 1e-9


def test_rbm_conditionals_are_the_seed_equations(rng):
    """P(h_j=1|v) = sigma(c_j + v^T W[:, j]) and P(v_i=1|h) = sigma(b_i + W[i, :] h) -- derived, not typed in."""
    g = random_rbm(2)
    W, b, c = (f.params[k] for f, k in zip(g.factors, ("W", "b", "b")))
    v = (rng.random((6, 7)) < 0.5).astype(float)
    h = (rng.random((6, 5)) < 0.5).astype(float)
    sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
    states = {"v": v, "h": h}
    assert np.allclose(conditional_prob(g, states, "h"), sig(c + v @ W), atol=1e-14)
    assert np.allclose(conditional_prob(g, states, "v"), sig(b + h @ W.T), atol=1e-14)


def test_natural_parameters_for_a_subset_of_units_match_the_full_field(rng):
    g = GRAPH_BUILDERS["mixed"]()
    states = {n: grp.units.init_states(rng, (4,) + grp.shape) for n, grp in g.groups.items()}
    full = natural_parameters(g, states, "s")
    idx = np.array([1, 3, 4])
    assert np.allclose(natural_parameters(g, states, "s", idx), full[:, idx], atol=1e-14)
    gi = ising(4, 4, J=0.5)
    si = {"s": np.where(rng.random((3, 4, 4)) < 0.5, -1.0, 1.0)}
    idx = np.array([0, 5, 10, 15, 2])
    assert np.allclose(natural_parameters(gi, si, "s", idx), natural_parameters(gi, si, "s")[:, idx])


def test_conditionals_are_stable_for_huge_fields():
    W = np.array([[1e4, -1e4], [5e3, 0.0], [-2e4, 1.0]])
    g = rbm(3, 2, W=W, b=np.zeros(3), c=np.zeros(2))
    v = np.array([[1.0, 0, 0], [0, 0, 1], [1, 1, 1]])
    states = {"v": v, "h": np.zeros((3, 2))}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        p = conditional_prob(g, states, "h")
        logit = conditional_logit(g, states, "h")
    # fields: [1e4, -1e4], [-2e4, 1], [-5e3, -9999]
    assert np.array_equal(logit, v @ W)
    sigma1 = 1 / (1 + np.exp(-1.0))
    assert np.allclose(p, [[1.0, 0.0], [0.0, sigma1], [0.0, 0.0]], rtol=0, atol=1e-15)
