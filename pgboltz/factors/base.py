"""Factors: energy terms between groups, and everything derived from them.

A factor is one additive term ``E_f(x)`` of the energy ``E(x) = sum_f E_f(x)``,
with ``P(x) ∝ exp(-beta * E(x))``. Factors in pgboltz are multilinear in each
group they touch, so the conditional of any unit given the rest is set by its
*natural parameter*

    theta_i = - dE/dx_i = sum over factors f touching i of  -dE_f/dx_i

and each factor only has to say what it contributes (:meth:`Factor.field_term`).
The same factor also states

* its energy per chain (:meth:`energy`),
* its coupling structure (:meth:`couplings`), used to colour the graph into blocks,
* its unit-level expansion (:meth:`unit_terms`), used by exact inference and pgmpy.

Parameters live in ``self.params`` as float64 NumPy arrays (the source of truth);
samplers copy them to their backend once (:meth:`device_params`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import GraphError


@dataclass(frozen=True)
class Coupling:
    """Structural coupling between units of ``group_a`` and ``group_b``.

    ``i``/``j`` are equal-length unit-index arrays (flat indices) of coupled pairs;
    ``None`` for both means *every* unit of ``a`` is coupled to every unit of ``b``.
    Structure, not values: a dense weight that happens to be 0 still couples.
    """

    group_a: str
    group_b: str
    i: np.ndarray | None = None
    j: np.ndarray | None = None

    @property
    def dense(self) -> bool:
        return self.i is None


@dataclass
class UnitTerms:
    """A factor's energy written over single units (flat indices):

    E_f(x) = - sum_k unary_coef[k] * x[unary_group][unary_index[k]]
             - sum_k pair_w[k] * x[pair_a][pair_i[k]] * x[pair_b][pair_j[k]]

    Lists of such blocks let a factor touch several groups.
    """

    unary: list = field(default_factory=list)  # (group, index[n], coef[n])
    pairs: list = field(default_factory=list)  # (group_a, i[n], group_b, j[n], w[n])


class FieldTerm:
    """A compiled contribution of one factor to one block: ``term(states, out, add, rows)``.

    Writes (``add=False``) or adds (``add=True``) the factor's natural parameters
    for the block's units into ``out[rows]`` (``out`` has shape ``(chains, n_block)``),
    reading only rows ``rows`` of the states. Chains are independent, so disjoint row
    chunks can run on different threads. No allocation: scratch space is owned by
    the term and made at compile time.
    """

    def __call__(self, states: dict, out, add: bool, rows=slice(None)) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class Factor:
    """Base class of all factors. Subclasses set ``kind`` and implement the hooks below."""

    kind = "factor"
    #: terms of factors with ``writes_field`` run first and write the field; the
    #: others (cheap elementwise ones such as biases) add to it afterwards.
    writes_field = True

    def __init__(self, groups, params: dict, name: str | None = None):
        self.groups = tuple(groups)
        self.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        self.name = name
        self.sizes: dict[str, int] = {}
        self.shapes: dict[str, tuple] = {}

    # -- set-up --------------------------------------------------------------
    def attach(self, groups: dict) -> None:
        """Validate against the graph's groups (name -> Group) and remember their sizes."""
        for g in self.groups:
            if g not in groups:
                known = ", ".join(groups) or "(none)"
                raise GraphError(f"{self.label}: unknown group {g!r}; known groups: {known}")
        self.sizes = {g: groups[g].size for g in self.groups}
        self.shapes = {g: groups[g].shape for g in self.groups}
        self.check_params()
        for key, value in self.params.items():
            if not np.all(np.isfinite(value)):
                raise GraphError(
                    f"{self.label}: parameter {key!r} contains NaN or infinite values; "
                    "check the initialiser or the file the parameters came from"
                )

    def check_params(self) -> None:
        """Raise GraphError if parameter shapes or structure do not fit the groups."""

    def _expect_shape(self, key, shape):
        got = self.params[key].shape
        if got != tuple(shape):
            raise GraphError(f"{self.label}: parameter {key!r} has shape {got}, expected {tuple(shape)}")

    @property
    def label(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"{self.kind} factor{name} on ({', '.join(self.groups)})"

    # -- derived quantities (implemented by each kind) -----------------------
    def n_parameters(self) -> int:
        """Number of free parameters (a symmetric matrix counts each pair once)."""
        return int(sum(v.size for v in self.params.values()))

    def couplings(self) -> list[Coupling]:
        return []

    def energy(self, xp, states: dict, params: dict):
        """E_f per chain, shape ``(chains,)``; ``states[g]`` has shape ``(chains, n_g)``."""
        raise NotImplementedError

    def field_term(self, target: str, index, params: dict, backend, chains: int) -> FieldTerm:
        """Compile this factor's contribution to ``target``'s units ``index`` (None = all)."""
        raise NotImplementedError

    def statistics(self, xp, states: dict, weights) -> dict:
        """Weighted averages over chains of the sufficient statistics, one per parameter.

        Every factor's energy is linear in its parameters, E_f = -sum_k theta_k * s_k(x),
        so s_k = -dE_f/dtheta_k and the log-likelihood gradient is
        d log p(v)/d theta_k = E[s_k | v] - E_model[s_k]   (seed section 1).
        ``weights`` has shape ``(chains,)`` and sums to 1.
        """
        raise NotImplementedError

    def unit_terms(self) -> UnitTerms:
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------
    def device_params(self, backend) -> dict:
        return {k: backend.asarray(v) for k, v in self.params.items()}

    def __repr__(self):
        return f"<{self.label}>"


class GemmTerm(FieldTerm):
    """theta[:, index] (+)= x_source @ M -- the dense contribution, one GEMM."""

    def __init__(self, source: str, matrix, backend, chains: int, n_out: int):
        self.source, self.m, self.xp = source, matrix, backend.xp
        self.backend, self.shape = backend, (chains, n_out)
        self.scratch = None  # made on first use: most GEMM terms write and never need it

    def __call__(self, states, out, add, rows=slice(None)):
        xp = self.xp
        if not add:
            xp.matmul(states[self.source][rows], self.m, out=out[rows])
            return
        if self.scratch is None:
            self.scratch = self.backend.empty(self.shape)
        s = self.scratch[rows]
        xp.matmul(states[self.source][rows], self.m, out=s)
        out[rows] += s
