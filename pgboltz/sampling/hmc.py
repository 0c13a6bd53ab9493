"""Hybrid Monte Carlo on the free energy of real-valued units (Ranzato & Hinton 2010 train the mcRBM so).

The hidden groups that are independent given a Gaussian group x are summed out, leaving

    p(x) ∝ exp(-F(x)),    F(x) = E_rest(x) - sum_{h} A_h(theta_h(x))

and, since every factor is affine in the units of the groups it contributes to (the contract),

    dF/dx = E_{h | x}[dE/dx] = -linear_x(h = E[h | x]) + Lambda_x(h = E[h | x]) x

with linear_x and Lambda_x = diag(precision) + precision_matrix the slots of x's conditional
evaluated at the hidden units' conditional means -- the same derived slots Gibbs sampling
uses, so no factor needs a gradient of its own. Each transition draws momenta p ~ N(0, I),
runs ``leapfrog`` steps of size ``step`` and accepts per chain with probability
min(1, exp(H_0 - H_1)), H = F(x) + |p|^2 / 2: exact for any step size (detailed balance),
efficient when the step is small enough for most proposals to be accepted.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from ..model import CompiledModel, independent_groups


class HMC:
    """HMC over one real-valued group ``group`` of ``graph``, the other groups summed out."""

    def __init__(self, graph, group: str, chains: int, step: float = 0.05, leapfrog: int = 20, seed: int = 0,
                 dtype: str = "float64", init=None, model=None):
        """``model``: a compiled model of ``graph`` to run on (a trainer's, sharing its parameters and its
        chains: the states of ``group`` are read and written there); otherwise one is made."""
        grp = graph.group(group)
        if grp.units.support is not None:
            raise GraphError(f"HMC moves real-valued units; group {group!r} has {grp.units.name} units")
        self.summed = [g for g in graph.groups if g != group]
        if not independent_groups(graph, self.summed):
            raise GraphError(f"HMC on {group!r} sums out {', '.join(self.summed)}, which must be independent "
                             f"given {group!r}")
        if not step > 0 or int(leapfrog) < 1:
            raise ValueError(f"step must be > 0 and leapfrog a positive integer, got {step}, {leapfrog}")
        self.graph, self.group, self.step, self.leapfrog = graph, group, float(step), int(leapfrog)
        self.model = CompiledModel(graph, chains, dtype=dtype, seed=seed) if model is None else model
        self.xp = self.model.backend.xp
        self.rng = np.random.default_rng(seed)
        if init is not None:
            x = np.asarray(init, dtype=np.float64).reshape(-1, grp.size)
            self.model.states[group][...] = self.model.backend.asarray(np.broadcast_to(x, (self.chains, grp.size)))
        self.accepted, self.proposed = 0, 0

    @property
    def chains(self) -> int:
        return self.model.chains

    @property
    def x(self):
        """The chains' current states of the group (the model's array)."""
        return self.model.states[self.group]

    def _states(self, x):
        return {self.group: x}

    def free_energy(self, x):
        """F(x) per chain (backend array)."""
        log_p, _, _ = self.model.sum_out(self.summed, self._states(x))
        return -log_p

    def gradient(self, x):
        """dF/dx per chain: the slots of x at the hidden units' conditional means."""
        _, means, _ = self.model.sum_out(self.summed, self._states(x), need_means=True, need_log_p=False,
                                         need_squares=False)
        slots = self.model.field(self.group, {self.group: x, **means})
        g = -slots["linear"]
        if slots.get("precision") is not None:
            g = g + slots["precision"] * x
        if slots.get("precision_matrix") is not None:
            g = g + (slots["precision_matrix"] @ x[:, :, None])[:, :, 0]
        return g

    def sweep(self, n: int = 1) -> None:
        """``n`` HMC transitions of every chain."""
        xp, be = self.xp, self.model.backend
        for _ in range(int(n)):
            x0 = self.x.copy()
            p = be.asarray(self.rng.standard_normal(x0.shape))
            h0 = self.free_energy(x0) + 0.5 * (p * p).sum(axis=1)
            x = x0.copy()
            p = p - 0.5 * self.step * self.gradient(x)
            for k in range(self.leapfrog):
                x = x + self.step * p
                if k < self.leapfrog - 1:
                    p = p - self.step * self.gradient(x)
            p = p - 0.5 * self.step * self.gradient(x)
            h1 = self.free_energy(x) + 0.5 * (p * p).sum(axis=1)
            with np.errstate(over="ignore", invalid="ignore"):
                accept = be.asarray(self.rng.random(x0.shape[0])) < xp.exp(xp.minimum(h0 - h1, 0.0))
            accept &= xp.isfinite(h1)
            self.x[...] = xp.where(accept[:, None], x, x0)
            self.accepted += int(accept.sum())
            self.proposed += x0.shape[0]

    @property
    def acceptance(self) -> float:
        return self.accepted / max(1, self.proposed)

    def get_states(self) -> np.ndarray:
        """Host copy of the group's states, ``(chains, n)``."""
        return np.array(self.model.backend.to_numpy(self.x), copy=True)
