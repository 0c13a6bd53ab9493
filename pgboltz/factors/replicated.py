"""Replicated dense factor: group a is ``copies`` replicas of the same units, all sharing one W.

    E = - sum_{c=1..copies} x_a[c]^T W x_b,   x_a = (x_a[1], ..., x_a[copies]),  W of shape (n_a / copies, n_b)
    linear_b += (sum_c x_a[c]) @ W       -> with the copies equal: P(x_b=1 | x_a) = sigma(copies * x_a[1] @ W + ...)
    linear_a[c] += x_b @ W^T             -> each copy on its own, P(x_a[c] | x_b) as in an RBM

This is the "doubled" RBM of Salakhutdinov & Hinton (2009) for pre-training a deep
Boltzmann machine: given the data copied into every replica the hidden units see
``copies`` times the bottom-up input (standing in for the missing input from the
layer above in the DBM), while each replica's reconstruction uses W once. It is an
ordinary energy model -- the replicas are separate units, independent given x_b --
so training, sampling and exact checks need nothing special.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from .base import Coupling, GemmTerm, UnitTerms, columns
from .dense import Dense


class Replicated(Dense):
    kind = "replicated"
    spec_keys = ("groups", "copies")
    multilinear = True

    def __init__(self, group_a: str, group_b: str, W, copies: int = 2, name=None):
        super().__init__(group_a, group_b, W, name)
        if isinstance(copies, bool) or not isinstance(copies, (int, np.integer)) or copies < 1:
            raise GraphError(f"{self.label}: copies must be a positive integer, got {copies!r}")
        self.copies = int(copies)

    def check_params(self):
        a, b = self.groups
        if a == b:
            raise GraphError(f"{self.label}: a replicated factor couples two different groups")
        if self.sizes[a] % self.copies:
            raise GraphError(f"{self.label}: group {a!r} has {self.sizes[a]} units, not a multiple of "
                             f"copies = {self.copies}")
        self._expect_shape("W", (self.sizes[a] // self.copies, self.sizes[b]))

    @property
    def intra(self) -> bool:
        return False

    def n_parameters(self):
        return int(self.params["W"].size)

    def couplings(self):
        return [Coupling(*self.groups)]

    def _stacked(self, xp, W):
        return xp.concatenate([W] * self.copies, axis=0)

    def energy(self, xp, states, params):
        a, b = self.groups
        return -((states[a] @ self._stacked(xp, params["W"])) * states[b]).sum(axis=1)

    def statistics(self, xp, states, weights, params):
        a, b = self.groups
        s = (states[a] * weights[:, None]).T @ states[b]
        return {"W": s.reshape(self.copies, -1, s.shape[1]).sum(axis=0)}

    def field_term(self, target, index, params, backend, chains):
        a, b = self.groups
        stacked = self._stacked(backend.xp, params["W"])
        if target == b:
            source, m = a, stacked
        elif target == a:
            source, m = b, backend.xp.ascontiguousarray(stacked.T)
        else:
            raise GraphError(f"{self.label} does not touch group {target!r}")
        m = columns(backend, m, index)
        return GemmTerm(source, m, backend, chains, m.shape[1], copies_params=True)

    def unit_terms(self):
        a, b = self.groups
        W = self.params["W"]
        i, j = (x.ravel() for x in np.indices((self.sizes[a], self.sizes[b])))
        return UnitTerms().add((a, b), (i, j), W[i % W.shape[0], j])

    def filters(self, group):
        if group not in self.groups:
            return None
        W = self.params["W"]
        return np.concatenate([W] * self.copies, axis=0) if self.groups[0] == group else W.T

    def describe(self):
        return f"{self.copies} copies of {self.groups[0]!r} share W"

    def structure(self):
        return {"copies": self.copies}

    @classmethod
    def from_spec(cls, spec):
        a, b = spec.groups(2)
        copies = spec.get("copies", int, 2, "a positive integer (replicas of the first group)")
        if copies < 1 or spec.size(a) % copies:
            raise spec.error("copies", f"must be a positive integer dividing the {spec.size(a)} units of {a!r}")
        return cls(a, b, spec.param("W", (spec.size(a) // copies, spec.size(b))), copies, name=spec.name)
