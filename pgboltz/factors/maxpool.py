"""Probabilistic max pooling (Lee, Grosse, Ranganath & Ng 2009; seed section 6).

Detector maps ``d`` of shape (K, H, W) and pooling units ``p`` of shape
(K, H/C1, W/C2): in each C1 x C2 block of a map at most one detector is on, and the
block's pooling unit is on iff one is. A block is therefore one categorical
variable with n + 1 states (n = C1 C2 detectors, plus "off"); this factor adds no
energy on valid states (+inf on invalid ones) and draws the block jointly from the
linear slots of its detectors (I_k) and of its pooling unit (J):

    P(d_k = 1, p = 1 | rest) = exp(beta (I_k + J)) / (1 + sum_k' exp(beta (I_k' + J)))
    P(p = 0 | rest)          = 1 / (1 + sum_k' exp(beta (I_k' + J)))

computed stably (shifted by the largest logit). The unit-level expansion has one
categorical variable per block, so pgmpy checks the same conditionals.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from .base import Factor, UnitTerms


class CategoricalOff:
    """The joint distribution of (detectors, pooling units) given their linear slots."""

    noise = "uniform"

    def __init__(self, factor):
        self.factor = factor
        self.groups = factor.groups
        d, p = factor.groups
        K, H, W = factor.shapes[d]
        C1, C2 = factor.size
        self.block_shape = (K, H // C1, C1, W // C2, C2)
        self.n_blocks = factor.sizes[p]
        self.n = C1 * C2

    def noise_shape(self, chains):
        return (chains, self.n_blocks)

    def _blocks(self, x):
        """(rows, K*H*W) detector array -> (rows, n_blocks, n) view or copy, blocks in pooling-unit order."""
        K, Hb, C1, Wb, C2 = self.block_shape
        return x.reshape((-1, K, Hb, C1, Wb, C2)).transpose(0, 1, 2, 4, 3, 5).reshape(-1, self.n_blocks, self.n)

    def logits(self, xp, fields, beta):
        """(rows, n_blocks, n) logits of the 'detector k on' states (the off state has logit 0)."""
        d, p = self.groups
        b = beta if np.ndim(beta) == 0 else beta[:, :, None]
        return b * (self._blocks(fields[d]["linear"]) + fields[p]["linear"][:, :, None])

    def _shifted(self, xp, fields, beta):
        z = self.logits(xp, fields, beta)
        m = xp.maximum(z.max(axis=2), 0.0)
        e = xp.exp(z - m[:, :, None])
        e0 = xp.exp(-m)
        return m, e, e0, e0 + e.sum(axis=2)

    def log_prob_states(self, xp, fields, beta=1.0):
        """(rows, n_blocks, n + 1): log P(block state), state 0 = off, state k = detector k-1 on."""
        m, e, e0, total = self._shifted(xp, fields, beta)
        lt = xp.log(total)
        return xp.concatenate([(-m - lt)[:, :, None], self.logits(xp, fields, beta) - (m + lt)[:, :, None]], axis=2)

    def log_partition(self, xp, fields, beta=1.0):
        m, _, _, total = self._shifted(xp, fields, beta)
        return (m + xp.log(total)).sum(axis=1)

    def mean(self, xp, fields, beta=1.0):
        _, e, e0, total = self._shifted(xp, fields, beta)
        d, p = self.groups
        return {d: self._unblock(xp, e / total[:, :, None]), p: 1.0 - e0 / total}

    def mean_square(self, xp, fields, beta=1.0):
        return self.mean(xp, fields, beta)  # units in {0, 1}: x^2 = x

    def reference(self, xp, chains):
        """Zero fields: the uniform distribution over each block's n + 1 states (an AIS base)."""
        d, p = self.groups
        return {d: {"linear": xp.zeros((chains, self.n_blocks * self.n))}, p: {"linear": xp.zeros((chains, self.n_blocks))}}

    def _unblock(self, xp, blocks):
        K, Hb, C1, Wb, C2 = self.block_shape
        return blocks.reshape((-1, K, Hb, Wb, C1, C2)).transpose(0, 1, 2, 4, 3, 5).reshape(blocks.shape[0], -1)

    def sample_(self, xp, fields, beta, noise, outs):
        _, e, e0, total = self._shifted(xp, fields, beta)
        # thresholds t_0 = e0, t_k = e0 + e_1 + ... + e_k; state = #{t_m <= u * total, m < n}
        t = xp.cumsum(e, axis=2)
        t += e0[:, :, None]
        u = noise * total
        state = (t[:, :, :-1] <= u[:, :, None]).sum(axis=2) + (e0 <= u)  # 0 = off, k = detector k-1
        d, p = self.groups
        onehot = (xp.arange(1, self.n + 1)[None, None, :] == state[:, :, None])
        outs[d][...] = self._unblock(xp, onehot.astype(outs[d].dtype))
        outs[p][...] = state > 0


