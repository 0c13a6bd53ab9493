"""Shift factor: a per-chain bias from another group, unit by unit (an RNN-RBM's emitted biases).

    E = - sum_i x_a[i] x_b[i]        (groups of equal size, no parameters)
    linear_b += x_a,   linear_a += x_b

With ``a`` an input group of ``real`` units, each chain's ``x_a`` is a bias of ``b``
that varies per chain (per time step): an RNN writes it, and the gradient it
receives, ``d(-E)/dx_a = x_b``, is the input group's linear slot.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from .base import Coupling, Factor, FieldTerm, UnitTerms


class _CopyTerm(FieldTerm):
    copies_params = False

    def __init__(self, source, index, backend):
        self.source = source
        self.index = None if index is None else backend.asarray(index, dtype=np.intp)

    def __call__(self, states, out, add, rows=slice(None)):
        x = states[self.source][rows]
        if self.index is not None:
            x = x[:, self.index]
        if add:
            out[rows] += x
        else:
            out[rows] = x


class Shift(Factor):
    kind = "shift"
    multilinear = True
    spec_keys = ("groups",)

    def __init__(self, source: str, target: str, name=None):
        super().__init__((source, target), {}, name)

    def check_params(self):
        a, b = self.groups
        if a == b:
            raise GraphError(f"{self.label}: needs two different groups")
        if self.sizes[a] != self.sizes[b]:
            raise GraphError(f"{self.label}: groups of equal size needed, got {self.sizes[a]} and {self.sizes[b]}")

    def couplings(self):
        i = np.arange(self.sizes[self.groups[0]])
        return [Coupling(*self.groups, i, i)]

    def energy(self, xp, states, params):
        a, b = self.groups
        return -(states[a] * states[b]).sum(axis=1)

    def statistics(self, xp, states, weights, params):
        return {}

    def field_term(self, target, index, params, backend, chains):
        a, b = self.groups
        if target not in self.groups:
            raise GraphError(f"{self.label} does not touch group {target!r}")
        return _CopyTerm(a if target == b else b, index, backend)

    def unit_terms(self):
        i = np.arange(self.sizes[self.groups[0]])
        return UnitTerms().add(self.groups, (i, i), np.ones(len(i)))

    @classmethod
    def from_spec(cls, spec):
        a, b = spec.groups(2)
        return cls(a, b, name=spec.name)
