"""Batched blocked Gibbs sampling over many chains, on any backend.

The sampler runs a :class:`~pgboltz.model.CompiledModel`: one sweep visits the
blocks of the schedule in order, and for every update of a block it

1. sums the compiled field terms of the factors touching it into the slots of
   its natural parameters (GEMMs, neighbour-list gathers, stencils -- see
   :mod:`pgboltz.factors`),
2. draws noise and lets the unit type (or a joint distribution, for max pooling)
   turn ``beta`` times the slots into new states.

Both steps run chunk by chunk over the chains -- in parallel threads on the NumPy
backend, as one chunk on a GPU -- and chunk k always draws from random stream k.
Everything is allocated when the model is compiled; a sweep allocates no arrays.
Clamped groups (and inputs) keep the values given to them and are left out of the
schedule, which gives conditional sampling (e.g. P(h | v = data)).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..model import CompiledModel
from .moments import MomentAccumulator, Moments


@dataclass
class RunResult:
    """What :meth:`GibbsSampler.run` returns."""

    samples: dict | None  # group -> (n_kept, chains, *shape), in the unit type's storage dtype
    moments: Moments | None
    sweeps: int
    seconds: float
    unit_updates_per_second: float
    final: dict = field(repr=False, default=None)  # group -> (chains, *shape)


class GibbsSampler:
    """Blocked Gibbs sampler for a :class:`~pgboltz.graph.FactorGraph`.

    Parameters
    ----------
    graph : FactorGraph
    chains : int
        Number of independent chains (axis 0 of every state array).
    backend : 'numpy' | 'cupy' | Backend
    seed : int
        Seeds the backend's random streams and the initial states.
    dtype : 'float32' | 'float64'
    blocks : list, optional
        Explicit schedule, e.g. ``[["h"], ["v"]]``; checked for independence.
        Default: derived (:func:`pgboltz.graph.schedule.derive_blocks`).
    clamp : dict, optional
        ``{group: values}`` held fixed; values of shape ``(chains, *shape)`` or ``shape``.
        Input groups are always clamped: give their values here.
    beta : float or array of shape (chains,)
        Inverse temperature: samples from ``P(x) ∝ exp(-beta * E(x))``; one per chain
        runs chains at different temperatures in one sampler (parallel tempering).
    init : dict, optional
        Initial states of free groups (default: the unit types' random states).
    params : list, optional
        Device parameters shared with another compiled model (see :class:`~pgboltz.model.CompiledModel`).
    """

    def __init__(self, graph, chains=1000, backend="numpy", seed=0, dtype="float32", blocks=None, clamp=None,
                 beta=1.0, init=None, params=None, **backend_options):
        self.model = CompiledModel(graph, chains, backend=backend, seed=seed, dtype=dtype, clamp=clamp,
                                   blocks=blocks, beta=beta, init=init, params=params, **backend_options)
        self.graph, self.backend, self.chains = graph, self.model.backend, self.model.chains
        self.sweeps_done = 0

    # -- the model's state, through its public interface -------------------------
    @property
    def blocks(self):
        return self.model.blocks

    @property
    def free(self):
        return self.model.free

    @property
    def clamped(self):
        return self.model.clamped

    @property
    def beta(self):
        return self.model.beta

    @beta.setter
    def beta(self, value):
        self.model.beta = value

    def set_factor_params(self, k: int, **arrays) -> None:
        """Overwrite parameters of factor ``k`` on the backend only (the graph keeps its own)."""
        self.model.set_params(k, **arrays)

    def refresh_params(self) -> None:
        """Copy every factor's host parameters to the backend (after editing ``factor.params``)."""
        self.model.push_params()

    def set_states(self, states: dict) -> None:
        """Overwrite the states of some groups (host arrays ``(chains, *shape)``)."""
        self.model.set_states(states)

    def get_states(self) -> dict:
        """Host copy of all states, ``{group: (chains, *shape)}``."""
        return self.model.get_states()

    def energy(self) -> np.ndarray:
        """E(x) per chain for the current states (float64)."""
        return self.backend.to_numpy(self.model.energy())

    # -- sampling ------------------------------------------------------------
    def sweep(self, n: int = 1, means=None):
        """Run ``n`` full sweeps (every block once, in schedule order); ``means``: groups whose conditional
        means after the last sweep are returned (see :meth:`pgboltz.model.CompiledModel.sweep`)."""
        out = self.model.sweep(n, means)
        self.sweeps_done += int(n)
        return out

    def run(self, sweeps, burn_in=0, thin=1, collect="moments", groups=None, second_moments=False, batches=16,
            progress=False) -> RunResult:
        """Burn in, then run ``sweeps`` sweeps recording every ``thin``-th state.

        ``collect``: ``'moments'`` (running first / second moments, O(units) memory),
        ``'samples'`` (every recorded state on the host, in each unit type's storage dtype) or ``'none'``.
        ``groups`` limits what is recorded (default: all groups).
        """
        if collect not in ("moments", "samples", "none"):
            raise ValueError(f"collect must be 'moments', 'samples' or 'none', got {collect!r}")
        sweeps, burn_in, thin = int(sweeps), int(burn_in), int(thin)
        if sweeps < 0 or burn_in < 0 or thin < 1:
            raise ValueError("sweeps and burn_in must be >= 0 and thin >= 1")
        graph, model = self.graph, self.model
        groups = list(graph.groups) if groups is None else [graph.group(g).name for g in groups]
        acc = MomentAccumulator(graph, self.backend, groups, self.chains, second_moments, batches) \
            if collect == "moments" else None
        kept = {g: [] for g in groups} if collect == "samples" else None
        bar = progress_bar(burn_in + sweeps, progress, f"Gibbs {graph.name}")
        self.backend.synchronize()
        t0 = time.perf_counter()
        with model.running():
            for s in range(burn_in + sweeps):
                model.sweep(1)
                if s >= burn_in and (s - burn_in + 1) % thin == 0:
                    if acc is not None:
                        acc.update(model.states)
                    if kept is not None:
                        for g in groups:
                            dtype = graph.group(g).units.storage_dtype
                            kept[g].append(self.backend.to_numpy(model.states[g]).astype(dtype))
                bar.update(1)
        self.sweeps_done += burn_in + sweeps
        self.backend.synchronize()
        seconds = time.perf_counter() - t0
        bar.close()
        n_free = graph.n_units(self.free)
        rate = n_free * self.chains * (burn_in + sweeps) / seconds if seconds > 0 else float("inf")
        samples = None
        if kept is not None:
            samples = {g: np.stack(v).reshape((len(v), self.chains) + graph.group(g).shape) if v else
                       np.zeros((0, self.chains) + graph.group(g).shape, graph.group(g).units.storage_dtype)
                       for g, v in kept.items()}
        return RunResult(samples, acc.result() if acc else None, burn_in + sweeps, seconds, rate, self.get_states())

    def describe(self) -> str:
        return self.model.describe()


def progress_bar(total, enabled, desc, unit="sweep"):
    """A tqdm bar, or a silent stand-in when ``enabled`` is false."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)


class _NoBar:
    silent = True

    def update(self, n):
        pass

    def close(self):
        pass
