"""Unit types: how a unit's natural parameters become a distribution, and everything about its domain.

Every group holds units of one type. Factors contribute to named **slots** of
the natural parameters of the units they touch (see :mod:`pgboltz.factors`);
the unit type alone turns those slots and an inverse temperature ``beta`` into
probabilities, means, samples and log-partitions:

| type      | support   | slots                 | P(x | slots)                                     |
|-----------|-----------|-----------------------|--------------------------------------------------|
| bernoulli | {0, 1}    | linear                | exp(beta * linear * x) / Z  (seed eqs. 16-17)     |
| spin      | {-1, +1}  | linear                | exp(beta * linear * x) / Z                        |
| gaussian  | reals     | linear, precision     | exp(beta * (linear * x - precision * x^2 / 2)) / Z|
| real      | reals     | linear                | none: inputs only, never drawn                    |

so a Gaussian unit is N(linear / precision, 1 / (beta * precision)) (seed eq. 29).
A slot's value is ``-dE/d(statistic)``: ``linear`` pairs with x and
``precision`` with ``-x^2 / 2``. A *field* is a dict ``{slot: array}``; a bare
array is read as ``{"linear": array}``, so binary code stays short.

Unit types also own their domain, so that nothing else in pgboltz assumes {0, 1}:
data checks (:meth:`UnitType.validate`), the dtype samples are stored in, the
finite support that exact inference enumerates, uniform starting states, and
the independent *base-rate* model that AIS starts from.

All functions take the array namespace ``xp`` (NumPy or CuPy). ``sample_`` is
the Gibbs hot path: it may overwrite the field's slots (scratch) and writes the
new states into ``out``; it allocates nothing.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import DataError

LOG2 = math.log(2.0)
LOG_2PI = math.log(2.0 * math.pi)


def linear(field):
    """The ``linear`` slot of a field (a bare array is its own linear slot)."""
    return field["linear"] if isinstance(field, dict) else field


class UnitType:
    """Base class; subclasses define one exponential-family unit."""

    name: str = ""
    #: the finite support as a tuple, or None for continuous units
    support: tuple | None = None
    #: slots of the natural parameters this type reads (others are refused at compile time)
    slots: tuple = ("linear",)
    #: which random numbers ``sample_`` consumes: ``"uniform"`` in [0, 1) or ``"normal"``
    noise: str = "uniform"
    #: dtype of recorded samples (exact for the support)
    storage_dtype = np.float32

    # -- the distribution ------------------------------------------------------
    def log_partition(self, xp, field, beta=1.0):
        """log of the normaliser of P(x | field) at ``beta``, elementwise."""
        raise NotImplementedError

    def log_partition_total(self, xp, field, beta=1.0):
        """log normaliser of a whole group, per chain: ``(chains,)`` (a joint Gaussian is not elementwise)."""
        return self.log_partition(xp, field, beta).sum(axis=1)

    def check_slots(self, present, where: str) -> None:
        """Raise ValueError if the slots factors contribute (``present``) cannot define a distribution."""
        extra = set(present) - set(self.slots)
        if extra:
            raise ValueError(f"{where}: {self.name} units have no {', '.join(sorted(extra))} slot; "
                             f"the factors touching them do not fit this unit type")

    def mean(self, xp, field, beta=1.0):
        """E[x | field], elementwise."""
        raise NotImplementedError

    def mean_square(self, xp, field, beta=1.0):
        """E[x^2 | field], elementwise."""
        raise NotImplementedError

    def sample_(self, xp, field, beta, noise, out):
        """Draw x ~ P(x | field) into ``out`` from ``noise`` (see :attr:`noise`); may overwrite the field."""
        raise NotImplementedError

    def log_prob(self, xp, x, field):
        """log P(x | field) elementwise, for units whose only slot is linear: theta x - A(theta)."""
        return linear(field) * x - self.log_partition(xp, field)

    def entropy(self, xp, mean):
        """Entropy of a unit of this type with mean ``mean`` (two-state units only: their mean fixes them)."""
        raise ValueError(f"{self.name} units are not fixed by their mean; a factorised bound needs two-state units")

    def field_of_mean(self, xp, mean):
        raise ValueError(f"{self.name} units are not fixed by their mean; a factorised bound needs two-state units")

    def log_prob_states(self, xp, field, beta=1.0):
        """log P(x = s | field) for every state s of the finite support: shape ``(..., len(support))``."""
        if self.support is None:
            raise ValueError(f"{self.name} units have no finite support")
        theta = linear(field)
        s = xp.asarray(np.asarray(self.support, dtype=np.float64))
        return beta * theta[..., None] * s - self.log_partition(xp, field, beta)[..., None]

    # -- the domain ------------------------------------------------------------
    def init_states(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Random starting states (float64)."""
        raise NotImplementedError

    def check_values(self, x: np.ndarray, expectations: bool = False) -> bool:
        """True if every entry of ``x`` lies in the support (or, with ``expectations``, its convex hull)."""
        if self.support is None:
            return bool(np.all(np.isfinite(x)))
        if expectations:
            return bool(np.all((x >= min(self.support)) & (x <= max(self.support))))
        return bool(np.all(np.isin(x, self.support)))

    def validate(self, x: np.ndarray, what: str, group: str, expectations: bool = False) -> None:
        """Raise :class:`DataError` naming the first bad value unless :meth:`check_values` holds."""
        if self.check_values(x, expectations):
            return
        if self.support is None:
            bad = x[~np.isfinite(x)]
            raise DataError(f"{what}: group {group!r} has {self.name} units, whose values must be finite; "
                            f"found {float(bad.ravel()[0]):g}")
        lo, hi = min(self.support), max(self.support)
        bad = x[~((x >= lo) & (x <= hi))] if expectations else x[~np.isin(x, self.support)]
        allowed = f"in [{lo:g}, {hi:g}]" if expectations else " or ".join(f"{v:g}" for v in self.support)
        raise DataError(f"{what}: group {group!r} has {self.name} units, whose values must be {allowed}; "
                        f"found {float(bad.ravel()[0]):g} ({self.fix_hint})")

    fix_hint = "binarise the data first, e.g. x > 0.5"

    def from_unit_interval(self, x: np.ndarray) -> np.ndarray:
        """Map data in {0, 1} (binarised images) onto this type's values."""
        raise DataError(f"{self.name} units cannot take binarised data; load real-valued data for them")

    def base_rate(self, x: np.ndarray | None, smoothing: float = 1.0, size: int | None = None) -> dict:
        """Natural parameters (host field) of independent units fitted to data ``x`` of shape
        ``(n, units)``; with ``x=None``, the type's reference distribution for ``size`` units
        (uniform over a finite support, standard normal for Gaussian units)."""
        raise NotImplementedError

    def slot_shape(self, slot: str, chains: int, n: int) -> tuple:
        """Shape of a slot's buffer for ``n`` units: ``(chains, n)`` unless the type says otherwise."""
        return (chains, n)

    def sample_host(self, rng: np.random.Generator, field: dict, shape) -> np.ndarray:
        """Exact host samples of independent units with natural parameters ``field`` (for AIS bases)."""
        raise NotImplementedError

    def __repr__(self):
        return self.name


