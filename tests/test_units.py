"""Unit types: distributions from natural parameters, stable at extreme fields."""

import warnings

import numpy as np
import pytest

from pgboltz.units import Bernoulli, Spin, unit_type


@pytest.mark.parametrize("units", [Bernoulli(), Spin()])
def test_probabilities_match_the_exponential_family(units):
    theta = np.linspace(-3, 3, 13)
    for beta in (1.0, 0.37):
        lo, hi = units.support
        w = np.exp(beta * theta[:, None] * np.array([lo, hi]))
        p_hi = w[:, 1] / w.sum(axis=1)
        assert np.allclose(units.prob_hi(np, theta, beta), p_hi, rtol=0, atol=1e-14)
        assert np.allclose(units.log_partition(np, theta, beta), np.log(w.sum(axis=1)), atol=1e-12)
        assert np.allclose(units.mean(np, theta, beta), lo + (hi - lo) * p_hi, atol=1e-14)
        assert np.allclose(units.mean_square(np, theta, beta), lo**2 * (1 - p_hi) + hi**2 * p_hi, atol=1e-14)


@pytest.mark.parametrize("units", [Bernoulli(), Spin()])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sampling_frequencies(units, dtype):
    # 200k draws per theta: the standard error of a frequency is at most 0.5/sqrt(2e5) = 1.1e-3.
    rng = np.random.default_rng(0)
    theta = np.array([-2.0, -0.5, 0.0, 0.3, 1.7], dtype=dtype)
    n = 200_000
    th = np.broadcast_to(theta, (n, theta.size)).astype(dtype)
    out = np.empty_like(th)
    noise = rng.random(th.shape, dtype=dtype)
    units.sample_(np, th.copy(), 0.8, noise, out)
    assert set(np.unique(out)) <= set(units.support)
    freq = (out == units.support[1]).mean(axis=0)
    p = units.prob_hi(np, theta.astype(np.float64), 0.8)
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) < 4 * se)


@pytest.mark.parametrize("units", [Bernoulli(), Spin()])
def test_extreme_fields_are_exact_and_silent(units):
    theta = np.array([-1e4, -800.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = units.prob_hi(np, theta)
        lz = units.log_partition(np, theta)
    assert np.array_equal(p, [0.0, 0.0, 1.0, 1.0])
    gap = units.support[1] - units.support[0]
    assert np.allclose(lz, np.maximum(theta * units.support[0], theta * units.support[1]), rtol=1e-12)
    assert np.all(np.isfinite(lz)) and gap > 0
    # sampling: exp overflows to inf by design and must still give the right state
    n = 10_000
    th = np.broadcast_to(theta, (n, 4)).copy()
    out = np.empty_like(th)
    with np.errstate(over="ignore", invalid="ignore"):
        units.sample_(np, th, 1.0, np.random.default_rng(1).random(th.shape), out)
    assert np.all(out[:, :2] == units.support[0]) and np.all(out[:, 2:] == units.support[1])


def test_unit_type_lookup():
    assert unit_type("Bernoulli").name == "bernoulli"
    with pytest.raises(ValueError, match="known unit types: bernoulli, gaussian, real, spin"):
        unit_type("gaussian-ish")
