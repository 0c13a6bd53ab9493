"""Dense pairwise factor, between two groups or within one.

Between groups a != b (the RBM coupling, seed eq. 7):

    E = - x_a^T W x_b,   W of shape (n_a, n_b)
    linear_b += x_a @ W          -> P(h_j=1|v) = sigma(c_j + v^T W[:, j])   (seed eq. 16)
    linear_a += x_b @ W^T        -> P(v_i=1|h) = sigma(b_i + W[i, :] h)     (seed eq. 17)

Within one group (the lateral couplings of a general Boltzmann machine, seed eq. 5):

    E = - 1/2 x^T W x = - sum_{i<j} W_ij x_i x_j,   W symmetric with zero diagonal
    linear += x @ W

The seed writes the general BM as ``E = -x^T W x - b^T x`` with each pair counted
once, i.e. with an upper-triangular ``W``; our symmetric ``W`` is that matrix plus
its transpose, so both describe the same energy.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from .base import Coupling, Factor, GemmTerm, UnitTerms, columns


def _sym(a):
    u = np.triu(a, k=1)
    return u + u.T


class Dense(Factor):
    kind = "dense"
    multilinear = True
    spec_keys = ("groups",)

    def __init__(self, group_a: str, group_b: str, W, name=None):
        super().__init__((group_a, group_b), {"W": W}, name)

    @property
    def intra(self) -> bool:
        return self.groups[0] == self.groups[1]

    def check_params(self):
        a, b = self.groups
        self._expect_shape("W", (self.sizes[a], self.sizes[b]))
        W = self.params["W"]
        if self.intra:
            if np.any(np.diag(W) != 0):
                raise GraphError(
                    f"{self.label}: W has non-zero diagonal entries (self-loops); a unit cannot couple to itself "
                    "-- put single-unit terms in a bias factor"
                )
            if not np.allclose(W, W.T, rtol=0, atol=1e-12 * max(1.0, float(np.abs(W).max(initial=0)))):
                raise GraphError(f"{self.label}: W must be symmetric for couplings within one group")
            self.params["W"] = 0.5 * (W + W.T)

    def n_parameters(self):
        n_a, n_b = (self.sizes[g] for g in self.groups)
        return n_a * (n_a - 1) // 2 if self.intra else n_a * n_b

    def couplings(self):
        return [Coupling(*self.groups)]

    def energy(self, xp, states, params):
        a, b = self.groups
        e = ((states[a] @ params["W"]) * states[b]).sum(axis=1)
        return -0.5 * e if self.intra else -e

    def statistics(self, xp, states, weights, params):
        a, b = self.groups
        s = (states[a] * weights[:, None]).T @ states[b]
        if self.intra:  # each pair once, as W_ij = W_ji is one parameter; no self-couplings
            s = s - xp.diag(xp.diag(s))
        return {"W": s}

    def field_term(self, target, index, params, backend, chains):
        a, b = self.groups
        W = params["W"]
        if target == b:  # linear_b = x_a @ W   (also the intra case: W symmetric)
            source, m = a, W
        elif target == a:  # linear_a = x_b @ W^T
            source, m = b, W.T
        else:
            raise GraphError(f"{self.label} does not touch group {target!r}")
        m = columns(backend, m, index)
        return GemmTerm(source, m, backend, chains, m.shape[1], copies_params=index is not None)

    def unit_terms(self):
        a, b = self.groups
        W = self.params["W"]
        if self.intra:
            i, j = np.triu_indices(W.shape[0], k=1)
        else:
            i, j = (x.ravel() for x in np.indices(W.shape))
        return UnitTerms().add((a, b), (i, j), W[i, j])

    def filters(self, group):
        if self.intra or group not in self.groups:
            return None
        return self.params["W"] if self.groups[0] == group else self.params["W"].T

    @classmethod
    def from_spec(cls, spec):
        a, b = spec.groups(2)
        W = spec.param("W", (spec.size(a), spec.size(b)))
        if a == b and spec.broadcast("W"):
            W = _sym(W)  # a draw or one number: the upper triangle, mirrored, with a zero diagonal
        return cls(a, b, W, name=spec.name)
