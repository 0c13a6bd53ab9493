"""Stochastic gradient ascent with momentum, weight decay and a learning-rate schedule, on the backend.

    v <- momentum * v + lr(t) * scale * (grad - weight_decay * theta)     (decay on couplings only)
    theta <- theta + v

``scale`` is the factor's per-parameter learning-rate scale (:meth:`Factor.lr_scale`,
e.g. smaller for variances). Parameters and velocities are the compiled model's
device arrays, updated in place; nothing is copied to the host during training.

Sparsity (Lee et al. 2008; Hinton's practical guide, section 11): with a target
activation p and a running average q_j of each hidden unit's mean activation,
the hidden biases also move by ``sparsity_cost * (p - q_j)`` (a map bias: q of its whole map).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCHEDULES = ("constant", "linear", "exponential")


@dataclass
class OptimConfig:
    lr: float = 0.05
    momentum: float = 0.5
    # Hinton's guide raises momentum to 0.9 after a few epochs for CD; on digits that made PCD
    # diverge (exact test log-likelihood fell below the base-rate model), so the default keeps 0.5.
    final_momentum: float = 0.5
    momentum_switch: int = 5  # epoch from which final_momentum is used
    weight_decay: float = 1e-4
    schedule: str = "constant"  # constant | linear (to 0 at the last epoch) | exponential (x0.96 per epoch)
    sparsity_target: float | None = None
    sparsity_cost: float = 0.1

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not self.lr > 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")


class SGD:
    """Updates a :class:`~pgboltz.model.CompiledModel`'s parameters in place on its backend."""

    def __init__(self, model, config: OptimConfig, epochs: int, hidden=()):
        self.model, self.graph, self.config, self.epochs = model, model.graph, config, max(1, epochs)
        xp = model.backend.xp
        # parameters outside the gradient (a directed factor's recognition bias) get no optimiser state
        self.velocity = [{k: xp.zeros_like(v) for k, v in p.items() if f.param_role(k) != "recognition"}
                         for f, p in zip(model.graph.factors, model.params)]
        self.q = {g: None for g in hidden}
        self._work = {}

    def lr(self, epoch: int) -> float:
        c = self.config
        if c.schedule == "linear":
            return c.lr * max(0.0, 1.0 - epoch / self.epochs)
        if c.schedule == "exponential":
            return c.lr * 0.96 ** epoch
        return c.lr

    def step(self, grads: list, epoch: int, hidden_means: dict | None = None) -> None:
        """One update from ``grads`` (backend arrays per factor and parameter)."""
        c = self.config
        lr = self.lr(epoch)
        mom = c.momentum if epoch < c.momentum_switch else c.final_momentum
        xp = self.model.backend.xp
        for f, g, vel, p in zip(self.model.factors, grads, self.velocity, self.model.params):
            if not g:
                continue
            for k, grad in g.items():
                role = f.param_role(k)
                step = grad
                if role == "coupling" and c.weight_decay:
                    step = self._scratch(p[k])
                    xp.multiply(p[k], -c.weight_decay, out=step)
                    step += grad
                if role == "bias" and c.sparsity_target is not None and hidden_means and f.groups[0] in hidden_means \
                        and f.groups[0] in self.q:
                    g0 = f.groups[0]
                    mean = f.sparsity_mean(k, hidden_means[g0])  # per unit, or per map for a map bias
                    q = self._track(g0 if mean.shape == hidden_means[g0].shape else f"{g0}@{f.kind}", mean)
                    step = step + c.sparsity_cost * (c.sparsity_target - q)
                if mom:
                    vel[k] *= mom
                    scaled = self._scratch(p[k]) if step is grad else step  # the caller's gradient is left alone
                    xp.multiply(step, lr * f.lr_scale(k), out=scaled)
                    vel[k] += scaled
                else:  # no momentum: the velocity is the scaled step (two passes fewer over the parameters)
                    xp.multiply(step, lr * f.lr_scale(k), out=vel[k])
                p[k] += vel[k]
            f.project(self.model.backend.xp, p)
            p.bump()

    def _scratch(self, like):
        """A work array shaped like ``like`` (one per shape and dtype, reused: no allocation per update)."""
        key = (like.shape, like.dtype.str)
        if key not in self._work:
            self._work[key] = self.model.backend.xp.empty_like(like)
        return self._work[key]

    def _track(self, group, mean):
        q = self.q.get(group)
        self.q[group] = mean.copy() if q is None else 0.9 * q + 0.1 * mean
        return self.q[group]

    def state(self) -> dict:
        """Host copies of the optimiser state (for checkpoints)."""
        be = self.model.backend
        arrays = {f"velocity/{i}/{k}": be.to_numpy(v) for i, d in enumerate(self.velocity) for k, v in d.items()}
        arrays.update({f"sparsity_q/{g}": be.to_numpy(q) for g, q in self.q.items() if q is not None})
        return arrays

    def load_state(self, arrays: dict) -> None:
        be = self.model.backend
        for i, d in enumerate(self.velocity):
            for k in d:
                d[k][...] = be.asarray(np.asarray(arrays[f"velocity/{i}/{k}"]))
        for g in self.q:
            key = f"sparsity_q/{g}"
            self.q[g] = be.asarray(np.asarray(arrays[key])) if key in arrays else None
