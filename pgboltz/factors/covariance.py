"""Covariance factor: gated quadratic energy in Gaussian units (mean-covariance RBM; seed eqs. 31-33).

    E = 1/2 sum_k h_k sum_f P_fk (x . C_f)^2          (Ranzato & Hinton 2010)

with a factor-loading matrix C (n_x, F) and a non-negative pooling matrix P (F, K).
Quadratic in x and linear in h, so both conditionals come out of the factor:

    precision_matrix_x += C diag(P h) C^T            (a full precision per chain: x | h is one Gaussian)
    linear_h           += -1/2 ((x C)^2) @ P

The x block is drawn jointly (batched Cholesky on the backend; see
:class:`pgboltz.units.Gaussian`); the schedule keeps x whole.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from .base import Coupling, Factor, FieldTerm, UnitTerms, matmul_into


class _PrecisionMatrixTerm(FieldTerm):
    slot = "precision_matrix"
    copies_params = False

    def __init__(self, h, C, P, backend, chains):
        self.xp, self.h, self.C, self.P = backend.xp, h, C, P
        self.g = backend.empty((chains, P.shape[0]))

    def __call__(self, states, out, add, rows=slice(None)):
        xp = self.xp
        g = self.g[rows]
        xp.matmul(states[self.h][rows], self.P.T, out=g)  # (rows, F) gate per factor
        m = (self.C[None, :, :] * g[:, None, :]) @ self.C.T  # C diag(g) C^T per chain
        if add:
            out[rows] += m
        else:
            out[rows] = m


class _GateTerm(FieldTerm):
    copies_params = False
    blas = True

    def __init__(self, x, C, P, backend, chains):
        self.xp, self.x, self.C, self.P = backend.xp, x, C, P
        self.proj = backend.empty((chains, C.shape[1]))
        self.scratch = backend.empty((chains, P.shape[1]))

    def __call__(self, states, out, add, rows=slice(None)):
        xp = self.xp
        q = self.proj[rows]
        xp.matmul(states[self.x][rows], self.C, out=q)
        q *= q
        q *= -0.5
        matmul_into(xp, q, self.P, out[rows], add, self.scratch[rows])


class Covariance(Factor):
    kind = "covariance"
    spec_keys = ("groups", "factors")

    def __init__(self, x: str, h: str, C, P, name=None):
        super().__init__((x, h), {"C": C, "P": P}, name)

    def check_params(self):
        x, h = self.groups
        if x == h:
            raise GraphError(f"{self.label}: needs two different groups (Gaussian x, hidden h)")
        if "precision_matrix" not in self.units[x].slots:
            raise GraphError(f"{self.label}: group {x!r} has {self.units[x].name} units; the covariance "
                             "factor is quadratic in x and needs gaussian units there")
        self._expect_binary(h)
        F = self.params["C"].shape[-1] if self.params["C"].ndim == 2 else -1
        self._expect_shape("C", (self.sizes[x], F))
        self._expect_shape("P", (F, self.sizes[h]))
        if np.any(self.params["P"] < 0):
            raise GraphError(f"{self.label}: the pooling matrix P must be non-negative (else the precision "
                             "of x can lose positive definiteness)")

    def couplings(self):
        return [Coupling(*self.groups)]

    def joint_groups(self):
        return [(self.groups[0],)]

    def energy(self, xp, states, params):
        x, h = self.groups
        q = (states[x] @ params["C"]) ** 2
        return 0.5 * ((q @ params["P"]) * states[h]).sum(axis=1)

    def statistics(self, xp, states, weights, params):
        x, h = self.groups
        proj = states[x] @ params["C"]  # (chains, F)
        gate = states[h] @ params["P"].T  # (chains, F)
        return {"C": -((states[x] * weights[:, None]).T @ (proj * gate)),
                "P": -0.5 * ((proj * proj) * weights[:, None]).T @ states[h]}

    def field_terms(self, target, index, params, backend, chains):
        x, h = self.groups
        if index is not None:
            raise GraphError(f"{self.label}: group {target!r} must be updated whole")
        if target == x:
            return [_PrecisionMatrixTerm(h, params["C"], params["P"], backend, chains)]
        if target == h:
            return [_GateTerm(x, params["C"], params["P"], backend, chains)]
        raise GraphError(f"{self.label} does not touch group {target!r}")

    def unit_terms(self):
        x, h = self.groups
        C, P = self.params["C"], self.params["P"]
        W = -0.5 * np.einsum("if,jf,fk->ijk", C, C, P)  # E = -sum W_ijk x_i x_j h_k
        i, j, k = (a.ravel() for a in np.indices(W.shape))
        return UnitTerms().add((x, x, h), (i, j, k), W.ravel())

    def param_role(self, name):
        return "coupling"

    def project(self, xp, params):
        xp.maximum(params["P"], 0.0, out=params["P"])  # keep the precision positive definite

    def filters(self, group):
        """The factor loadings C (n_x, F) onto the Gaussian group."""
        return self.params["C"] if group == self.groups[0] else None

    @classmethod
    def from_spec(cls, spec):
        x, h = spec.groups(2)
        F = spec.get("factors", int, None, "a positive integer (the number of factors F)")
        if F is None or F < 1:
            raise spec.error("factors", "missing (expected a positive integer: the number of factors F)")
        C = spec.param("C", (spec.size(x), F), single=False)
        P = np.abs(spec.param("P", (F, spec.size(h)), single=False))
        return cls(x, h, C, P, name=spec.name)