class _Binary(UnitType):
    """Two-state units {lo, hi}; P(hi) = sigma(beta * theta * (hi - lo))."""

    lo: float
    hi: float
    storage_dtype = np.int8

    @property
    def support(self):
        return (self.lo, self.hi)

    @property
    def gap(self):
        return self.hi - self.lo

    def logit(self, xp, theta, beta=1.0):
        """log P(x=hi) / P(x=lo) = beta * theta * (hi - lo)."""
        return (beta * self.gap) * linear(theta)

    def log_partition(self, xp, field, beta=1.0):
        # log(exp(a lo) + exp(a hi)) = max(a lo, a hi) + log1p(exp(-|a| (hi - lo))), a = beta theta:
        # stable for any |theta|, and ~7x faster than logaddexp.
        a = beta * linear(field)
        return xp.maximum(a * self.lo, a * self.hi) + xp.log1p(xp.exp(-self.gap * xp.abs(a)))

    def prob_hi(self, xp, field, beta=1.0):
        """P(x = hi | theta) = sigma(logit), via tanh so it never overflows."""
        return 0.5 + 0.5 * xp.tanh(0.5 * self.logit(xp, field, beta))

    def mean(self, xp, field, beta=1.0):
        return self.lo + self.gap * self.prob_hi(xp, field, beta)

    def mean_square(self, xp, field, beta=1.0):
        p = self.prob_hi(xp, field, beta)
        return self.lo**2 + (self.hi**2 - self.lo**2) * p

    def sample_(self, xp, field, beta, noise, out):
        # x = hi  iff  u * (1 + exp(a)) > 1  with u ~ U[0,1), a = logit.
        # P(u > 1/(1+e^a)) = 1 - sigma(-a) = sigma(a). At a = +inf the product is
        # +inf (> 1); at a = -inf it is u (< 1): exact at any field, one exp.
        theta = linear(field)
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

    def field_of_mean(self, xp, mean):
        """The natural parameter whose mean is ``mean`` (a factorised q's units, given by their means)."""
        p = xp.clip((mean - self.lo) / self.gap, 1e-12, 1 - 1e-12)
        return {"linear": (xp.log(p) - xp.log1p(-p)) / self.gap}

    def entropy(self, xp, mean):
        """Entropy of one unit with mean ``mean``, in nats (elementwise)."""
        p = xp.clip((mean - self.lo) / self.gap, 0.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -(xp.where(p > 0, p * xp.log(p), 0.0) + xp.where(p < 1, (1 - p) * xp.log1p(-p), 0.0))
        return h

    def from_unit_interval(self, x):
        return self.lo + self.gap * np.asarray(x, dtype=np.float64)

    def base_rate(self, x, smoothing=1.0, size=None):
        if x is None:
            return {"linear": np.zeros(size)}  # uniform
        x = np.asarray(x, dtype=np.float64)
        p = ((x == self.hi).sum(axis=0) + smoothing) / (x.shape[0] + 2 * smoothing)
        return {"linear": np.log(p / (1 - p)) / self.gap}  # P(hi) = sigma(theta * (hi - lo))

    def sample_host(self, rng, field, shape):
        return np.where(rng.random(shape) < self.prob_hi(np, linear(field)), self.hi, self.lo)


class Bernoulli(_Binary):
    """Units in {0, 1}: P(x=1 | theta) = sigma(beta * theta) (seed eqs. 16-17)."""

    name = "bernoulli"
    lo, hi = 0.0, 1.0


class Spin(_Binary):
    """Units in {-1, +1}: P(s=+1 | theta) = sigma(2 * beta * theta)."""

    name = "spin"
    lo, hi = -1.0, 1.0


class Gaussian(UnitType):
    """Real-valued units: P(x | eta, lam) ∝ exp(beta * (eta x - lam x^2 / 2)) = N(eta / lam, 1 / (beta lam)).

    ``eta`` is the ``linear`` slot and ``lam`` the ``precision`` slot; a factor such as
    :class:`~pgboltz.factors.Quadratic` must contribute a positive precision (seed eqs. 29-30).
    When a factor contributes a ``precision_matrix`` (``(chains, n, n)``, the mean-covariance
    RBM's covariance factor), the group is one joint Gaussian per chain,

        x ~ N(Lam^-1 eta, (beta Lam)^-1),   Lam = precision_matrix + diag(precision),

    drawn exactly with a batched Cholesky factorisation Lam = L L^T: x = mean + L^-T z / sqrt(beta).
    """

    name = "gaussian"
    support = None
    slots = ("linear", "precision", "precision_matrix")
    noise = "normal"
    storage_dtype = np.float32
    fix_hint = "standardise the data and remove missing values"

    def slot_shape(self, slot, chains, n):
        return (chains, n, n) if slot == "precision_matrix" else (chains, n)

    def check_slots(self, present, where):
        super().check_slots(present, where)
        if "precision" not in present and "precision_matrix" not in present:
            raise ValueError(f"{where}: gaussian units need a precision: add a quadratic factor "
                             "(E = x^2 / (2 sigma^2)) or a covariance factor to the group")

    @staticmethod
    def _parts(field):
        if not isinstance(field, dict):
            raise ValueError("Gaussian units need a precision slot (add a quadratic factor to the group)")
        return field["linear"], field.get("precision"), field.get("precision_matrix")

    @staticmethod
    def _joint(xp, lam, M):
        """Lam = M + diag(lam), (rows, n, n)."""
        if lam is None:
            return M
        A = M.copy()
        n = A.shape[-1]
        idx = xp.arange(n)
        A[:, idx, idx] += lam
        return A

    def log_partition(self, xp, field, beta=1.0):
        # log ∫ exp(beta (eta x - lam x^2/2)) dx = beta eta^2 / (2 lam) + log(2 pi / (beta lam)) / 2
        eta, lam, M = self._parts(field)
        if M is not None:
            raise ValueError("a joint Gaussian block has no per-unit log-partition; use log_partition_total")
        return 0.5 * beta * eta * eta / lam + 0.5 * (LOG_2PI - xp.log(beta * lam))

    def log_partition_total(self, xp, field, beta=1.0):
        eta, lam, M = self._parts(field)
        if M is None:
            return self.log_partition(xp, field, beta).sum(axis=1)
        A = self._joint(xp, lam, M)
        L = xp.linalg.cholesky(A)
        mu = xp.linalg.solve(A, eta[:, :, None])[:, :, 0]
        n = eta.shape[1]
        b = beta.reshape(-1) if np.ndim(beta) else float(beta)  # a per-chain column stays on the device
        log_b = xp.log(b) if np.ndim(beta) else math.log(b)
        logdet = 2.0 * xp.log(xp.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        return 0.5 * b * (eta * mu).sum(axis=1) + 0.5 * n * LOG_2PI - 0.5 * (n * log_b + logdet)

    def mean(self, xp, field, beta=1.0):
        eta, lam, M = self._parts(field)
        if M is None:
            return eta / lam
        return xp.linalg.solve(self._joint(xp, lam, M), eta[:, :, None])[:, :, 0]

    def mean_square(self, xp, field, beta=1.0):
        eta, lam, M = self._parts(field)
        if M is None:
            return (eta / lam) ** 2 + 1.0 / (beta * lam)
        A = self._joint(xp, lam, M)
        cov = xp.linalg.inv(A)
        return self.mean(xp, field, beta) ** 2 + xp.diagonal(cov, axis1=1, axis2=2) / beta

    def sample_(self, xp, field, beta, noise, out):
        eta, lam, M = self._parts(field)
        if M is not None:
            A = self._joint(xp, lam, M)
            L = xp.linalg.cholesky(A)
            mu = xp.linalg.solve(A, eta[:, :, None])[:, :, 0]
            y = xp.linalg.solve(xp.swapaxes(L, 1, 2), noise[:, :, None])[:, :, 0]  # covariance L^-T L^-1 = A^-1
            out[...] = mu + y / (beta ** 0.5)
            return
        xp.divide(eta, lam, out=out)  # the mean
        # noise ~ N(0, 1): x = mean + noise / sqrt(beta lam); lam is scratch from here on
        lam *= beta
        xp.sqrt(lam, out=lam)
        xp.divide(noise, lam, out=lam)
        out += lam

    def init_states(self, rng, shape):
        return rng.standard_normal(shape)

    def base_rate(self, x, smoothing=1.0, size=None):
        """Independent N(mu_i, s_i^2) fitted to the data (N(0, 1) without data): eta = mu/s^2, lam = 1/s^2."""
        if x is None:
            return {"linear": np.zeros(size), "precision": np.ones(size)}
        x = np.asarray(x, dtype=np.float64)
        var = x.var(axis=0) + 1e-6 * smoothing
        return {"linear": x.mean(axis=0) / var, "precision": 1.0 / var}

    def sample_host(self, rng, field, shape):
        return field["linear"] / field["precision"] + rng.standard_normal(shape) / np.sqrt(field["precision"])


class Real(UnitType):
    """Real-valued *inputs* (role ``input``): conditioning values that are never drawn, e.g. the
    biases an RNN emits for an RNN-RBM. They have a linear slot (the gradient ``-dE/dx`` a model
    feeding them receives) but no distribution of their own."""

    name = "real"
    support = None
    fix_hint = "inputs must be finite numbers"

    def _refuse(self, *args, **kw):
        raise ValueError("real units are inputs: they are clamped, never sampled or summed out")

    log_partition = mean = mean_square = sample_ = _refuse

    def init_states(self, rng, shape):
        return np.zeros(shape)

    def base_rate(self, x, smoothing=1.0, size=None):
        self._refuse()


UNIT_TYPES = {cls.name: cls() for cls in (Bernoulli, Spin, Gaussian, Real)}


def unit_type(name) -> UnitType:
    """Look up a unit type by name ('bernoulli', 'spin', 'gaussian', 'real') or pass one through."""
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
        raise ValueError(f"{units.name} units have no finite support; exact inference enumerates finite supports only")
    return len(units.support)
