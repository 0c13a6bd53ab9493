"""The factor graph: groups of units joined by factors, held in a networkx graph.

The group-level graph is bipartite: one node per group and one per factor, an
edge wherever a factor touches a group. It is the single description of a model:
blocks, conditionals, energies, exact inference and pictures are all derived from
it.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from ..errors import DataError, GraphError
from ..factors import Factor
from .group import Group


class FactorGraph:
    """A Boltzmann machine as groups plus factors.

    >>> from pgboltz import FactorGraph, Bias, Dense
    >>> g = FactorGraph("rbm")
    >>> g.add_group("v", 6, role="visible"); g.add_group("h", 4)
    >>> g.add_factor(Dense("v", "h", np.zeros((6, 4)))); g.add_factor(Bias("v", np.zeros(6)))
    """

    def __init__(self, name: str = "graph", description: str = ""):
        self.name = name
        self.description = description
        self.nx = nx.Graph()

    # -- building ------------------------------------------------------------
    def add_group(self, name, shape, units="bernoulli", role="hidden") -> Group:
        group = Group.make(name, shape, units, role)
        if ("group", name) in self.nx:
            raise GraphError(f"duplicate group name {name!r}")
        self.nx.add_node(("group", name), kind="group", obj=group)
        return group

    def add_factor(self, factor: Factor) -> Factor:
        if not isinstance(factor, Factor):
            raise GraphError(f"add_factor expects a Factor, got {type(factor).__name__}")
        if factor.name is not None and any(f.name == factor.name for f in self.factors):
            raise GraphError(f"duplicate factor name {factor.name!r}")
        factor.attach(self.groups)
        node = ("factor", len(self.factors))
        self.nx.add_node(node, kind="factor", obj=factor)
        for g in set(factor.groups):
            self.nx.add_edge(node, ("group", g))
        return factor

    # -- access --------------------------------------------------------------
    @property
    def groups(self) -> dict[str, Group]:
        return {n[1]: d["obj"] for n, d in self.nx.nodes(data=True) if d["kind"] == "group"}

    @property
    def factors(self) -> list[Factor]:
        nodes = sorted((n for n, d in self.nx.nodes(data=True) if d["kind"] == "factor"), key=lambda n: n[1])
        return [self.nx.nodes[n]["obj"] for n in nodes]

    def group(self, name: str) -> Group:
        try:
            return self.nx.nodes[("group", name)]["obj"]
        except KeyError:
            raise GraphError(f"unknown group {name!r}; known groups: {', '.join(self.groups) or '(none)'}") from None

    def factor(self, name: str) -> Factor:
        """The factor called ``name``."""
        for f in self.factors:
            if f.name == name:
                return f
        known = ", ".join(repr(f.name) for f in self.factors if f.name) or "(none)"
        raise GraphError(f"graph {self.name!r} has no factor called {name!r}; named factors: {known}")

    def factors_touching(self, group: str) -> list[Factor]:
        self.group(group)
        return [f for f in self.factors if group in f.groups]

    def has_internal_couplings(self, group: str) -> bool:
        return any(c.group_a == group and c.group_b == group for f in self.factors for c in f.couplings())

    @property
    def visible(self) -> list[str]:
        return [n for n, g in self.groups.items() if g.role == "visible"]

    @property
    def hidden(self) -> list[str]:
        return [n for n, g in self.groups.items() if g.role == "hidden"]

    @property
    def inputs(self) -> list[str]:
        """Groups with role 'input': always clamped to given values, never sampled."""
        return [n for n, g in self.groups.items() if g.role == "input"]

    def free_groups(self, clamped=()) -> list[str]:
        """Groups a sampler draws: all but the inputs and ``clamped``."""
        skip = set(self.inputs) | set(clamped)
        return [g for g in self.groups if g not in skip]

    def joint_sets(self) -> list:
        """[(factor, groups)]: groups that some factor requires to be drawn together."""
        return [(f, tuple(js)) for f in self.factors for js in f.joint_groups()]

    def summable(self, group: str) -> bool:
        """True if ``group`` can be summed out analytically given the rest: every factor touching it
        contributes to its slots (no directed table has it as a parent), and it is not a directed child."""
        return all(f.contributes_to(group) and group not in f.children() for f in self.factors_touching(group))

    def n_units(self, groups=None) -> int:
        groups = self.groups if groups is None else groups
        return sum(self.group(g).size for g in groups)

    def n_parameters(self) -> int:
        return sum(f.n_parameters() for f in self.factors)

    def unit_names(self, groups=None) -> list[str]:
        groups = list(self.groups) if groups is None else list(groups)
        return [self.group(g).unit_name(i) for g in groups for i in range(self.group(g).size)]

    # -- states ----------------------------------------------------------------
    def check_states(self, states: dict, groups=None, what="states", expectations=False) -> dict:
        """Validate and flatten host states: ``{group: (chains, *shape)}`` -> ``{group: (chains, size)}``.

        Refuses missing groups, wrong shapes, differing chain counts and values
        outside a unit type's support (e.g. 0.5 for Bernoulli units); with
        ``expectations`` (mean-field states), values in the support's convex hull pass.
        """
        groups = list(self.groups) if groups is None else list(groups)
        out, chains = {}, None
        for g in groups:
            grp = self.group(g)
            if g not in states:
                raise DataError(f"{what}: no values for group {g!r}")
            x = np.asarray(states[g], dtype=np.float64)
            if x.shape[1:] != grp.shape and not (x.ndim == 2 and x.shape[1] == grp.size):
                raise DataError(
                    f"{what}: group {g!r} needs shape (chains, {', '.join(map(str, grp.shape))}), got {x.shape}"
                )
            if chains is not None and x.shape[0] != chains:
                raise DataError(f"{what}: group {g!r} has {x.shape[0]} chains, other groups have {chains}")
            chains = x.shape[0]
            grp.units.validate(x, what, g, expectations)
            out[g] = x.reshape(x.shape[0], grp.size)
        return out

    def energy(self, states: dict, backend=None, expectations: bool = False) -> np.ndarray:
        """E(x) per chain for host states ``{group: (chains, *shape)}`` (float64, NumPy).

        Directed factors count as ``-log P(child | parents)``, so ``exp(-E)`` is the joint up to
        the undirected part's partition function. ``expectations``: states may be means (in the
        support's convex hull), as a mean-field bound evaluates them."""
        from ..backends import get_backend

        be = backend or get_backend("numpy", dtype="float64", streams=1)
        flat = {g: be.asarray(x) for g, x in self.check_states(states, expectations=expectations).items()}
        total = 0.0
        for f in self.factors:
            total = total + f.energy(be.xp, flat, f.device_params(be))
        return be.to_numpy(total)

    def summary(self) -> str:
        lines = [f"graph {self.name}: {self.n_units()} units, {self.n_parameters()} parameters"]
        if self.description:
            lines.append(f"  {self.description}")
        lines.append("groups:")
        for g in self.groups.values():
            internal = " (internal couplings)" if self.has_internal_couplings(g.name) else ""
            lines.append(
                f"  {g.name:<8} {g.role:<8} {g.units.name:<10} shape {list(g.shape)} = {g.size} units{internal}"
            )
        lines.append("factors:")
        for f in self.factors:
            extra = f.describe()
            extra = f", {extra}" if extra else ""
            lines.append(f"  {f.label:<40} {f.n_parameters()} parameters{extra}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<FactorGraph {self.name!r}: groups {list(self.groups)}, {len(self.factors)} factors>"
