"""2-D nearest-neighbour lattice factor on one group of shape (H, W).

    E = - sum_{r,c} J_right[r,c] x[r,c] x[r,c+1] - sum_{r,c} J_down[r,c] x[r,c] x[r+1,c]

Indices wrap around when ``periodic``; otherwise the bonds leaving the last
column / row do not exist and their couplings must be 0. A uniform ferromagnet
is ``J_right = J_down = J``; spin glasses use random couplings per bond.

    theta[r,c] += J_right[r,c] x[r,c+1] + J_right[r,c-1] x[r,c-1]
                + J_down[r,c]  x[r+1,c] + J_down[r-1,c]  x[r-1,c]

computed as four shifted products on slices (a stencil), with no allocation.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from ..graph.schedule import checkerboard_parity
from .base import Coupling, Factor, FieldTerm, UnitTerms


def _shift_mul(xp, x, J, axis, step, out):
    """out[..., c, ...] = J[c] * x[..., c + step, ...] along ``axis`` (1 or 2) with wrap-around."""
    n = x.shape[axis]

    def sl(a, b):
        s = [slice(None)] * 3
        s[axis] = slice(a, b)
        return tuple(s)

    def jl(a, b):
        s = [slice(None)] * 2
        s[axis - 1] = slice(a, b)
        return tuple(s)

    if step == 1:
        xp.multiply(x[sl(1, n)], J[jl(0, n - 1)], out=out[sl(0, n - 1)])
        xp.multiply(x[sl(0, 1)], J[jl(n - 1, n)], out=out[sl(n - 1, n)])
    else:
        xp.multiply(x[sl(0, n - 1)], J[jl(1, n)], out=out[sl(1, n)])
        xp.multiply(x[sl(n - 1, n)], J[jl(0, 1)], out=out[sl(0, 1)])


class _HalfLattice:
    """The field on one checkerboard half only. The other colour's sites are first copied into compact
    quarters ``other[:, a]`` (rows of parity a, that colour's sites of each row in order); each site's
    four neighbours are then entries of those quarters at the same or the adjacent row or column,
    directly or shifted by one with wrap-around. Every product runs on contiguous quarter arrays, each
    neighbour is read once and no full-lattice field is formed; the result is copied into the half's
    row-major order at the end."""

    def __init__(self, parity, shape, J_right, J_down, backend, chains):
        xp = backend.xp
        H, W = shape
        self.xp, self.shape = xp, shape
        J_left, J_up = xp.roll(J_right, 1, axis=1), xp.roll(J_down, 1, axis=0)
        self.quarters = []  # (row parity a, [(J, source quarter, axis, step)])
        for a in (0, 1):
            s = (parity + a) % 2  # the half's first column in rows of parity a
            q = lambda J: xp.ascontiguousarray(J[a::2, s::2])  # noqa: E731
            dirs = [(q(J_right), a, 2, 0 if s == 0 else 1),   # right neighbour: column s + 1 + 2k
                    (q(J_left), a, 2, 0 if s == 1 else -1),   # left: column s - 1 + 2k
                    (q(J_down), 1 - a, 1, 0 if a == 0 else 1),  # down: row a + 1 + 2i
                    (q(J_up), 1 - a, 1, 0 if a == 1 else -1)]   # up: row a - 1 + 2i
            self.quarters.append((a, dirs))
        quarter = (chains, H // 2, W // 2)
        self.scratch, self.result = backend.empty(quarter), backend.empty((2,) + quarter)
        self.other = backend.empty((2,) + quarter)
        self.other_cols = [1 - (parity + a) % 2 for a in (0, 1)]  # the other colour's first column, by row parity

    def __call__(self, x, out, add, rows):
        """x: (chains, H, W) states; out: (chains, H * W / 2) in the index's order (row-major over the half)."""
        xp = self.xp
        H, W = self.shape
        out3 = out.reshape(out.shape[0], H, W // 2)
        scratch = self.scratch[rows]
        for a, c in enumerate(self.other_cols):
            self.other[a][rows] = x[:, a::2, c::2]
        for a, dirs in self.quarters:
            o = self.result[a][rows]
            for k, (J, src, axis, step) in enumerate(dirs):
                target = o if k == 0 else scratch
                if step == 0:
                    xp.multiply(self.other[src][rows], J, out=target)
                else:
                    _shift_mul(xp, self.other[src][rows], J, axis, step, target)
                if k:
                    o += scratch
            if add:
                out3[:, a::2, :] += o
            else:
                out3[:, a::2, :] = o


class _LatticeTerm(FieldTerm):
    def __init__(self, group, shape, J_right, J_down, index, backend, chains):
        xp = backend.xp
        self.xp, self.backend, self.group, self.shape = xp, backend, group, shape
        parity = checkerboard_parity(None if index is None else np.asarray(index), shape)
        self.half = None if parity is None else _HalfLattice(parity, shape, J_right, J_down, backend, chains)
        if self.half is not None:
            return
        # (coupling array, axis of the (chains, H, W) state, neighbour step)
        self.dirs = [
            (J_right, 2, 1),
            (xp.roll(J_right, 1, axis=1), 2, -1),
            (J_down, 1, 1),
            (xp.roll(J_down, 1, axis=0), 1, -1),
        ]
        self.scratch = backend.empty((chains,) + shape)
        self.index = None if index is None else backend.asarray(index, dtype=np.intp)
        if self.index is not None:
            self.full = backend.empty((chains,) + shape)
            self.picked = backend.empty((chains, len(index)))

    def _full_field(self, x, out, add, rows):
        s = self.scratch[rows]
        for k, (J, axis, step) in enumerate(self.dirs):
            if k == 0 and not add:
                _shift_mul(self.xp, x, J, axis, step, out)
            else:
                _shift_mul(self.xp, x, J, axis, step, s)
                out += s

    def __call__(self, states, out, add, rows=slice(None)):
        x = states[self.group][rows].reshape((-1,) + self.shape)
        out = out[rows]
        if self.half is not None:
            self.half(x, out, add, rows)
            return
        if self.index is None:
            self._full_field(x, out.reshape((-1,) + self.shape), add, rows)
            return
        full = self.full[rows]
        self._full_field(x, full, False, rows)
        flat = full.reshape(full.shape[0], -1)
        if add:
            picked = self.picked[rows]
            self.backend.take_columns(flat, self.index, picked)
            out += picked
        else:
            self.backend.take_columns(flat, self.index, out)


class Lattice2D(Factor):
    kind = "lattice"
    multilinear = True
    spec_keys = ("group", "periodic")

    def __init__(self, group: str, J_right, J_down, periodic: bool = True, name=None):
        super().__init__((group,), {"J_right": J_right, "J_down": J_down}, name)
        self.periodic = bool(periodic)

    @property
    def group(self):
        return self.groups[0]

    def check_params(self):
        shape = self.shapes[self.group]
        if len(shape) != 2:
            raise GraphError(f"{self.label}: a lattice needs a 2-D group, but {self.group!r} has shape {shape}")
        H, W = shape
        if self.periodic and min(H, W) < 3:
            raise GraphError(
                f"{self.label}: a periodic lattice needs at least 3 rows and columns (got {H}x{W}); "
                "with 2 the wrap-around bond would duplicate the inner one -- use periodic = false"
            )
        for key in ("J_right", "J_down"):
            J = self.params[key]
            if J.ndim == 0:
                J = np.full(shape, float(J))
            self.params[key] = J
            self._expect_shape(key, shape)
        if not self.periodic:
            if np.any(self.params["J_right"][:, -1] != 0) or np.any(self.params["J_down"][-1, :] != 0):
                raise GraphError(
                    f"{self.label}: open boundary, but J_right[:, -1] or J_down[-1, :] is non-zero "
                    "(those bonds leave the lattice); set them to 0 or use periodic = true"
                )

    def _mask(self):
        H, W = self.shapes[self.group]
        right = np.ones((H, W), bool)
        down = np.ones((H, W), bool)
        if not self.periodic:
            right[:, -1] = False
            down[-1, :] = False
        return right, down

    def n_parameters(self):
        right, down = self._mask()
        return int(right.sum() + down.sum())

    def _bonds(self):
        """(i, j, w) flat-index bonds that exist."""
        H, W = self.shapes[self.group]
        r, c = np.indices((H, W))
        right, down = self._mask()
        idx = lambda rr, cc: (rr % H) * W + (cc % W)  # noqa: E731
        i = np.concatenate([idx(r, c)[right], idx(r, c)[down]])
        j = np.concatenate([idx(r, c + 1)[right], idx(r + 1, c)[down]])
        w = np.concatenate([self.params["J_right"][right], self.params["J_down"][down]])
        return i, j, w

    def couplings(self):
        i, j, _ = self._bonds()
        return [Coupling(self.group, self.group, i, j)]

    def energy(self, xp, states, params):
        x = states[self.group].reshape((-1,) + self.shapes[self.group])
        e = (params["J_right"] * x * xp.roll(x, -1, axis=2)).sum(axis=(1, 2))
        e += (params["J_down"] * x * xp.roll(x, -1, axis=1)).sum(axis=(1, 2))
        return -e

    def statistics(self, xp, states, weights, params):
        x = states[self.group].reshape((-1,) + self.shapes[self.group])
        w = weights[:, None, None]
        right, down = (xp.asarray(m) for m in self._mask())
        return {"J_right": (w * x * xp.roll(x, -1, axis=2)).sum(axis=0) * right,
                "J_down": (w * x * xp.roll(x, -1, axis=1)).sum(axis=0) * down}

    def field_term(self, target, index, params, backend, chains):
        if target != self.group:
            raise GraphError(f"{self.label} does not touch group {target!r}")
        return _LatticeTerm(
            self.group, self.shapes[self.group], params["J_right"], params["J_down"], index, backend, chains
        )

    def parity_colouring(self) -> np.ndarray | None:
        """Checkerboard colours (flat) if they are a proper 2-colouring of this lattice, else None."""
        H, W = self.shapes[self.group]
        if self.periodic and (H % 2 or W % 2):
            return None
        r, c = np.indices((H, W))
        return ((r + c) % 2).ravel()

    def unit_terms(self):
        i, j, w = self._bonds()
        return UnitTerms().add((self.group, self.group), (i, j), w)

    def describe(self):
        return "periodic" if self.periodic else "open boundary"

    def structure(self):
        return {"periodic": self.periodic}

    @classmethod
    def from_spec(cls, spec):
        g = spec.group()
        periodic = spec.get("periodic", bool, True, "true or false")
        shape = spec.shape(g)
        if len(shape) != 2:
            raise spec.error("group", f"a lattice needs a 2-D group; {g!r} has shape {list(shape)}")
        Jr, Jd = spec.param("J_right", shape, single=False), spec.param("J_down", shape, single=False)
        if not periodic:  # bonds leaving an open lattice do not exist: a draw or one number fills only real ones;
            for J, edge in ((Jr, (slice(None), -1)), (Jd, (-1, slice(None)))):  # explicit arrays are checked
                if spec.broadcast(J is Jr and "J_right" or "J_down"):
                    J[edge] = 0.0
        return cls(g, Jr, Jd, periodic=periodic, name=spec.name)
