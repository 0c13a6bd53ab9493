"""Sparse pairwise factor from an edge list, between two groups or within one.

    E = - sum_e w_e * x_a[i_e] * x_b[j_e]
    theta_b[j] += sum_{e: j_e = j} w_e x_a[i_e]   (and symmetrically for a)

Custom topologies (king's graphs, Chimera/Pegasus-like graphs, anything from an
edge list) are written with this factor. On the CPU with compiled kernels (Numba), fields are a compiled
loop over CSR rows on chains transposed to (units, chains) (:class:`_CsrRowsTerm`). Without them, fields
are computed from
padded neighbour lists (ELL layout), ``theta[:, i] = sum_k w[i, k] x[:, nbr[i, k]]``: per bucket of
units of similar degree (a hub pads only its bucket), one gather of the neighbours' states and one
weighted sum (``einsum``), on a few chains at a time transposed to (units, chains) so that the gathers
copy whole rows (:class:`_EllTerm`). The work arrays are per thread, within a few times
``ROWS_IN_CACHE_BYTES``, and reused: nothing is allocated per call. A backend with sparse
matrices (CuPy: cuSPARSE) computes them as one CSR product per update instead, ``theta = x @ A.T``
with A the weights of the updated units' rows (:meth:`pgboltz.backends.Backend.csr`).
"""

from __future__ import annotations

import threading

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


def csr_layout(rows: np.ndarray, cols: np.ndarray, edge: np.ndarray, n_rows: int):
    """Contributions sorted by row (then column) as CSR: ``(indptr, cols, edge)``."""
    order = np.lexsort((cols, rows))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))]).astype(np.int64)
    return indptr, cols[order], edge[order]


#: bytes of source rows a neighbour-list field works on at once (about a core's share of the last-level cache)
ROWS_IN_CACHE_BYTES = 4 << 20

_local = threading.local()


def _work(n: int, dtype) -> np.ndarray:
    """A flat work array of ``n`` elements, one per thread, shared by every neighbour-list term (each call
    uses it start to finish on its own thread), grown when a call needs more."""
    dtype = np.dtype(dtype)
    buf = getattr(_local, "buf", None)
    if buf is None or buf.nbytes < n * dtype.itemsize:
        buf = _local.buf = np.empty(n * dtype.itemsize, dtype=np.uint8)
    return buf[:n * dtype.itemsize].view(dtype)


