"""pgmpy as an independent exact oracle for small graphs.

The unit-level factor graph (:mod:`pgboltz.graph.unit_level`) becomes a pgmpy
``DiscreteMarkovNetwork``; exact log Z, marginals and single-unit conditionals
come from pgmpy's ``VariableElimination``. Pitfalls handled here (pgmpy 1.1.x):

* every energy term of one scope is merged into a single factor (pgmpy drops one
  of two factors with identical scope and values);
* tables are linear-space float64, so each log-potential table is shifted by its
  maximum and the shifts are added back to log Z; if the shifted tables span
  more than ~700 nats the request is refused rather than silently underflowing;
* unit names are strings (``v[3]``), never integers; categorical block variables
  (max pooling) keep their n + 1 states, and a unit's value is its feature in
  its variable's state (:mod:`pgboltz.graph.unit_level`);
* VE on a Markov network returns *unnormalised* factors: we normalise ourselves;
* the largest intermediate table is predicted *before* running -- with
  opt_einsum's greedy path on shapes for pgmpy's default ``"greedy"`` route, or a
  min-fill elimination order for the classic route -- and requests over
  ``max_entries`` are refused with :class:`TooLargeError`;
* progress bars are switched off and pgmpy's import warnings silenced.
"""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np

from ..errors import TooLargeError
from ..graph.unit_level import state_of, unit_factor_graph, variable_nodes
from .cost import largest_table, min_fill_order, treewidth_lower_bound

#: default ceiling on the largest intermediate table (2^24 float64 = 128 MiB)
MAX_ENTRIES = 1 << 24
#: the most log-potential range float64 linear tables can hold without underflow
MAX_LOG_RANGE = 700.0


def _pgmpy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy import config
        from pgmpy.factors.discrete import DiscreteFactor
        from pgmpy.inference import VariableElimination
        from pgmpy.models import DiscreteMarkovNetwork
    config.set_show_progress(False)
    return DiscreteFactor, DiscreteMarkovNetwork, VariableElimination


