"""Groups: named, tensor-shaped collections of units of one type."""

from __future__ import annotations

import math
import re

import numpy as np
from dataclasses import dataclass

from ..errors import GraphError
from ..units import UnitType, unit_type

ROLES = ("visible", "hidden", "input")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Group:
    """A layer of ``size = prod(shape)`` units of one ``units`` type.

    ``role`` is ``'visible'`` (data is clamped here in the positive phase), ``'hidden'``, or
    ``'input'``: always clamped, in both training phases and when sampling, to per-chain
    values given with the data (a conditional RBM's history frames, an RNN-RBM's emitted
    biases). Inputs condition the model; they are never sampled.
    States of a group are stored flat, ``(chains, size)``, and shown to users as
    ``(chains, *shape)``.
    """

    name: str
    shape: tuple
    units: UnitType
    role: str = "hidden"

    @classmethod
    def make(cls, name, shape, units="bernoulli", role="hidden") -> "Group":
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise GraphError(f"group name {name!r} must be an identifier (letters, digits, '_', not starting with a digit)")
        if isinstance(shape, int):
            shape = (shape,)
        shape = tuple(shape) if isinstance(shape, (list, tuple)) else (shape,)
        if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in shape):
            raise GraphError(f"group {name!r}: shape must be a list of positive integers, got {list(shape)!r}")
        shape = tuple(int(s) for s in shape)
        if not shape or any(s < 1 for s in shape):
            raise GraphError(f"group {name!r}: shape must be a non-empty list of positive integers, got {list(shape)}")
        if role not in ROLES:
            raise GraphError(f"group {name!r}: role must be one of {', '.join(ROLES)}, got {role!r}")
        try:
            units = unit_type(units)
        except ValueError as exc:
            raise GraphError(f"group {name!r}: {exc}") from None
        if units.name == "real" and role != "input":
            raise GraphError(f"group {name!r}: real units are never sampled, so they need role = \"input\"")
        return cls(name, shape, units, role)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def unit_name(self, flat_index: int) -> str:
        """String name of one unit, e.g. ``v[3]`` or ``s[1,2]`` (pgmpy needs string names)."""
        if len(self.shape) == 1:
            return f"{self.name}[{flat_index}]"
        idx = []
        for s in reversed(self.shape):
            idx.append(flat_index % s)
            flat_index //= s
        return f"{self.name}[{','.join(map(str, reversed(idx)))}]"
