"""Unit types: how natural parameters become distributions.

Every group holds units of one type. Factors contribute *natural parameters*
``theta`` to a group (the negative derivative of their energy with respect to the
group's units); the unit type alone turns ``theta`` and an inverse temperature
``beta`` into probabilities, means, samples and log-partitions:

    P(x | theta) = exp(beta * theta * x) / Z(beta * theta),   x in support

This is the only place where the shape of a unit's distribution is written down,
so a new unit type (Gaussian with a precision, categorical with an "off" state)
plugs in here without touching factors or samplers.

All functions take the array namespace ``xp`` (NumPy or CuPy) and work on arrays
of any shape. ``sample_`` is the Gibbs hot path: it overwrites its ``theta``
argument (used as scratch) and writes the new states into ``out``; it allocates
nothing.
"""

from __future__ import annotations

import math

import numpy as np


class UnitType:
    """Base class; subclasses define one exponential-family unit."""

    name: str = ""
    #: The finite support as a tuple, or None for continuous units.
    support: tuple | None = None

    def log_partition(self, xp, theta, beta=1.0):
        """log sum_x exp(beta * theta * x), elementwise."""
        raise NotImplementedError

    def mean(self, xp, theta, beta=1.0):
        """E[x | theta], elementwise."""
        raise NotImplementedError

    def mean_square(self, xp, theta, beta=1.0):
        """E[x^2 | theta], elementwise (the diagonal of second moments)."""
        raise NotImplementedError

    def sample_(self, xp, theta, beta, noise, out):
        """Draw x ~ P(x | theta) into ``out`` from uniforms ``noise`` in [0, 1).

        ``theta`` is overwritten. ``out`` may have any float dtype.
        """
        raise NotImplementedError

    def init_states(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Uniformly random states (float64) to start chains from."""
        raise NotImplementedError

    def check_values(self, x: np.ndarray) -> bool:
        """True if every entry of ``x`` lies in the support."""
        if self.support is None:
            return bool(np.all(np.isfinite(x)))
        return bool(np.all(np.isin(x, self.support)))

    def __repr__(self):
        return self.name


class _Binary(UnitType):
    """Two-state units {lo, hi}; P(hi) = sigma(beta * theta * (hi - lo))."""

    lo: float
    hi: float

    @property
    def support(self):
        return (self.lo, self.hi)

    @property
    def gap(self):
        return self.hi - self.lo

    def logit(self, xp, theta, beta=1.0):
        """log P(x=hi) / P(x=lo) = beta * theta * (hi - lo)."""
        return (beta * self.gap) * theta

    def log_partition(self, xp, theta, beta=1.0):
        # log(exp(a lo) + exp(a hi)) = max(a lo, a hi) + log1p(exp(-|a| (hi - lo))), a = beta theta:
        # stable for any |theta|, and ~7x faster than logaddexp.
        a = beta * theta
        return xp.maximum(a * self.lo, a * self.hi) + xp.log1p(xp.exp(-self.gap * xp.abs(a)))

    def prob_hi(self, xp, theta, beta=1.0):
        """P(x = hi | theta) = sigma(logit), via tanh so it never overflows."""
        return 0.5 + 0.5 * xp.tanh(0.5 * self.logit(xp, theta, beta))

    def mean(self, xp, theta, beta=1.0):
        return self.lo + self.gap * self.prob_hi(xp, theta, beta)

    def mean_square(self, xp, theta, beta=1.0):
        p = self.prob_hi(xp, theta, beta)
        return self.lo**2 + (self.hi**2 - self.lo**2) * p

    def sample_(self, xp, theta, beta, noise, out):
        # x = hi  iff  u * (1 + exp(a)) > 1  with u ~ U[0,1), a = logit.
        # P(u > 1/(1+e^a)) = 1 - sigma(-a) = sigma(a). At a = +inf the product is
        # +inf (> 1); at a = -inf it is u (< 1): exact at any field, one exp.
        if np.ndim(beta) or beta * self.gap != 1.0:  # beta may be a (rows, 1) column: one per chain
            xp.multiply(theta, beta * self.gap if np.ndim(beta) == 0 else beta, out=theta)
            if np.ndim(beta) and self.gap != 1.0:
                theta *= self.gap
        xp.exp(theta, out=theta)
        theta += 1.0
        xp.multiply(theta, noise, out=theta)
        xp.greater(theta, 1.0, out=out)
        if self.lo != 0.0 or self.hi != 1.0:
            out *= self.gap
            out += self.lo

    def init_states(self, rng, shape):
        return np.where(rng.random(shape) < 0.5, self.hi, self.lo)


class Bernoulli(_Binary):
    """Units in {0, 1}: P(x=1 | theta) = sigma(beta * theta) (seed eqs. 16-17)."""

    name = "bernoulli"
    lo, hi = 0.0, 1.0


class Spin(_Binary):
    """Units in {-1, +1}: P(s=+1 | theta) = sigma(2 * beta * theta)."""

    name = "spin"
    lo, hi = -1.0, 1.0


UNIT_TYPES = {cls.name: cls() for cls in (Bernoulli, Spin)}


def unit_type(name) -> UnitType:
    """Look up a unit type by name ('bernoulli', 'spin') or pass one through."""
    if isinstance(name, UnitType):
        return name
    try:
        return UNIT_TYPES[str(name).lower()]
    except KeyError:
        known = ", ".join(sorted(UNIT_TYPES))
        raise ValueError(f"unknown unit type {name!r}; known unit types: {known}") from None


def support_size(units: UnitType) -> int:
    """Number of states of one unit (exact inference needs a finite support)."""
    if units.support is None:
        raise ValueError(f"{units.name} units have no finite support")
    return len(units.support)


LOG2 = math.log(2.0)
