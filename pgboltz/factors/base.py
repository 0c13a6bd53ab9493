"""Factors: energy terms between groups, and everything derived from them.

A factor is one additive term ``E_f(x)`` of the energy ``E(x) = sum_f E_f(x)``,
with ``P(x) ∝ exp(-beta * E(x))``. The conditional of a block given the rest is
set by its *natural parameters*, a few named **slots** per unit (``linear`` for
every unit type, ``precision`` for Gaussian units, ``precision_matrix`` for a
joint Gaussian block), and each factor only says what it contributes to them:

    slot_s(x_block) = sum over factors f touching the block of  -dE_f / d(statistic_s)

(:meth:`Factor.field_terms`). The same factor also states

* its energy per chain (:meth:`energy`),
* which groups it gives an exact conditional for (:meth:`contributes_to`),
* its coupling structure (:meth:`couplings`), used to colour the graph into blocks,
  and groups that must be drawn jointly (:meth:`joint_groups`),
* the statistics of its parameters, ``-dE_f/d(param)`` (:meth:`statistics`),
* its unit-level expansion (:meth:`unit_terms`), used by exact inference and pgmpy,
* hooks for spec files, checkpoints, the optimiser and pictures.

A factor is an **energy term** unless ``directed`` is set: then it is a
conditional probability table ``P(child | parents)`` whose "energy" is
``-log P(child | parents)``; it contributes the child's conditional only, and
the schedule samples children after their parents (ancestral order).

Every subclass with a ``kind`` registers itself in :data:`FACTOR_KINDS`, which
the spec reader, checkpoints and the optimiser consult: a new kind touches one file.

Parameters live in ``self.params`` as float64 NumPy arrays; a compiled model
copies them to its backend as :class:`DeviceParams`, whose ``version`` counts
writes so that compiled terms holding derived copies are rebuilt when stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import GraphError

#: every registered factor kind: spec name -> class
FACTOR_KINDS: dict[str, type] = {}


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
    """A factor's energy written over single units (flat indices), for exact inference:

        E_f(x) = - sum over monomials (groups, index, coef) of  sum_n coef[n] * prod_k x[groups[k]][index[k][n]]
                 - sum over tables (scope, log_potential) of  log_potential[states of the scope's units]

    A monomial of order 1 is a bias, 2 a pairwise coupling, 3 a three-way term; a
    group may repeat (quadratic terms). Tables (e.g. a directed factor's conditional
    table) list their scope as ``[(group, unit), ...]`` and are indexed by each unit's
    position in its support.
    """

    monomials: list = field(default_factory=list)  # (groups tuple, index tuple of arrays[n], coef[n])
    tables: list = field(default_factory=list)  # (scope [(group, unit)], log_potential ndarray)

    def add(self, groups, index, coef):
        self.monomials.append((tuple(groups), tuple(np.asarray(i, dtype=np.intp) for i in index),
                               np.asarray(coef, dtype=np.float64)))
        return self


class FieldTerm:
    """A compiled contribution of one factor to one slot of one block part.

    ``term(states, out, add, rows)`` writes (``add=False``) or adds (``add=True``)
    the contribution for chains ``rows`` into ``out[rows]`` (the slot's buffer, shape
    ``(chains, n_part)``, or ``(chains, n, n)`` for ``precision_matrix``). No
    allocation: scratch space is owned by the term and made at compile time.

    ``copies_params``: the term holds arrays *derived* from the parameters (a gathered
    layout, a column slice); the compiled model rebuilds it when the factor's device
    parameters change version. Terms that only reference the device arrays set it False.
    """

    slot = "linear"
    copies_params = True
    #: cheap to run as the first term of a slot (writing rather than adding); elementwise
    #: terms such as biases set False and run after the products
    writes = True
    #: the work is BLAS products of whole arrays, which BLAS spreads over the cores itself: with few
    #: chains an update with such a term computes its fields for all chains in one call
    #: (:meth:`pgboltz.backends.Backend.whole_fields`); gathers and stencils stay split by row chunks
    blas = False

    def __call__(self, states: dict, out, add: bool, rows=slice(None)) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def csr(self):
        """``(source group, indptr, indices, data)`` when the term is the sparse product ``out[:, i] = sum_k
        data[k] x_source[:, indices[k]]`` over CSR row i (host arrays), else None. A backend that runs whole
        sweeps of a sparse group in one call (:meth:`pgboltz.backends.Backend.sparse_sweep`) reads it."""
        return None


class DeviceParams(dict):
    """A factor's parameters on a backend: ``{name: array}`` plus a write ``version``."""

    version = 0

    def bump(self) -> None:
        """Record a write, so compiled terms derived from these arrays are rebuilt."""
        self.version += 1


class Factor:
    """Base class of all factors. Subclasses set ``kind`` and implement the hooks below."""

    kind = "factor"
    #: a conditional probability table P(child | parents) rather than an energy term
    directed = False
    #: the energy is affine in each single unit (no x_i^2, no log-normaliser of a table), so under a
    #: factorised q its expectation is the energy at q's means (the mean-field bound uses this)
    multilinear = False
    #: extra fields this kind reads from a spec table (besides kind, name, groups/group and parameters)
    spec_keys: tuple = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "kind" in cls.__dict__:
            if cls.kind in FACTOR_KINDS and FACTOR_KINDS[cls.kind] is not cls:
                raise GraphError(f"factor kind {cls.kind!r} is registered twice "
                                 f"({FACTOR_KINDS[cls.kind].__name__} and {cls.__name__})")
            FACTOR_KINDS[cls.kind] = cls

    def __init__(self, groups, params: dict, name: str | None = None):
        self.groups = tuple(groups)
        self.params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        self.name = name
        self.sizes: dict[str, int] = {}
        self.shapes: dict[str, tuple] = {}
        self.units: dict = {}

    # -- set-up --------------------------------------------------------------
    def attach(self, groups: dict) -> None:
        """Validate against the graph's groups (name -> Group) and remember their sizes."""
        for g in self.groups:
            if g not in groups:
                known = ", ".join(groups) or "(none)"
                raise GraphError(f"{self.label}: unknown group {g!r}; known groups: {known}")
        self.sizes = {g: groups[g].size for g in self.groups}
        self.shapes = {g: groups[g].shape for g in self.groups}
        self.units = {g: groups[g].units for g in self.groups}
        self.check_params()
        self.check_finite()

    def check_finite(self) -> None:
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

    def _expect_binary(self, *groups):
        for g in groups:
            if self.units[g].support is None:
                raise GraphError(f"{self.label}: group {g!r} has {self.units[g].name} units; "
                                 f"this factor needs units with a finite support")

    @property
    def label(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"{self.kind} factor{name} on ({', '.join(self.groups)})"

    # -- structure -------------------------------------------------------------
    def n_parameters(self) -> int:
        """Number of free parameters (a symmetric matrix counts each pair once)."""
        return int(sum(v.size for v in self.params.values()))

    def couplings(self) -> list[Coupling]:
        """Pairs of units whose conditional depends on each other through this factor."""
        return []

    def joint_groups(self) -> list[tuple]:
        """Sets of groups this factor requires to be drawn together in one block."""
        return []

    def joint_distribution(self):
        """For factors whose joint groups need their own distribution (max pooling): it, else None."""
        return None

    def unit_variables(self) -> list:
        """Unit-level variables replacing single units (categorical blocks):
        ``[(name, n_states, [(group, unit, feature values per state), ...]), ...]``."""
        return []

    def contributes_to(self, group: str) -> bool:
        """True if this factor's share of ``group``'s conditional is a sum into its slots."""
        return group in self.groups

    def children(self) -> tuple:
        """Groups this directed factor is a conditional table for (empty for energy terms)."""
        return ()

    # -- derived quantities (implemented by each kind) -----------------------
    def energy(self, xp, states: dict, params: dict):
        """E_f per chain, shape ``(chains,)``; ``states[g]`` has shape ``(chains, n_g)``."""
        raise NotImplementedError

    def field_term(self, target: str, index, params: dict, backend, chains: int) -> FieldTerm:
        """Compile this factor's contribution to the ``linear`` slot of ``target``'s units ``index`` (None = all)."""
        raise NotImplementedError

    def field_terms(self, target: str, index, params: dict, backend, chains: int) -> list:
        """Every slot contribution to ``target``'s units ``index`` (factors with several slots override this)."""
        return [self.field_term(target, index, params, backend, chains)]

    def statistics(self, xp, states: dict, weights, params: dict) -> dict:
        """Weighted averages over chains of ``-dE_f/d(param)``, one array per parameter, on the backend.

        The log-likelihood gradient is d log p(v)/d theta = E[-dE/d theta | v] - E_model[-dE/d theta]
        (seed section 1); for energies linear in their parameters these are sufficient statistics.
        ``weights`` has shape ``(chains,)`` and sums to 1. The arrays returned are new and belong to the
        caller (the trainer subtracts the negative statistics from the positive ones in place).
        """
        raise NotImplementedError

    def unit_terms(self) -> UnitTerms:
        raise NotImplementedError

    # -- hooks for the optimiser, pictures, summaries, specs, checkpoints ----------
    def param_role(self, name: str) -> str:
        """``"coupling"`` (weight decay applies) or ``"bias"`` (sparsity targets apply)."""
        return "coupling"

    def sparsity_mean(self, name: str, group_mean):
        """What a sparsity target on bias ``name`` is compared with, from the group's mean activation
        per unit; default: the unit means themselves."""
        return group_mean

    def project(self, xp, params: dict) -> None:
        """Put parameters back into their domain after an optimiser step (in place); default: nothing."""

    def lr_scale(self, name: str) -> float:
        """Relative learning rate of parameter ``name`` (e.g. smaller for variances)."""
        return 1.0

    def filters(self, group: str):
        """Receptive fields onto ``group`` as a ``(n_group, n_filters)`` array, or None."""
        return None

    def describe(self) -> str:
        """Extra words for summaries (edges, boundary, pooling size...)."""
        return ""

    def structure(self) -> dict:
        """JSON-able settings besides groups and parameters (saved in checkpoints)."""
        return {}

    def structure_arrays(self) -> dict:
        """Integer arrays of structure (edge lists) saved in checkpoints."""
        return {}

    @classmethod
    def from_saved(cls, groups, params: dict, structure: dict, arrays: dict, name=None):
        """Rebuild from what :meth:`structure`, :meth:`structure_arrays` and ``params`` saved."""
        return cls(*groups, **params, **structure, **arrays, name=name)

    @classmethod
    def from_spec(cls, spec):
        """Build from a spec table; ``spec`` is a :class:`pgboltz.graph.spec.FactorSpec`."""
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------
    def device_params(self, backend) -> DeviceParams:
        """The parameters on ``backend``: copies, never views of the host arrays (NumPy in the host's dtype
        would otherwise hand back the same memory, and writing the device copy would edit the graph)."""
        out = DeviceParams()
        for k, v in self.params.items():
            a = backend.asarray(v)
            out[k] = a.copy() if isinstance(a, np.ndarray) and np.shares_memory(a, v) else a
        return out

    def __repr__(self):
        return f"<{self.label}>"


def matmul_into(xp, a, m, out, add: bool, scratch):
    """``out = a @ m`` (``add=False``) or ``out += a @ m`` through ``scratch``, allocating nothing."""
    if add:
        xp.matmul(a, m, out=scratch)
        out += scratch
    else:
        xp.matmul(a, m, out=out)


class GemmTerm(FieldTerm):
    """slot[:, index] (+)= x_source @ M -- the dense contribution, one GEMM."""

    blas = True

    def __init__(self, source: str, matrix, backend, chains: int, n_out: int, copies_params=False):
        self.source, self.m, self.xp = source, matrix, backend.xp
        self.backend, self.shape = backend, (chains, n_out)
        self.copies_params = copies_params
        self.scratch = None  # made on first use: most GEMM terms write and never need it

    def __call__(self, states, out, add, rows=slice(None)):
        if add and self.scratch is None:
            self.scratch = self.backend.empty(self.shape)
        scratch = self.scratch[rows] if add else None
        matmul_into(self.xp, states[self.source][rows], self.m, out[rows], add, scratch)


def columns(backend, matrix, index):
    """``matrix[:, index]`` as a contiguous backend array (the matrix itself when index is None)."""
    if index is None:
        return matrix
    xp = backend.xp
    return xp.ascontiguousarray(matrix[:, backend.asarray(index, dtype=np.intp)])
