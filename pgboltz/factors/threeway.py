"""Factored three-way factor between three groups (gated interactions; the RNN-RBM's weight modulation).

    E = - sum_f (x_a U)_f (x_b V)_f (x_c Z)_f  =  - sum_{ijk} W_ijk a_i b_j c_k,   W_ijk = sum_f U_if V_jf Z_kf

with U (n_a, F), V (n_b, F), Z (n_c, F). Multilinear in each group, so each group's
conditional is a GEMM of the other two groups' factor projections:

    linear_a += ((x_b V) * (x_c Z)) @ U^T     (and cyclically for b and c)

Given c, the factor is an RBM coupling with weights ``U diag(x_c Z) V^T`` -- e.g. the
modulated weights ``W(t) = A diag(g(t)) B`` of a factored RNN-RBM.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from .base import Coupling, Factor, FieldTerm, UnitTerms, matmul_into

_KEYS = ("U", "V", "Z")


class _ThreeWayTerm(FieldTerm):
    copies_params = False
    blas = True

    def __init__(self, target_matrix, others, backend, chains, index):
        xp = backend.xp
        self.xp, self.others = xp, others  # [(group, matrix), (group, matrix)]
        m = target_matrix if index is None else target_matrix[backend.asarray(index, dtype=np.intp)]
        self.copies_params = index is not None
        self.mT = m.T
        F = m.shape[1]
        self.p, self.q = backend.empty((chains, F)), backend.empty((chains, F))
        self.scratch = backend.empty((chains, m.shape[0]))

    def __call__(self, states, out, add, rows=slice(None)):
        xp = self.xp
        (g1, m1), (g2, m2) = self.others
        p, q = self.p[rows], self.q[rows]
        xp.matmul(states[g1][rows], m1, out=p)
        xp.matmul(states[g2][rows], m2, out=q)
        p *= q
        matmul_into(xp, p, self.mT, out[rows], add, self.scratch[rows])


class ThreeWay(Factor):
    kind = "threeway"
    multilinear = True  # three different groups, each entering linearly
    spec_keys = ("groups", "factors")

    def __init__(self, group_a, group_b, group_c, U, V, Z, name=None):
        super().__init__((group_a, group_b, group_c), {"U": U, "V": V, "Z": Z}, name)

    def check_params(self):
        if len(set(self.groups)) != 3:
            raise GraphError(f"{self.label}: a three-way factor needs three different groups")
        F = self.params["U"].shape[-1] if self.params["U"].ndim == 2 else -1
        for g, k in zip(self.groups, _KEYS):
            self._expect_shape(k, (self.sizes[g], F))

    def couplings(self):
        a, b, c = self.groups
        return [Coupling(a, b), Coupling(a, c), Coupling(b, c)]

    def _proj(self, states, params):
        return [states[g] @ params[k] for g, k in zip(self.groups, _KEYS)]

    def energy(self, xp, states, params):
        pa, pb, pc = self._proj(states, params)
        return -(pa * pb * pc).sum(axis=1)

    def statistics(self, xp, states, weights, params):
        proj = self._proj(states, params)
        out = {}
        for n, (g, k) in enumerate(zip(self.groups, _KEYS)):
            rest = proj[(n + 1) % 3] * proj[(n + 2) % 3]
            out[k] = (states[g] * weights[:, None]).T @ rest
        return out

    def field_term(self, target, index, params, backend, chains):
        if target not in self.groups:
            raise GraphError(f"{self.label} does not touch group {target!r}")
        n = self.groups.index(target)
        others = [(self.groups[(n + d) % 3], params[_KEYS[(n + d) % 3]]) for d in (1, 2)]
        return _ThreeWayTerm(params[_KEYS[n]], others, backend, chains, index)

    def unit_terms(self):
        U, V, Z = (self.params[k] for k in _KEYS)
        W = np.einsum("if,jf,kf->ijk", U, V, Z)
        i, j, k = (x.ravel() for x in np.indices(W.shape))
        return UnitTerms().add(self.groups, (i, j, k), W.ravel())

    @classmethod
    def from_spec(cls, spec):
        a, b, c = spec.groups(3)
        F = spec.get("factors", int, None, "a positive integer (the number of factors F)")
        if F is None or F < 1:
            raise spec.error("factors", "missing (expected a positive integer: the number of factors F)")
        U = spec.param("U", (spec.size(a), F), single=False)
        V = spec.param("V", (spec.size(b), F), single=False)
        Z = spec.param("Z", (spec.size(c), F), single=False)
        return cls(a, b, c, U, V, Z, name=spec.name)
