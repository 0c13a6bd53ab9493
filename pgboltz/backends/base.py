"""The backend interface: every array operation in pgboltz goes through one of these.

A backend bundles

* ``xp`` -- the array namespace (``numpy`` or ``cupy``),
* ``dtype`` -- float32 or float64 for states, fields and parameters,
* seeded random *streams*: the chains (axis 0) are cut into a fixed number of
  contiguous row chunks and chunk ``k`` always draws from stream ``k``. The cut
  depends only on the number of chains and the number of streams, never on how
  many threads run them, so the same seed on the same backend gives the same
  result everywhere.

``map_rows(fn, n_rows)`` runs ``fn(k, rows)`` for every chunk; the NumPy backend
spreads the chunks over a thread pool (NumPy's ufuncs and generators release the
GIL), the CuPy backend runs one chunk covering all rows on the device.
"""

from __future__ import annotations

import numpy as np

DTYPES = {"float32": np.float32, "float64": np.float64}


def resolve_dtype(dtype) -> np.dtype:
    """np.dtype for 'float32' / 'float64' (or the dtypes themselves); anything else is refused."""
    key = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if key not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return np.dtype(DTYPES[key])


def row_chunks(n_rows: int, n_chunks: int) -> list[slice]:
    """Split ``range(n_rows)`` into ``n_chunks`` contiguous slices (some may be empty)."""
    bounds = np.linspace(0, n_rows, n_chunks + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def fused_family(units, slots):
    """Which fused kernel draws units of type ``units`` from the slots ``slots``: ``("binary", lo, hi)``
    (two states, a linear slot), ``("gaussian",)`` (a diagonal precision) or None (the array code)."""
    slots = set(slots)
    support = getattr(units, "support", None)
    if support is not None and len(support) == 2 and slots == {"linear"}:
        lo, hi = (float(v) for v in support)
        return ("binary", lo, hi)
    if units.name == "gaussian" and slots == {"linear", "precision"}:
        return ("gaussian",)
    return None


class Backend:
    """Abstract backend; see the module docstring."""

    name = "abstract"
    xp = None

    def __init__(self, seed: int = 0, dtype="float32", streams: int = 1):
        self.dtype = resolve_dtype(dtype)
        self.seed = int(seed)
        self.n_streams = int(streams)
        if self.n_streams < 1:
            raise ValueError(f"streams must be >= 1, got {streams}")
        self.reseed(self.seed)

    def reseed(self, entropy) -> None:
        """Recreate every random stream from ``entropy`` (an int or a list of ints)."""
        seeds = np.random.SeedSequence(entropy).spawn(self.n_streams)
        self.streams = [self._make_generator(s) for s in seeds]
        #: a host generator for initial states, independent of the sampling streams
        self.host_rng = np.random.default_rng(np.random.SeedSequence([*np.atleast_1d(entropy).tolist(), 0x5EED]))

    # -- to implement ------------------------------------------------------
    def _make_generator(self, seed_seq):
        raise NotImplementedError

    def uniform_(self, stream: int, out) -> None:
        """Fill ``out`` (C-contiguous, backend dtype) with U[0, 1) from stream ``stream``."""
        raise NotImplementedError

    def normal_(self, stream: int, out) -> None:
        """Fill ``out`` with standard normal draws from stream ``stream``."""
        raise NotImplementedError

    def draw_(self, kind: str, stream: int, out) -> None:
        """Fill ``out`` with the noise a unit type asks for: ``"uniform"`` or ``"normal"``."""
        if kind == "uniform":
            self.uniform_(stream, out)
        else:
            self.normal_(stream, out)

    def to_numpy(self, x) -> np.ndarray:
        raise NotImplementedError

    #: whether fused kernels draw the updates they can (a backend with :meth:`kernels` sets it)
    fused = False
    #: the binary kernel can write a part of a group into the group's states by column index
    kernels_take_index = False
    #: the largest pooling block the pooling kernel takes (None: any)
    max_pool_block = None

    def kernels(self):
        """The fused kernels: ``binary(stream, field, bias, beta, gap, lo, hi, out, index=None)``,
        ``gaussian(stream, eta, lam, beta, out)`` and ``pool(stream, det, pool, beta, det_out, pool_out,
        shape, size)``; only backends with ``fused`` set have them."""
        raise NotImplementedError

    def fused_update(self, units, slots):
        """A fused kernel for drawing units of type ``units`` from the given ``slots``, or None.

        A kernel is called as ``kernel(stream, field, beta, out)`` with the filled slots of one
        row chunk, draws its own randomness from stream ``stream`` and writes the new states into
        ``out``. A kernel with ``takes_bias = True`` also takes ``bias=`` (the group's bias vector,
        which the model then leaves out of the field); one with ``takes_index = True`` takes ``index=``
        and then writes column j of the draw into column ``index[j]`` of ``out`` (the group's states:
        a part drawn without a write-back). With ``kernels_draw_streams``, a binary kernel also has
        ``kernel.streams(chunks, field, beta, out, bias=, index=, first=0)``: row chunk k of ``field`` (rows
        relative to it) drawn with stream ``first + k``, every chunk in one call. The array code (noise buffer + ``units.sample_``) is the
        fallback and the reference a kernel is tested against. None without ``fused``.
        """
        family = fused_family(units, slots) if self.fused else None
        if family is None:
            return None
        kernels = self.kernels()
        if family[0] == "binary":
            lo, hi = family[1:]

            def binary(stream, field, beta, out, bias=None, index=None):
                kernels.binary(stream, field["linear"], bias, beta, hi - lo, lo, hi, out, index)

            binary.takes_bias, binary.takes_index = True, self.kernels_take_index
            if self.kernels_draw_streams:
                def streams(chunks, field, beta, out, bias=None, index=None, first=0):
                    kernels.binary_streams(chunks, field["linear"], bias, beta, hi - lo, lo, hi, out, index, first)

                binary.streams = streams
            return binary

        def gaussian(stream, field, beta, out):
            kernels.gaussian(stream, field["linear"], field["precision"], beta, out)

        return gaussian

    #: whether :meth:`sparse_sweep` runs
    sparse_sweeps = False
    #: whether fused binary kernels also draw several row chunks, each with its own stream, in one call
    #: (``kernel.streams``: see :meth:`fused_update`)
    kernels_draw_streams = False

    def sparse_sweep(self, x, layout, beta, lo, hi, sweeps, chunks) -> None:
        """``sweeps`` sweeps over the colour classes of one group of binary units {lo, hi} whose field is a
        sparse product of its own states plus a bias, on the group's states ``x`` (every chain) in place, row
        chunk k of ``chunks`` drawn with random stream k; ``beta``: a number or a ``(chains, 1)`` column.
        ``layout``: ``(indptr, indices, data, class_start, units, bias or None)``: class c is the units
        ``units[class_start[c]:class_start[c + 1]]``, whose CSR rows are the same range of ``indptr``. The
        draws and launches are those of one fused update per class, sweep and chunk, in order. Only backends
        with ``sparse_sweeps``."""
        raise NotImplementedError

    #: whether :meth:`csr` gives sparse matrices (sparse factors then use one product per update)
    has_sparse = False
    #: a compiled loop ``csr_rows(xt, indptr, indices, data, acc)``: ``acc[i] = sum_k data[k] xt[indices[k]]``
    #: over CSR row i, on ``(units, chains)`` arrays (sparse factors' fields on the CPU), or None
    csr_rows = None

    def csr(self, data, indices, indptr, shape):
        """A CSR matrix on this backend supporting ``A @ dense``."""
        raise NotImplementedError

    def log_partition_step(self, units, slots):
        """A compiled ``step(field, b_to, b_from, out)`` that adds ``sum_j log Z_j(b_to) - log Z_j(b_from)`` of
        units ``units`` with natural parameters ``field`` (the ``linear`` slot, ``(rows, n)``) to ``out``
        (float64, ``(rows,)``): an AIS weight increment, or None (then the unit type's ``log_partition_total``
        in float64). None here."""

    def fused_joint(self, dist):
        """A fused kernel for a joint distribution (max pooling), called as ``kernel(stream, fields,
        beta, outs)``, or None (without ``fused``, or a block larger than ``max_pool_block``: the
        distribution's own ``sample_``)."""
        shape = getattr(dist, "block_shape", None)
        if not self.fused or shape is None or (self.max_pool_block is not None and dist.n > self.max_pool_block):
            return None
        K, Hb, C1, Wb, C2 = shape
        d, p = dist.groups
        kernels = self.kernels()

        def pool(stream, fields, beta, outs):
            kernels.pool(stream, fields[d]["linear"], fields[p]["linear"], beta, outs[d], outs[p],
                         (K, Hb * C1, Wb * C2), (C1, C2))

        return pool

    def available_memory(self) -> int:
        """Bytes free for this backend's arrays (host memory; device memory on a GPU)."""
        from ..model import available_memory

        return available_memory()

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on the CPU)."""

    # -- shared ------------------------------------------------------------
    def asarray(self, x, dtype=None):
        """A backend array of ``dtype`` (default: the backend dtype), copied from host data."""
        return self.xp.asarray(np.asarray(x), dtype=self.dtype if dtype is None else dtype)

    def empty(self, shape, dtype=None):
        return self.xp.empty(shape, dtype=self.dtype if dtype is None else dtype)

    def zeros(self, shape, dtype=None):
        return self.xp.zeros(shape, dtype=self.dtype if dtype is None else dtype)

    def take_columns(self, a, indices, out) -> None:
        """out[:, k] = a[:, indices[k]] without allocating."""
        self.xp.take(a, indices, axis=1, out=out)

    def scatter_columns(self, a, indices, values) -> None:
        """a[:, indices[k]] = values[:, k]."""
        a[:, indices] = values

    def take_rows(self, a, indices, out) -> None:
        """out[k] = a[indices[k]] without allocating."""
        self.xp.take(a, indices, axis=0, out=out)

    def chunks(self, n_rows: int) -> list[slice]:
        return row_chunks(n_rows, self.n_streams)

    def parallel_chunks(self, n_rows: int, n_elements: int) -> list[slice]:
        """Row chunks for work that draws nothing (any split gives the same result) of ``n_elements`` in
        all: chunks for the worker threads where that is worth it, else all rows at once (one call, no
        per-chunk cost)."""
        return [slice(0, n_rows)]

    def map_rows(self, fn, chunks: list[slice]) -> None:
        """Call ``fn(k, rows)`` for every chunk ``k``; order-independent by contract."""
        for k, rows in enumerate(chunks):
            if rows.stop > rows.start:
                fn(k, rows)

    def map_rows_sized(self, fn, chunks: list[slice], n_elements: int) -> None:
        """``map_rows``, for a job of ``n_elements``; backends may run small jobs inline."""
        self.map_rows(fn, chunks)

    def errstate(self):
        """Context that silences overflow in exp (intended: exp(+inf field) is handled)."""
        return np.errstate(over="ignore", invalid="ignore")

    def whole_fields(self, chains: int) -> bool:
        """True if an update's fields for all ``chains`` are computed in one call (one product per term)
        and only the draws run stream by stream; False: each row chunk computes its own fields."""
        return False

    def stream_parts(self, n_rows: int):
        """Independent chains run as parts: ``[(rows, backend)]``, cut at random-stream boundaries by the number
        of rows and streams only, each backend drawing the random streams of its rows exactly as this one
        would (the same keys and counters), or None where this backend has nothing to gain from it (None
        here). See :meth:`run_parts`."""

    def run_parts(self, tasks: list) -> list:
        """Call every task (one per part of :meth:`stream_parts`) as ``task(stop)`` and return their results in
        order. ``stop`` is a ``threading.Event``, set when one task fails or the caller is interrupted: a task
        checks it between its steps and returns early (its result is then discarded). Here: one after another."""
        import threading

        stop = threading.Event()
        return [t(stop) for t in tasks]

    def hot_loop(self, pooled: bool = True):
        """Context entered around a run of sweeps (see NumpyBackend for why it matters there); ``pooled``:
        whether the run's updates go to the backend's workers chunk by chunk (False: whole fields)."""
        return self.errstate()

    def close(self) -> None:
        """Release threads or device resources."""

    def __repr__(self):
        return f"{type(self).__name__}(seed={self.seed}, dtype={self.dtype.name}, streams={self.n_streams})"
