"""Batched blocked Gibbs sampling over many chains, on any backend.

One sweep visits the blocks of the schedule in order; for every part of a block
(a group, or some units of it) it

1. sums the compiled field terms of the factors touching it into ``theta``
   (GEMMs, neighbour-list gathers, stencils -- see :mod:`pgboltz.factors`),
2. draws uniforms and lets the unit type turn ``beta * theta`` into new states.

Both steps run chunk by chunk over the chains -- in parallel threads on the NumPy
backend, as one chunk on a GPU -- and chunk k always draws from random stream k.

Everything is allocated when the sampler is built; a sweep allocates no arrays.
Clamped groups keep the values given to them and are left out of the schedule,
which gives conditional sampling (e.g. P(h | v = data)).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from ..backends import get_backend
from ..conditionals import accumulate, field_terms
from ..errors import DataError
from ..graph.schedule import as_blocks, derive_blocks
from .moments import MomentAccumulator, Moments


class _CompiledPart:
    """Buffers and terms for updating one block part."""

    def __init__(self, sampler, part):
        be, graph, chains = sampler.backend, sampler.graph, sampler.chains
        self.group = part.group
        self.units = graph.group(part.group).units
        n = part.size(graph)
        self.terms = field_terms(graph, part.group, part.index, sampler._params, be, chains)
        self.theta = be.empty((chains, n))
        self.noise = be.empty((chains, n))
        self.out = sampler._states[part.group] if part.index is None else be.empty((chains, n))
        self.index_dev = None if part.index is None else be.asarray(part.index, dtype=np.intp)
        self.chunks = be.chunks(chains)
        self.n_elements = chains * n
        self.run_chunk = partial(sampler._update_rows, self)


@dataclass
class RunResult:
    """What :meth:`GibbsSampler.run` returns."""

    samples: dict | None  # group -> (n_kept, chains, *shape), int8
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
        Default: derived by colouring (:func:`pgboltz.graph.schedule.derive_blocks`).
    clamp : dict, optional
        ``{group: values}`` held fixed; values of shape ``(chains, *shape)`` or ``shape``.
    beta : float or array of shape (chains,)
        Inverse temperature: samples from ``P(x) ∝ exp(-beta * E(x))``; one per chain
        runs chains at different temperatures in one sampler (parallel tempering).
    init : dict, optional
        Initial states of free groups (default: uniform random).
    """

    def __init__(self, graph, chains=1000, backend="numpy", seed=0, dtype="float32", blocks=None, clamp=None,
                 beta=1.0, init=None, **backend_options):
        if int(chains) < 1:
            raise DataError(f"chains must be a positive integer, got {chains}")
        self.graph = graph
        self.chains = int(chains)
        self.backend = get_backend(backend, seed=seed, dtype=dtype, **backend_options)
        self.beta = beta
        clamp = dict(clamp or {})
        self.clamped = list(clamp)
        self.free = [g for g in graph.groups if g not in clamp]
        self._params = [f.device_params(self.backend) for f in graph.factors]
        self._states = {}
        self._set(self._initial_states(init, clamp))
        if blocks is None:
            self.blocks = derive_blocks(graph, self.free)
        else:
            self.blocks = as_blocks(graph, blocks, self.free)
        self._compile()
        self.sweeps_done = 0

    @property
    def beta(self):
        """Inverse temperature: a float, or a host array of one value per chain."""
        return self._beta if self._beta_col is None else self.backend.to_numpy(self._beta_col[:, 0])

    @beta.setter
    def beta(self, value):
        if np.ndim(value) == 0:
            self._beta, self._beta_col = float(value), None
            return
        b = np.asarray(value, dtype=np.float64)
        if b.shape != (self.chains,):
            raise DataError(f"beta must be a number or one value per chain ({self.chains},), got shape {b.shape}")
        if getattr(self, "_beta_col", None) is not None:
            self._beta_col[:, 0] = self.backend.asarray(b)
        else:
            self._beta_col = self.backend.asarray(b[:, None])
        self._beta = None

    # -- parameters ------------------------------------------------------------
    def _compile(self):
        """Build the per-part buffers and field terms (once, and again when parameters held by copy change)."""
        self._program = [[_CompiledPart(self, p) for p in b.parts] for b in self.blocks]
        sliced = {p.group for b in self.blocks for p in b.parts if p.index is not None}
        # factors whose compiled terms hold copies of their parameters rather than the device arrays
        self._copied = {k for k, f in enumerate(self.graph.factors)
                        if f.kind in ("sparse", "lattice") or sliced & set(f.groups)}

    def set_factor_params(self, k: int, **arrays) -> None:
        """Overwrite parameters of factor ``k`` on the device only (the graph keeps its own)."""
        for name, value in arrays.items():
            dev = self._params[k][name]
            dev[...] = self.backend.asarray(np.asarray(value, dtype=np.float64).reshape(dev.shape))
        if k in self._copied:
            self._compile()

    def refresh_params(self) -> None:
        """Copy every factor's parameters from the graph to the device (after a learning step)."""
        for f, dev in zip(self.graph.factors, self._params):
            for name, value in f.params.items():
                dev[name][...] = self.backend.asarray(value)
        if self._copied:
            self._compile()

    # -- states --------------------------------------------------------------
    def _broadcast(self, g, values, what):
        grp = self.graph.group(g)
        x = np.asarray(values, dtype=np.float64)
        if x.shape in (grp.shape, (grp.size,)):  # one state for every chain
            x = np.broadcast_to(x.reshape(grp.shape), (self.chains,) + grp.shape)
        if x.shape[0] != self.chains:
            raise DataError(f"{what}: group {g!r} has {x.shape[0]} rows, but the sampler runs {self.chains} chains")
        return x

    def _initial_states(self, init, clamp):
        rng = self.backend.host_rng
        init = dict(init or {})
        unknown = set(init) - set(self.graph.groups) | set(clamp) - set(self.graph.groups)
        if unknown:
            raise DataError(f"unknown group(s) {sorted(unknown)}; known groups: {', '.join(self.graph.groups)}")
        states = {}
        for g, grp in self.graph.groups.items():
            if g in clamp:
                states[g] = self._broadcast(g, clamp[g], "clamp")
            elif g in init:
                states[g] = self._broadcast(g, init[g], "init")
            else:
                states[g] = grp.units.init_states(rng, (self.chains,) + grp.shape)
        return states

    def _set(self, states):
        flat = self.graph.check_states(states, what="states")
        for g, x in flat.items():
            if g in self._states:  # in place: compiled parts hold views of these arrays
                self._states[g][...] = self.backend.asarray(x)
            else:
                self._states[g] = self.backend.asarray(x)

    def set_states(self, states: dict) -> None:
        """Overwrite the states of some groups (host arrays ``(chains, *shape)``)."""
        full = self.get_states()
        full.update({g: self._broadcast(g, v, "set_states") for g, v in states.items()})
        self._set(full)

    def get_states(self) -> dict:
        """Host copy of all states, ``{group: (chains, *shape)}``."""
        return {g: self.backend.to_numpy(x).reshape((self.chains,) + self.graph.group(g).shape)
                for g, x in self._states.items()}

    def energy(self) -> np.ndarray:
        """E(x) per chain for the current states (float64)."""
        xp = self.backend.xp
        total = xp.zeros(self.chains, dtype=np.float64)
        for f, p in zip(self.graph.factors, self._params):
            total += f.energy(xp, self._states, p).astype(np.float64)
        return self.backend.to_numpy(total)

    # -- sampling ------------------------------------------------------------
    def _update_rows(self, part, k, rows):
        """New states for chains ``rows`` of one block part, drawing from stream ``k``."""
        accumulate(part.terms, self._states, part.theta, rows)
        self.backend.uniform_(k, part.noise[rows])
        out = part.out[rows]
        beta = self._beta if self._beta_col is None else self._beta_col[rows]
        part.units.sample_(self.backend.xp, part.theta[rows], beta, part.noise[rows], out)
        if part.index_dev is not None:
            self._states[part.group][rows][:, part.index_dev] = out

    def _update(self, part):
        self.backend.map_rows_sized(part.run_chunk, part.chunks, part.n_elements)

    def _sweep_once(self):
        for block in self._program:
            for part in block:
                self._update(part)
        self.sweeps_done += 1

    def sweep(self, n: int = 1) -> None:
        """Run ``n`` full sweeps (every block once, in schedule order)."""
        with self.backend.hot_loop():
            for _ in range(int(n)):
                self._sweep_once()

    def run(self, sweeps, burn_in=0, thin=1, collect="moments", groups=None, second_moments=False, batches=16,
            progress=False) -> RunResult:
        """Burn in, then run ``sweeps`` sweeps recording every ``thin``-th state.

        ``collect``: ``'moments'`` (running first / second moments, O(units) memory),
        ``'samples'`` (every recorded state, int8 on the host) or ``'none'``.
        ``groups`` limits what is recorded (default: all groups).
        """
        if collect not in ("moments", "samples", "none"):
            raise ValueError(f"collect must be 'moments', 'samples' or 'none', got {collect!r}")
        sweeps, burn_in, thin = int(sweeps), int(burn_in), int(thin)
        if sweeps < 0 or burn_in < 0 or thin < 1:
            raise ValueError("sweeps and burn_in must be >= 0 and thin >= 1")
        groups = list(self.graph.groups) if groups is None else [self.graph.group(g).name for g in groups]
        acc = MomentAccumulator(self.graph, self.backend, groups, self.chains, second_moments, batches) \
            if collect == "moments" else None
        kept = {g: [] for g in groups} if collect == "samples" else None
        bar = _progress(burn_in + sweeps, progress, f"Gibbs {self.graph.name}")
        self.backend.synchronize()
        t0 = time.perf_counter()
        with self.backend.hot_loop():
            for s in range(burn_in + sweeps):
                self._sweep_once()
                if s >= burn_in and (s - burn_in + 1) % thin == 0:
                    if acc is not None:
                        acc.update(self._states)
                    if kept is not None:
                        for g in groups:
                            kept[g].append(self.backend.to_numpy(self._states[g]).astype(np.int8))
                bar.update(1)
        self.backend.synchronize()
        seconds = time.perf_counter() - t0
        bar.close()
        n_free = self.graph.n_units(self.free)
        rate = n_free * self.chains * (burn_in + sweeps) / seconds if seconds > 0 else float("inf")
        samples = None
        if kept is not None:
            samples = {g: np.stack(v).reshape((len(v), self.chains) + self.graph.group(g).shape) if v else
                       np.zeros((0, self.chains) + self.graph.group(g).shape, np.int8) for g, v in kept.items()}
        return RunResult(samples, acc.result() if acc else None, burn_in + sweeps, seconds, rate, self.get_states())

    def describe(self) -> str:
        lines = [f"{len(self.blocks)} blocks:"]
        for k, b in enumerate(self.blocks):
            lines.append(f"  {k}: {b.describe(self.graph)}")
        return "\n".join(lines)


def _progress(total, enabled, desc):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="sweep", leave=False)


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass
