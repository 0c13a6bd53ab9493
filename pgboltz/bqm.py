"""Binary quadratic models (dimod) in and out, and pgboltz as a dimod sampler.

dimod writes an Ising or QUBO problem as ``E(x) = sum_i a_i x_i + sum_ij b_ij x_i x_j + offset``
over spin (±1) or binary (0/1) variables; a pgboltz graph of one binary unit type with pairwise
factors has ``E(x) = -sum_ij w_ij x_i x_j - sum_i h_i x_i``. So ``a = -h``, ``b = -w``:

* :func:`to_bqm` -- a pgboltz graph as a ``dimod.BinaryQuadraticModel`` (variables ``(group, unit)``);
* :func:`from_bqm` -- a BQM as a pgboltz graph (through :func:`pgboltz.interop.from_networkx`);
* :class:`GibbsBQMSampler` -- a ``dimod.Sampler``: batched blocked Gibbs at inverse temperature
  ``beta`` (one read per chain), returning a ``SampleSet`` with the BQM's energies.

dimod is optional (``pip install "pgboltz[ising]"``); this module imports it on use.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from .errors import GraphError


def _dimod():
    try:
        import dimod
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ImportError('pgboltz.bqm needs dimod: pip install "pgboltz[ising]" (or pip install dimod)') from exc
    return dimod


def to_bqm(graph):
    """``graph`` (binary units of one type, pairwise energy) as a dimod BQM with the same energy."""
    from .interop import to_networkx

    dimod = _dimod()
    types = {grp.units.name for grp in graph.groups.values()}
    if len(types) != 1:
        raise GraphError(f"to_bqm: a BQM has one variable type; {graph.name!r} mixes {', '.join(sorted(types))} units")
    vartype = dimod.SPIN if types == {"spin"} else dimod.BINARY
    G = to_networkx(graph)
    linear = {v: -d["bias"] for v, d in G.nodes(data=True)}
    quadratic = {(u, v): -d["weight"] for u, v, d in G.edges(data=True)}
    return dimod.BinaryQuadraticModel(linear, quadratic, 0.0, vartype)


def from_bqm(bqm, name: str = "bqm"):
    """A BQM as a pgboltz graph: ``(graph, {variable: (group, unit)}, offset)``; the graph's energy
    plus ``offset`` is the BQM's energy."""
    from .interop import from_networkx

    dimod = _dimod()
    units = "spin" if bqm.vartype is dimod.SPIN else "bernoulli"
    G = nx.Graph()
    for v in bqm.variables:
        G.add_node(v, bias=-float(bqm.get_linear(v)), units=units)
    for (u, v), b in bqm.quadratic.items():
        G.add_edge(u, v, weight=-float(b))
    graph, place = from_networkx(G, name=name, default_units=units)
    return graph, place, float(bqm.offset)


HARDWARE = ("chimera", "pegasus", "zephyr")


def hardware_graph(kind: str, size: int, seed: int = 0, scale: float = 1.0, units: str = "spin"):
    """A spin glass on a D-Wave hardware topology from dwave-networkx (``chimera``, ``pegasus`` or
    ``zephyr`` of the given size), couplings N(0, scale^2), no fields: ``(graph, {node: (group, unit)})``."""
    from .interop import from_networkx

    try:
        import dwave_networkx as dnx
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise ImportError('hardware graphs need dwave-networkx: pip install "pgboltz[ising]"') from exc
    if kind not in HARDWARE:
        raise GraphError(f"hardware_graph: kind must be one of {', '.join(HARDWARE)}, got {kind!r}")
    G = getattr(dnx, f"{kind}_graph")(int(size))
    H = nx.Graph()
    H.add_nodes_from(sorted(G.nodes), units=units)
    rng = np.random.default_rng(seed)
    edges = sorted(tuple(sorted(e)) for e in G.edges)
    H.add_edges_from((u, v, {"weight": float(w)}) for (u, v), w in zip(edges, rng.normal(0, scale, len(edges))))
    return from_networkx(H, name=f"{kind}-{size}", default_units=units)


def _sampler_class():
    dimod = _dimod()

    class GibbsBQMSampler(dimod.Sampler):
        """pgboltz's blocked Gibbs sampler behind dimod's interface: ``num_reads`` chains, ``sweeps`` sweeps
        at inverse temperature ``beta``; the last state of every chain is one read."""

        parameters = {"num_reads": [], "sweeps": [], "beta": [], "seed": [], "backend": []}
        properties = {"description": "batched blocked Gibbs sampling (pgboltz) at inverse temperature beta"}

        def sample(self, bqm, num_reads: int = 100, sweeps: int = 1000, beta: float = 1.0, seed: int = 0,
                   backend: str = "numpy", **kwargs):
            from .sampling import GibbsSampler

            self.remove_unknown_kwargs(**kwargs)
            graph, place, _ = from_bqm(bqm)
            s = GibbsSampler(graph, chains=int(num_reads), seed=seed, beta=beta, dtype="float64", backend=backend)
            s.sweep(int(sweeps))
            states = s.get_states()
            labels = list(bqm.variables)
            samples = np.stack([states[place[v][0]][:, place[v][1]] for v in labels], axis=1).astype(np.int8)
            return dimod.SampleSet.from_samples_bqm((samples, labels), bqm, info={"sweeps": int(sweeps),
                                                                                  "beta": float(beta)})

    return GibbsBQMSampler


def __getattr__(name):
    if name == "GibbsBQMSampler":
        return _sampler_class()
    raise AttributeError(name)
