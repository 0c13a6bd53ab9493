"""Bias factor: E = - sum_i b_i x_i (the ``-b^T v`` and ``-c^T h`` terms of seed eq. 7)."""

from __future__ import annotations

import numpy as np

from .base import Factor, FieldTerm, UnitTerms


class BiasTerm(FieldTerm):
    copies_params = False
    writes = False

    def __init__(self, b, copies):
        self.b, self.copies_params = b, copies

    def __call__(self, states, out, add, rows=slice(None)):
        if add:
            out[rows] += self.b
        else:
            out[rows] = self.b


class BiasSum(BiasTerm):
    """Several constant terms of one slot (a model's own bias and an AIS base model's, say) as one: their
    vectors added up over the units on every call (they may change in place), then added to the field once.
    Every path -- the array code, a fused kernel that takes the bias, fields given to a draw -- adds this one
    sum, so they all round alike."""

    def __init__(self, terms):
        self.terms = list(terms)
        self.copies_params = any(t.copies_params for t in self.terms)
        self.slot = self.terms[0].slot

    @property
    def b(self):
        total = self.terms[0].b + self.terms[1].b
        for t in self.terms[2:]:
            total += t.b
        return total


class Bias(Factor):
    """Linear term on one group. ``b`` has the group's shape; linear_i += b_i."""

    kind = "bias"
    multilinear = True
    spec_keys = ("group",)

    def __init__(self, group: str, b, name=None):
        super().__init__((group,), {"b": b}, name)

    @property
    def group(self):
        return self.groups[0]

    def check_params(self):
        b = self.params["b"]
        if b.size != self.sizes[self.group]:
            self._expect_shape("b", self.shapes[self.group])
        self.params["b"] = b.reshape(-1)

    def energy(self, xp, states, params):
        return -(states[self.group] @ params["b"])

    def statistics(self, xp, states, weights, params):
        return {"b": weights @ states[self.group]}

    def field_term(self, target, index, params, backend, chains):
        if index is None:
            return BiasTerm(params["b"], False)
        return BiasTerm(params["b"][backend.asarray(index, dtype=np.intp)], True)

    def unit_terms(self):
        n = self.sizes[self.group]
        return UnitTerms().add((self.group,), (np.arange(n),), self.params["b"])

    def param_role(self, name):
        return "bias"

    @classmethod
    def from_spec(cls, spec):
        g = spec.group()
        return cls(g, spec.param("b", spec.shape(g)), name=spec.name)
