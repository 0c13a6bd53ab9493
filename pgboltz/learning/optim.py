"""Stochastic gradient ascent with momentum, weight decay and a learning-rate schedule.

    v <- momentum * v + lr(t) * (grad - weight_decay * theta)     (decay on couplings, not biases)
    theta <- theta + v

Sparsity (Lee et al. 2008; Hinton's practical guide, section 11): with a target
activation p and a running average q_j of each hidden unit's mean activation,
the hidden biases also move by ``sparsity_cost * (p - q_j)``.
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
        if self.lr <= 0:
            raise ValueError(f"learning rate must be positive, got {self.lr}")


class SGD:
    def __init__(self, graph, config: OptimConfig, epochs: int):
        self.graph, self.config, self.epochs = graph, config, max(1, epochs)
        self.velocity = [{k: np.zeros_like(v) for k, v in f.params.items()} for f in graph.factors]
        self.q = {g: None for g in graph.groups if g not in graph.visible}

    def lr(self, epoch: int) -> float:
        c = self.config
        if c.schedule == "linear":
            return c.lr * max(0.0, 1.0 - epoch / self.epochs)
        if c.schedule == "exponential":
            return c.lr * 0.96 ** epoch
        return c.lr

    def step(self, grads: list, epoch: int, hidden_means: dict | None = None) -> None:
        c = self.config
        lr = self.lr(epoch)
        mom = c.momentum if epoch < c.momentum_switch else c.final_momentum
        for f, g, vel in zip(self.graph.factors, grads, self.velocity):
            for k, grad in g.items():
                step = grad
                if f.kind != "bias" and c.weight_decay:
                    step = step - c.weight_decay * f.params[k]
                if f.kind == "bias" and c.sparsity_target is not None and hidden_means and f.groups[0] in hidden_means:
                    q = self._track(f.groups[0], hidden_means[f.groups[0]])
                    step = step + c.sparsity_cost * (c.sparsity_target - q)
                vel[k] *= mom
                vel[k] += lr * step
                f.params[k] += vel[k]

    def _track(self, group, mean):
        q = self.q.get(group)
        self.q[group] = mean.copy() if q is None else 0.9 * q + 0.1 * mean
        return self.q[group]

    def state(self) -> dict:
        arrays = {f"velocity/{i}/{k}": v for i, d in enumerate(self.velocity) for k, v in d.items()}
        arrays.update({f"sparsity_q/{g}": q for g, q in self.q.items() if q is not None})
        return arrays

    def load_state(self, arrays: dict) -> None:
        for i, d in enumerate(self.velocity):
            for k in d:
                d[k][...] = arrays[f"velocity/{i}/{k}"]
        for g in self.q:
            key = f"sparsity_q/{g}"
            self.q[g] = np.array(arrays[key]) if key in arrays else None
