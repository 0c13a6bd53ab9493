"""Sparse pairwise factor from an edge list, between two groups or within one.

    E = - sum_e w_e * x_a[i_e] * x_b[j_e]
    theta_b[j] += sum_{e: j_e = j} w_e x_a[i_e]   (and symmetrically for a)

Custom topologies (king's graphs, Chimera/Pegasus-like graphs, anything from an
edge list) are written with this factor. On the CPU, fields are computed from
padded neighbour lists (ELL layout): for each neighbour slot k,
``theta += w[:, k] * x[:, nbr[:, k]]`` -- one gather and one multiply-add per slot,
no allocation. A backend with sparse matrices (CuPy: cuSPARSE) computes them as one
CSR product per update instead, ``theta = x @ A.T`` with A the weights of the updated
units' rows (:meth:`pgboltz.backends.Backend.csr`).
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from .base import Coupling, Factor, FieldTerm, UnitTerms


def ell_layout(rows: np.ndarray, cols: np.ndarray, edge: np.ndarray, n_rows: int):
    """Padded neighbour lists: nbr, slot_edge of shape (n_rows, K), K = max row degree.

    ``slot_edge`` names the edge whose weight fills each slot; pads point at unit 0
    and at edge -1, which reads a weight of 0."""
    order = np.argsort(rows, kind="stable")
    rows, cols, edge = rows[order], cols[order], edge[order]
    degree = np.bincount(rows, minlength=n_rows)
    k_max = int(degree.max(initial=0))
    nbr = np.zeros((n_rows, k_max), dtype=np.intp)
    slot_edge = np.full((n_rows, k_max), -1, dtype=np.intp)
    start = np.concatenate([[0], np.cumsum(degree)[:-1]])
    slot = np.arange(len(rows)) - start[rows]
    nbr[rows, slot] = cols
    slot_edge[rows, slot] = edge
    return nbr, slot_edge


#: bytes of source rows a neighbour-list field works on at once (about a core's share of the last-level cache)
ROWS_IN_CACHE_BYTES = 4 << 20


class _EllTerm(FieldTerm):
    """Derives per-slot weights from the device edge weights ``w`` (a copy: rebuilt when ``w`` changes)."""

    def __init__(self, source, nbr, slot_edge, w, backend, chains):
        self.backend, self.source = backend, source
        xp = backend.xp
        padded = xp.concatenate([w, xp.zeros(1, dtype=w.dtype)])  # edge -1 reads the appended 0
        self.cols = [backend.asarray(nbr[:, k], dtype=np.intp) for k in range(nbr.shape[1])]
        self.ws = [xp.ascontiguousarray(padded[backend.asarray(slot_edge[:, k], dtype=np.intp)])
                   for k in range(slot_edge.shape[1])]
        self.scratch = backend.empty((chains, nbr.shape[0]))

    def __call__(self, states, out, add, rows=slice(None)):
        x, s, out = states[self.source][rows], self.scratch[rows], out[rows]
        if not self.cols:
            if not add:
                out[...] = 0
            return
        # the gathers read scattered columns of x: a few rows at a time keep those rows in cache across
        # all neighbour slots (1000 chains of 14,000 units: 3x faster than all rows per slot)
        step = max(16, ROWS_IN_CACHE_BYTES // max(1, x.shape[1] * x.itemsize))
        for r in range(0, x.shape[0], step):
            self._rows(x[r:r + step], s[r:r + step], out[r:r + step], add)

    def _rows(self, x, s, out, add):
        take = self.backend.take_columns
        for k, (col, w) in enumerate(zip(self.cols, self.ws)):
            if k == 0 and not add:
                take(x, col, out)
                out *= w
            else:
                take(x, col, s)
                s *= w
                out += s


class _CsrTerm(FieldTerm):
    """``theta = x_source @ A.T``: A (n_part, n_source) in CSR, its values gathered from the device
    edge weights (a copy: rebuilt when ``w`` changes)."""

    def __init__(self, source, rows, cols, edge, n_rows, n_cols, w, backend):
        order = np.lexsort((cols, rows))
        rows, cols, edge = rows[order], cols[order], edge[order]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
        data = w[backend.asarray(edge, dtype=np.intp)]
        self.source = source
        self.A = backend.csr(data, backend.asarray(cols, dtype=np.int32), backend.asarray(indptr, dtype=np.int32),
                             (n_rows, n_cols))

    def __call__(self, states, out, add, rows=slice(None)):
        product = (self.A @ states[self.source][rows].T).T
        if add:
            out[rows] += product
        else:
            out[rows] = product


class Sparse(Factor):
    kind = "sparse"
    multilinear = True
    spec_keys = ("groups", "edges", "edges_file")

    def __init__(self, group_a: str, group_b: str, edges, w, name=None):
        super().__init__((group_a, group_b), {"w": w}, name)
        edges = np.asarray(edges)
        if edges.size == 0:
            edges = edges.reshape(0, 2)
        if edges.ndim != 2 or edges.shape[1] != 2:
            raise GraphError(f"{self.label}: edges must be a list of [i, j] pairs, got an array of shape {edges.shape}")
        if not np.issubdtype(edges.dtype, np.integer):
            if not np.all(edges == np.round(edges)):
                raise GraphError(f"{self.label}: edge endpoints must be integers")
            edges = edges.astype(np.int64)
        self.edges = edges.astype(np.intp)

    @property
    def intra(self):
        return self.groups[0] == self.groups[1]

    def check_params(self):
        a, b = self.groups
        i, j = self.edges[:, 0], self.edges[:, 1]
        self._expect_shape("w", (len(self.edges),))
        for name, idx, g in (("first", i, a), ("second", j, b)):
            bad = (idx < 0) | (idx >= self.sizes[g])
            if bad.any():
                e = int(np.flatnonzero(bad)[0])
                raise GraphError(
                    f"{self.label}: edge {e} = {self.edges[e].tolist()} has {name} endpoint outside group "
                    f"{g!r} (units 0..{self.sizes[g] - 1})"
                )
        if self.intra:
            loops = np.flatnonzero(i == j)
            if loops.size:
                e = int(loops[0])
                raise GraphError(f"{self.label}: edge {e} = {self.edges[e].tolist()} is a self-loop; use a bias factor")
            key = np.sort(self.edges, axis=1)
        else:
            key = self.edges
        _, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
        if np.any(counts > 1):
            dup = key[first[np.argmax(counts > 1)]].tolist()
            raise GraphError(f"{self.label}: duplicate edge {dup}; merge duplicate edges into one weight")

    def n_parameters(self):
        return len(self.edges)

    def couplings(self):
        return [Coupling(self.groups[0], self.groups[1], self.edges[:, 0], self.edges[:, 1])]

    def energy(self, xp, states, params):
        a, b = self.groups
        i = xp.asarray(self.edges[:, 0])
        j = xp.asarray(self.edges[:, 1])
        return -((states[a][:, i] * states[b][:, j]) @ params["w"])

    def statistics(self, xp, states, weights, params):
        a, b = self.groups
        i, j = xp.asarray(self.edges[:, 0]), xp.asarray(self.edges[:, 1])
        return {"w": weights @ (states[a][:, i] * states[b][:, j])}

    def _rows_for(self, target):
        """(rows in target, source group, cols in source, edge index) of every contribution to target."""
        a, b = self.groups
        i, j = self.edges[:, 0], self.edges[:, 1]
        e = np.arange(len(i))
        if self.intra:
            return np.concatenate([i, j]), a, np.concatenate([j, i]), np.concatenate([e, e])
        if target == b:
            return j, a, i, e
        if target == a:
            return i, b, j, e
        raise GraphError(f"{self.label} does not touch group {target!r}")

    def field_term(self, target, index, params, backend, chains):
        rows, source, cols, e = self._rows_for(target)
        if backend.has_sparse:
            n_rows = self.sizes[target]
            if index is not None:  # keep the part's units, renumbered in the order of ``index``
                position = np.full(n_rows, -1)
                position[np.asarray(index)] = np.arange(len(index))
                keep = position[rows] >= 0
                rows, cols, e, n_rows = position[rows[keep]], cols[keep], e[keep], len(index)
            return _CsrTerm(source, rows, cols, e, n_rows, self.sizes[source], params["w"], backend)
        nbr, slot_edge = ell_layout(rows, cols, e, self.sizes[target])
        if index is not None:
            nbr, slot_edge = nbr[index], slot_edge[index]
        return _EllTerm(source, nbr, slot_edge, params["w"], backend, chains)

    def unit_terms(self):
        return UnitTerms().add(self.groups, (self.edges[:, 0], self.edges[:, 1]), self.params["w"])

    def describe(self):
        return f"{len(self.edges)} edges"

    def structure_arrays(self):
        return {"edges": self.edges}

    @classmethod
    def from_spec(cls, spec):
        a, b = spec.groups(2)
        edges = spec.edges()
        return cls(a, b, edges, spec.param("w", (len(edges),)), name=spec.name)
