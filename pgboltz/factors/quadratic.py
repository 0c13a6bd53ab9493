"""Quadratic factor: the precision of Gaussian units, with a learned log standard deviation.

    E = sum_i x_i^2 / (2 sigma_i^2),   sigma_i = exp(log_sigma_i)
    precision_i += exp(-2 log_sigma_i)

With a bias (linear slot eta) the unit is N(eta sigma^2, sigma^2) (seed eqs. 29-30);
parameterising by log sigma keeps sigma positive whatever the optimiser does.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from .base import Factor, UnitTerms
from .bias import BiasTerm


class _PrecisionTerm(BiasTerm):
    """precision (+)= exp(-2 log_sigma): a constant per unit, like a bias, in another slot."""

    slot = "precision"

    def __init__(self, log_sigma, index, backend):
        s = log_sigma if index is None else log_sigma[backend.asarray(index, dtype=np.intp)]
        super().__init__(backend.xp.exp(-2.0 * s), True)


class Quadratic(Factor):
    kind = "quadratic"
    spec_keys = ("group", "min_sigma")

    def __init__(self, group: str, log_sigma, min_sigma: float | None = None, name=None):
        super().__init__((group,), {"log_sigma": log_sigma}, name)
        if min_sigma is not None and not (isinstance(min_sigma, (int, float)) and np.isfinite(min_sigma)
                                          and min_sigma > 0):
            raise GraphError(f"{self.label}: min_sigma must be a positive number, got {min_sigma!r}")
        #: a floor on sigma that training keeps (None: none). Units that barely vary in the training data
        #: otherwise shrink sigma towards 0 and give unseen values a vanishing density.
        self.min_sigma = None if min_sigma is None else float(min_sigma)

    @property
    def group(self):
        return self.groups[0]

    def check_params(self):
        if "precision" not in self.units[self.group].slots:
            raise GraphError(f"{self.label}: group {self.group!r} has {self.units[self.group].name} units, "
                             "which have no precision; a quadratic factor needs gaussian units")
        s = self.params["log_sigma"]
        if s.size != self.sizes[self.group]:
            self._expect_shape("log_sigma", self.shapes[self.group])
        self.params["log_sigma"] = s.reshape(-1)
        if self.min_sigma is not None:
            floor = np.log(self.min_sigma)
            # float32 training keeps log_sigma at the float32 number nearest the floor, which can lie just
            # below it: within 1e-6 is the floor itself
            if np.any(self.params["log_sigma"] < floor - 1e-6):
                raise GraphError(f"{self.label}: log_sigma lies below log(min_sigma = {self.min_sigma:g}) somewhere")
            np.maximum(self.params["log_sigma"], floor, out=self.params["log_sigma"])

    def project(self, xp, params):
        if self.min_sigma is not None:
            xp.maximum(params["log_sigma"], np.log(self.min_sigma), out=params["log_sigma"])

    def structure(self):
        return {} if self.min_sigma is None else {"min_sigma": self.min_sigma}

    def describe(self):
        return "" if self.min_sigma is None else f"sigma >= {self.min_sigma:g}"

    def energy(self, xp, states, params):
        x = states[self.group]
        return 0.5 * ((x * x) @ xp.exp(-2.0 * params["log_sigma"]))

    def statistics(self, xp, states, weights, params):
        x = states[self.group]  # -dE/d log_sigma_i = exp(-2 log_sigma_i) x_i^2
        return {"log_sigma": xp.exp(-2.0 * params["log_sigma"]) * (weights @ (x * x))}

    def field_term(self, target, index, params, backend, chains):
        return _PrecisionTerm(params["log_sigma"], index, backend)

    def unit_terms(self):
        n = self.sizes[self.group]
        i = np.arange(n)
        return UnitTerms().add((self.group, self.group), (i, i), -0.5 * np.exp(-2.0 * self.params["log_sigma"]))

    def param_role(self, name):
        return "variance"

    def lr_scale(self, name):
        return 0.1  # variances move slowly (Hinton's practical guide, section 13.2)

    @classmethod
    def from_spec(cls, spec):
        g = spec.group()
        floor = spec.get("min_sigma", (int, float), None, "a positive number (a floor on sigma kept in training)")
        if floor is not None and not floor > 0:
            raise spec.error("min_sigma", f"must be a positive number, got {floor!r}")
        return cls(g, spec.param("log_sigma", spec.shape(g)), floor, name=spec.name)