class PgmpyOracle:
    """Exact answers for ``graph`` from pgmpy.

    Parameters
    ----------
    beta : inverse temperature.
    clamp : ``{group: values}`` observed groups (evidence).
    max_entries : refuse queries whose largest intermediate table exceeds this.
    order : ``"auto"`` (pgmpy's greedy contraction, or a min-fill order if that is
        smaller), ``"greedy"``, ``"minfill"``, or an explicit list of unit names.
    """

    def __init__(self, graph, beta=1.0, clamp=None, max_entries=MAX_ENTRIES, order="auto"):
        DiscreteFactor, DiscreteMarkovNetwork, VariableElimination = _pgmpy()
        self.graph, self.beta, self.max_entries, self.order = graph, float(beta), int(max_entries), order
        free_groups = [g for g in graph.groups if g not in (clamp or {})]
        width = treewidth_lower_bound(graph, free_groups)
        if width + 1 > np.log2(self.max_entries):  # compared in logs: 2^(width+1) may overflow
            raise TooLargeError(
                f"exact inference on {graph.name!r} needs a table of at least 2^{width + 1} entries (its dense "
                f"couplings force treewidth >= {width}; limit {self.max_entries:.3g} entries). Use a smaller "
                "graph, clamp a group, or estimate with AIS"
            )
        G = unit_factor_graph(graph, beta)
        self.unit_graph = G
        self.variables = variable_nodes(G)
        self.states = {v: G.nodes[v]["states"] for v in self.variables}
        self.card = {v: len(s) for v, s in self.states.items()}
        self.unit_map = G.graph["unit_map"]  # (group, unit) -> (variable, feature)
        self.by_name = {graph.group(g).unit_name(i): (g, i) for g, i in self.unit_map}
        values = {}
        for g, x in (clamp or {}).items():
            x = np.asarray(x, dtype=np.float64).reshape(-1)
            graph.check_states({g: x[None]}, groups=[g], what="clamp")
            values.update({(g, i): val for i, val in enumerate(x.tolist())})
        self.evidence = self._to_evidence(values)
        self.free = [v for v in self.variables if v not in self.evidence]

        model = DiscreteMarkovNetwork()
        model.add_nodes_from(self.variables)
        self.offset = 0.0
        self.scopes = []
        factors, log_range = [], 0.0
        for node, d in G.nodes(data=True):
            if d["bipartite"] != 1:
                continue
            scope, table = list(d["scope"]), d["log_potential"]
            shift = float(table.max())
            self.offset += shift
            log_range += shift - float(table.min())
            model.add_edges_from((a, b) for k, a in enumerate(scope) for b in scope[k + 1:])  # a clique per scope
            factors.append(DiscreteFactor(scope, [self.card[v] for v in scope], np.exp(table - shift).ravel()))
            self.scopes.append(tuple(scope))
        if log_range > MAX_LOG_RANGE:
            raise TooLargeError(
                f"the log-potentials of {graph.name!r} span {log_range:.0f} nats at beta={beta}; float64 tables "
                f"underflow past {MAX_LOG_RANGE:.0f}. Use the enumerator (pgboltz.exact.exact), a smaller beta, "
                "or smaller parameters"
            )
        touched = {u for sc in self.scopes for u in sc}
        for v in [v for v in self.variables if v not in touched]:  # units no factor touches: uniform
            factors.append(DiscreteFactor([v], [self.card[v]], np.ones(self.card[v])))
            self.scopes.append((v,))
        model.add_factors(*factors)
        self.model = model
        self.ve = VariableElimination(model)
        self._interaction = nx.Graph()
        self._interaction.add_nodes_from(self.free)
        for scope in self.scopes:
            rest = [v for v in scope if v not in self.evidence]
            self._interaction.add_edges_from((a, b) for k, a in enumerate(rest) for b in rest[k + 1:])

    # -- planning ------------------------------------------------------------
    def _greedy_cost(self, query):
        """Largest intermediate of the contraction pgmpy's "greedy" route will run."""
        import opt_einsum

        sym = {v: opt_einsum.get_symbol(k) for k, v in enumerate(self.variables)}
        terms, shapes = [], []
        for scope in self.scopes:
            keep = [v for v in scope if v not in self.evidence]
            terms.append("".join(sym[v] for v in keep))
            shapes.append(tuple(self.card[v] for v in keep))
        expr = ",".join(terms) + "->" + "".join(sym[v] for v in query)
        _, info = opt_einsum.contract_path(expr, *shapes, optimize="greedy", shapes=True)
        return float(info.largest_intermediate)

    def plan(self, query):
        """(elimination_order argument for pgmpy, predicted largest table entries)."""
        query = list(query)
        if isinstance(self.order, (list, tuple)):
            order = [v for v in self.order if v not in query and v not in self.evidence]
            return order, largest_table(self._interaction, order, self.card)
        options = []
        if self.order in ("auto", "greedy"):
            options.append(("greedy", self._greedy_cost(query)))
        if self.order in ("auto", "minfill"):
            order = min_fill_order(self._interaction, keep=query)
            options.append((order, largest_table(self._interaction, order, self.card)))
        if not options:
            raise ValueError(f"order must be 'auto', 'greedy', 'minfill' or a list of unit names, got {self.order!r}")
        return min(options, key=lambda o: o[1])

    def _query(self, variables, evidence=None):
        evidence = dict(self.evidence, **(evidence or {}))
        if evidence == self.evidence:
            order, cost = self.plan(variables)
        else:  # every other unit observed: only tiny tables remain
            order, cost = "greedy", 1.0
        if cost > self.max_entries:
            raise TooLargeError(
                f"exact inference on {self.graph.name!r} would build a table of {cost:.3g} entries "
                f"(limit {self.max_entries:.3g}, {8 * cost / 2**30:.2f} GiB). Use a smaller graph, clamp groups, "
                "raise max_entries if you have the memory, or estimate with AIS"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.ve.query(list(variables), evidence=evidence, elimination_order=order, joint=True,
                                 show_progress=False)

    def _to_evidence(self, values: dict) -> dict:
        """{variable: state index} for the variables all of whose units have values."""
        from ..graph.unit_level import Variable

        out = {}
        for v in self.variables:
            members = self.unit_graph.nodes[v]["members"]
            if all((g, i) in values for g, i, _ in members):
                out[v] = state_of(Variable(v, self.states[v], members), values)
        return out

    def variable_of(self, unit: str):
        """(variable, feature) of a unit name such as ``v[3]``."""
        return self.unit_map[self.by_name[unit]]

    # -- answers -------------------------------------------------------------
    def log_z(self) -> float:
        """log of the partition function (of the conditional distribution if clamped)."""
        if not self.free:
            raise ValueError("every unit is clamped; there is nothing to sum over")
        phi = self._query([self.free[0]])
        return float(np.log(np.sum(phi.values)) + self.offset)

    def marginal(self, variable: str) -> np.ndarray:
        """P(variable = each of its states); a plain unit's variable is the unit itself."""
        v = self._query([variable]).values
        return v / v.sum()

    def joint(self, variables) -> np.ndarray:
        """P(variables jointly), one axis per variable in the order given (each over its states)."""
        variables = list(variables)
        phi = self._query(variables)
        p = phi.values / phi.values.sum()
        return np.moveaxis(p, [phi.variables.index(v) for v in variables], range(len(variables)))

    def mean(self, unit: str) -> float:
        var, ft = self.variable_of(unit)
        return float(self.marginal(var) @ ft)

    def pair_moment(self, a: str, b: str) -> float:
        """E[x_a x_b]."""
        (va, fa), (vb, fb) = self.variable_of(a), self.variable_of(b)
        if va == vb:
            return float(self.marginal(va) @ (fa * fb))
        phi = self._query([va, vb])
        p = phi.values / phi.values.sum()
        if phi.variables != [va, vb]:
            p = p.T
        return float(fa @ p @ fb)

    def conditional(self, variable: str, rest: dict) -> np.ndarray:
        """P(variable = each state | every other unit as in ``rest``), ``rest``: unit name -> value."""
        values = {self.by_name[u]: x for u, x in rest.items()}
        members = {(g, i) for g, i, _ in self.unit_graph.nodes[variable]["members"]}
        evidence = {v: s for v, s in self._to_evidence({k: x for k, x in values.items() if k not in members}).items()
                    if v not in self.evidence}
        phi = self._query([variable], evidence).values
        return phi / phi.sum()
