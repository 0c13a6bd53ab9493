"""Directed logistic factor: a conditional probability table P(child | parent) (a DBN's lower layers).

    P(child | parent) = prod_i exp(theta_i x_i) / Z(theta_i),   theta = b + parent @ W
    for Bernoulli children: P(x_i = 1 | parent) = sigma(b_i + W[:, i]^T parent)   (seed eqs. 19-21)

Its "energy" is ``-log P(child | parent)`` -- not multilinear in the parent, so it
gives the *child's* conditional only (``linear += b + parent @ W``). The block
schedule therefore samples the child after its parent (ancestral order), and the
parent's own conditional comes from the undirected part of the model. Because the
table is normalised, the joint ``exp(-E)`` of the whole graph still sums to the
undirected part's partition function, so exact inference works unchanged.

A DBN built from a stack of RBMs also keeps the RBMs' *recognition* biases ``c``
(one per parent unit): the up-pass ``q(parent = 1 | child) = sigma(c + W child)`` of
Hinton, Osindero & Teh (2006), which the variational bound on log p(v) uses
(:func:`pgboltz.estimators.dbn_bound`). ``c`` is not part of the energy or the gradient.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import GraphError, TooLargeError
from .base import Factor, GemmTerm, UnitTerms
from .bias import BiasTerm

#: parents per child unit above which the unit-level table (2^fan-in entries) is refused
MAX_FAN_IN = 20


class Directed(Factor):
    kind = "directed"
    directed = True
    spec_keys = ("groups",)

    def __init__(self, parent: str, child: str, W, b, c=None, name=None):
        W = np.asarray(W, dtype=np.float64)
        c = np.zeros(W.shape[0] if W.ndim == 2 else 0) if c is None else c
        super().__init__((parent, child), {"W": W, "b": b, "c": c}, name)

    @property
    def parent(self):
        return self.groups[0]

    @property
    def child(self):
        return self.groups[1]

    def children(self):
        return (self.child,)

    def contributes_to(self, group):
        return group == self.child

    def check_params(self):
        if self.parent == self.child:
            raise GraphError(f"{self.label}: a directed factor needs two different groups (parent, child)")
        self._expect_binary(self.child)
        self._expect_shape("W", (self.sizes[self.parent], self.sizes[self.child]))
        b = self.params["b"]
        if b.size != self.sizes[self.child]:
            self._expect_shape("b", self.shapes[self.child])
        self.params["b"] = b.reshape(-1)
        self._expect_shape("c", (self.sizes[self.parent],))

    def n_parameters(self):
        return int(self.params["W"].size + self.params["b"].size)  # c is the up-pass's, not the model's

    def recognition(self, xp, child_states, params=None):
        """The up-pass's natural parameters of the parent given the child: ``c + child @ W^T``."""
        p = self.params if params is None else params
        return {"linear": child_states @ p["W"].T + p["c"]}
    def _theta(self, states, params):
        return states[self.parent] @ params["W"] + params["b"]

    def energy(self, xp, states, params):
        theta = self._theta(states, params)
        units = self.units[self.child]
        return -((theta * states[self.child]).sum(axis=1) - units.log_partition(xp, theta).sum(axis=1))

    def statistics(self, xp, states, weights, params):
        # -dE/dtheta = x - E[x | theta]: the delta rule of a sigmoid belief net
        delta = states[self.child] - self.units[self.child].mean(xp, self._theta(states, params))
        return {"W": (states[self.parent] * weights[:, None]).T @ delta, "b": weights @ delta}

    def field_terms(self, target, index, params, backend, chains):
        if target != self.child:
            raise GraphError(f"{self.label} gives the conditional of its child {self.child!r} only")
        from .base import columns

        m = columns(backend, params["W"], index)
        b = params["b"] if index is None else params["b"][backend.asarray(index, dtype=np.intp)]
        return [GemmTerm(self.parent, m, backend, chains, m.shape[1], copies_params=index is not None),
                BiasTerm(b, index is not None)]

    def unit_terms(self):
        n_p = self.sizes[self.parent]
        if n_p > MAX_FAN_IN:
            raise TooLargeError(f"{self.label}: each child unit's table would have 2^{n_p + 1} entries "
                                f"(limit 2^{MAX_FAN_IN + 1}); exact checks need smaller parent layers")
        pu, cu = self.units[self.parent], self.units[self.child]
        parents = np.array(list(itertools.product(pu.support, repeat=n_p)), dtype=np.float64).reshape(-1, n_p)
        theta = parents @ self.params["W"] + self.params["b"]  # (parent states, n_child)
        log_p = cu.log_prob_states(np, theta)  # (parent states, n_child, child states)
        terms = UnitTerms()
        scope_p = [(self.parent, j) for j in range(n_p)]
        for i in range(self.sizes[self.child]):
            table = log_p[:, i, :].reshape(tuple(len(pu.support) for _ in range(n_p)) + (len(cu.support),))
            terms.tables.append((scope_p + [(self.child, i)], table))
        return terms

    def param_role(self, name):
        return {"b": "bias", "W": "coupling"}.get(name, "recognition")  # c: no decay, no sparsity, no gradient

    def filters(self, group):
        return self.params["W"].T if group == self.child else None

    @classmethod
    def from_spec(cls, spec):
        p, c = spec.groups(2)
        return cls(p, c, spec.param("W", (spec.size(p), spec.size(c)), single=False),
                   spec.param("b", (spec.size(c),), single=False), name=spec.name)  # c: zeros (no recognition)