class MaxPool(Factor):
    kind = "maxpool"
    spec_keys = ("groups", "size")

    def __init__(self, detectors: str, pooling: str, size=2, name=None):
        super().__init__((detectors, pooling), {}, name)
        size = (size, size) if np.ndim(size) == 0 else tuple(size)
        if len(size) != 2 or any(int(c) != c or c < 1 for c in size):
            raise GraphError(f"{self.label}: size must be a positive integer or two of them, got {size}")
        self.size = tuple(int(c) for c in size)

    def check_params(self):
        d, p = self.groups
        if d == p:
            raise GraphError(f"{self.label}: detectors and pooling units must be different groups")
        for g in (d, p):
            if self.units[g].support != (0.0, 1.0):
                raise GraphError(f"{self.label}: group {g!r} must have bernoulli units (0 or 1) for max pooling")
        sd = self.shapes[d]
        if len(sd) != 3:
            raise GraphError(f"{self.label}: detectors {d!r} need shape (maps, height, width), got {list(sd)}")
        K, H, W = sd
        C1, C2 = self.size
        if H % C1 or W % C2:
            raise GraphError(f"{self.label}: detector maps {H}x{W} do not split into {C1}x{C2} pooling blocks")
        if self.shapes[p] != (K, H // C1, W // C2):
            raise GraphError(f"{self.label}: pooling group {p!r} needs shape {[K, H // C1, W // C2]}, "
                             f"got {list(self.shapes[p])}")

    def joint_groups(self):
        return [self.groups]

    def joint_distribution(self):
        return CategoricalOff(self)

    def _valid(self, xp, states):
        dist = CategoricalOff(self)
        d, p = self.groups
        on = dist._blocks(states[d]).sum(axis=2)
        return (on <= 1).all(axis=1) & (on == states[p]).all(axis=1)

    def energy(self, xp, states, params):
        return xp.where(self._valid(xp, states), 0.0, np.inf)

    def field_terms(self, target, index, params, backend, chains):
        return []  # the constraint lives in the joint distribution, not in the slots

    def statistics(self, xp, states, weights, params):
        return {}

    def unit_terms(self):
        return UnitTerms()

    def unit_variables(self):
        d, p = self.groups
        K, H, W = self.shapes[d]
        C1, C2 = self.size
        n = C1 * C2
        flat_d = np.arange(K * H * W).reshape(K, H // C1, C1, W // C2, C2).transpose(0, 1, 3, 2, 4)
        flat_d = flat_d.reshape(K, H // C1, W // C2, n)
        out = []
        for k, bi, bj in np.ndindex(K, H // C1, W // C2):
            unit_p = (k * (H // C1) + bi) * (W // C2) + bj
            members = [(d, int(flat_d[k, bi, bj, m]), np.eye(n + 1)[m + 1]) for m in range(n)]
            members.append((p, int(unit_p), np.r_[0.0, np.ones(n)]))
            out.append((f"{d}|{p}[{k},{bi},{bj}]", n + 1, members))
        return out

    def describe(self):
        return f"{self.size[0]}x{self.size[1]} blocks"

    def structure(self):
        return {"size": list(self.size)}

    @classmethod
    def from_spec(cls, spec):
        d, p = spec.groups(2)
        size = spec.get("size", (int, list), 2, "a positive integer or [rows, cols]")
        return cls(d, p, size, name=spec.name)
