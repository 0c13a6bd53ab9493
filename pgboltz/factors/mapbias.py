"""Map bias: one bias per map of a (maps, height, width) group, shared by all its units.

    E = - sum_k c_k sum_{i,j} x[k, i, j]        linear[k, i, j] += c_k

The detector maps of a convolutional RBM share one bias per map as they share one kernel
(Lee et al. 2009), keeping the model translation-invariant. A sparsity target compares each
c_k with the mean activation of its whole map.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from .base import Factor, FieldTerm, UnitTerms


class _MapBiasTerm(FieldTerm):
    copies_params = False
    writes = False

    def __init__(self, c, per_map, index, backend):
        self.c, self.per_map = c, per_map
        self.index = None if index is None else backend.asarray(np.asarray(index) // per_map, dtype=np.intp)

    def __call__(self, states, out, add, rows=slice(None)):
        o = out[rows]
        if self.index is not None:
            value = self.c[self.index]
            if add:
                o += value
            else:
                o[...] = value
            return
        o = o.reshape((o.shape[0], len(self.c), self.per_map))
        if add:
            o += self.c[None, :, None]
        else:
            o[...] = self.c[None, :, None]


class MapBias(Factor):
    """``c`` (maps,) on a group of shape (maps, ...)."""

    kind = "map_bias"
    multilinear = True
    spec_keys = ("group",)

    def __init__(self, group: str, c, name=None):
        super().__init__((group,), {"c": c}, name)

    @property
    def group(self):
        return self.groups[0]

    @property
    def per_map(self):
        return self.sizes[self.group] // self.params["c"].size

    def check_params(self):
        shape = self.shapes[self.group]
        if len(shape) < 2:
            raise GraphError(f"{self.label}: group {self.group!r} needs shape (maps, ...), got {list(shape)}")
        self._expect_shape("c", (shape[0],))

    def energy(self, xp, states, params):
        x = states[self.group].reshape((-1, params["c"].size, self.per_map))
        return -(x.sum(axis=2) @ params["c"])

    def statistics(self, xp, states, weights, params):
        x = states[self.group].reshape((-1, params["c"].size, self.per_map))
        return {"c": weights @ x.sum(axis=2)}

    def field_term(self, target, index, params, backend, chains):
        if target != self.group:
            raise GraphError(f"{self.label} does not touch group {target!r}")
        return _MapBiasTerm(params["c"], self.per_map, index, backend)

    def unit_terms(self):
        n = self.sizes[self.group]
        return UnitTerms().add((self.group,), (np.arange(n),), np.repeat(self.params["c"], self.per_map))

    def param_role(self, name):
        return "bias"

    def sparsity_mean(self, name, group_mean):
        """Mean activation of each map (what the sparsity target compares ``c_k`` with)."""
        return group_mean.reshape(self.params["c"].size, -1).mean(axis=1)

    @classmethod
    def from_spec(cls, spec):
        g = spec.group()
        shape = spec.shape(g)
        if len(shape) < 2:
            raise spec.error("group", f"a map bias needs a group of shape [maps, ...], {g!r} has {list(shape)}")
        return cls(g, spec.param("c", (shape[0],)), name=spec.name)