class _EllTerm(FieldTerm):
    """theta[:, i] (+)= sum_k w[i, k] x[:, nbr[i, k]], from neighbour lists bucketed by degree (NumPy).

    Gathering columns of the ``(chains, units)`` states is slow (0.6 ns per element: NumPy's take along
    the second axis copies one element at a time), gathering rows is fast (whole rows of contiguous
    chains). So a few chains at a time (``ROWS_IN_CACHE_BYTES`` of source rows) are transposed once into a
    ``(units, chains)`` work array; then, for each bucket of units of similar degree (up to a power of
    two: a hub pads only its own bucket), a few units at a time, one gather of their neighbours' rows and
    one weighted sum over the neighbours (``einsum``); the sums are transposed back. Every step releases
    the GIL, so row chunks run in parallel, and the number of array calls does not grow with the degree.
    The weights are derived from the device edge weights ``w`` (a copy: rebuilt when ``w`` changes)."""

    def __init__(self, source, nbr, slot_edge, w, backend):
        self.backend, self.source = backend, source
        xp = backend.xp
        padded = xp.concatenate([w, xp.zeros(1, dtype=w.dtype)])  # edge -1 reads the appended 0
        degree = (slot_edge >= 0).sum(axis=1)
        self.n_part = nbr.shape[0]
        bucket = np.ceil(np.log2(np.maximum(degree, 1))).astype(int)
        #: (units, or None for all units in order; their neighbours, flat; weights (n, K); n; K)
        self.buckets = []
        for b in np.unique(bucket[degree > 0]):
            units = np.flatnonzero((bucket == b) & (degree > 0))
            k = int(degree[units].max())
            cols = backend.asarray(nbr[units, :k].reshape(-1), dtype=np.intp)
            ws = padded[backend.asarray(slot_edge[units, :k], dtype=np.intp)]
            every = len(units) == self.n_part
            self.buckets.append((None if every else backend.asarray(units, dtype=np.intp), cols, ws, len(units), k))
        self.isolated = None if degree.all() else backend.asarray(np.flatnonzero(degree == 0), dtype=np.intp)

    def __call__(self, states, out, add, rows=slice(None)):
        x, out = states[self.source][rows], out[rows]
        if not self.buckets:
            if not add:
                out[...] = 0
            return
        step = max(16, ROWS_IN_CACHE_BYTES // max(1, x.shape[1] * x.itemsize))
        for r in range(0, x.shape[0], step):
            self._rows(x[r:r + step], out[r:r + step], add)

    @staticmethod
    def _units_at_once(width, m, itemsize) -> int:
        """Units of a bucket gathered at once: their neighbours' rows fill at most ROWS_IN_CACHE_BYTES."""
        return max(1, ROWS_IN_CACHE_BYTES // (width * m * itemsize))

    def _rows(self, x, out, add):
        take = self.backend.take_rows
        m, n_source = x.shape
        gathered = max(min(n, self._units_at_once(k, m, x.itemsize)) * k * m for *_, n, k in self.buckets)
        sizes = [n_source * m, self.n_part * m, self.n_part * m, gathered]
        work = _work(sum(sizes), x.dtype)
        xt, acc, bucket_acc, g = (work[a:a + n] for a, n in zip(np.cumsum([0] + sizes[:-1]), sizes))
        xt, acc = xt.reshape(n_source, m), acc.reshape(self.n_part, m)
        np.copyto(xt, x.T)
        if self.isolated is not None:
            acc[self.isolated] = 0
        for units, cols, ws, n, k in self.buckets:
            a = acc if units is None else bucket_acc[:n * m].reshape(n, m)
            per = self._units_at_once(k, m, x.itemsize)
            for u in range(0, n, per):
                e = min(n, u + per)
                rows = g[:(e - u) * k * m].reshape((e - u) * k, m)
                take(xt, cols[u * k:e * k], rows)
                np.einsum("nk,nkm->nm", ws[u:e], rows.reshape(e - u, k, m), out=a[u:e])
            if units is not None:
                acc[units] = a
        if add:
            out += acc.T
        else:
            out[...] = acc.T


class _CsrTerm(FieldTerm):
    """``theta = x_source @ A.T``: A (n_part, n_source) in CSR, its values gathered from the device
    edge weights (a copy: rebuilt when ``w`` changes)."""

    def __init__(self, source, rows, cols, edge, n_rows, n_cols, w, backend):
        indptr, cols, edge = csr_layout(rows, cols, edge, n_rows)
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


class _CsrRowsTerm(FieldTerm):
    """theta[:, i] (+)= sum_k w_k x[:, col_k] over the CSR row of unit i, by a compiled loop
    (:attr:`pgboltz.backends.Backend.csr_rows`).

    A few chains at a time (``ROWS_IN_CACHE_BYTES`` of source rows) are transposed into a ``(units,
    chains)`` work array, so that each edge adds one whole contiguous row of chains (a vectorised
    multiply-add; no padding, so hubs cost their degree and no more), and the sums are transposed back.
    On Pegasus-16 with 64 chains a colour class takes 1.2 ns per unit and chain, against 6-8 ns for the
    gathers and ``einsum`` of :class:`_EllTerm`. The weights are copied from the device edge weights
    (rebuilt when ``w`` changes)."""

    def __init__(self, source, rows, cols, edge, n_rows, w, backend):
        self.indptr, cols, edge = csr_layout(rows, cols, edge, n_rows)
        self.indices = np.ascontiguousarray(cols, dtype=np.int64)
        self.data = np.ascontiguousarray(w[np.asarray(edge, dtype=np.intp)])
        self.source, self.n_part, self.kernel = source, n_rows, backend.csr_rows

    def csr(self):
        return self.source, self.indptr, self.indices, self.data

    def __call__(self, states, out, add, rows=slice(None)):
        x, out = states[self.source][rows], out[rows]
        m, n_source = x.shape
        step = max(16, ROWS_IN_CACHE_BYTES // max(1, n_source * x.itemsize))
        for r in range(0, m, step):
            xs, o = x[r:r + step], out[r:r + step]
            b = xs.shape[0]
            work = _work((n_source + self.n_part) * b, x.dtype)
            xt, acc = work[:n_source * b].reshape(n_source, b), work[n_source * b:].reshape(self.n_part, b)
            np.copyto(xt, xs.T)
            self.kernel(xt, self.indptr, self.indices, self.data, acc)
            if add:
                o += acc.T
            else:
                o[...] = acc.T


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
        if backend.has_sparse or backend.csr_rows is not None:
            n_rows = self.sizes[target]
            if index is not None:  # keep the part's units, renumbered in the order of ``index``
                position = np.full(n_rows, -1)
                position[np.asarray(index)] = np.arange(len(index))
                keep = position[rows] >= 0
                rows, cols, e, n_rows = position[rows[keep]], cols[keep], e[keep], len(index)
            if backend.has_sparse:
                return _CsrTerm(source, rows, cols, e, n_rows, self.sizes[source], params["w"], backend)
            return _CsrRowsTerm(source, rows, cols, e, n_rows, params["w"], backend)
        nbr, slot_edge = ell_layout(rows, cols, e, self.sizes[target])
        if index is not None:
            nbr, slot_edge = nbr[index], slot_edge[index]
        return _EllTerm(source, nbr, slot_edge, params["w"], backend)

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
