"""NumPy backend: every core runs whole chunks of chains.

On a CPU a Gibbs half-sweep is a GEMM plus an elementwise tail -- drawing uniforms
and turning fields into states -- that NumPy runs on one core. Profiling the
784x500 RBM on 2 cores showed the tail costing as much as the GEMM, uniform
generation being the largest part, and that handing only the tail to threads
gains little: OpenBLAS's own threads keep spinning after each GEMM and take the
cores the tail needs.

So chains are split into row chunks and each worker thread runs a chunk's whole
update -- its share of the GEMM, the bias, its own random stream and the draw --
while BLAS is held to one thread for the duration of the sweeps (threadpoolctl).
NumPy's generators, ufuncs and BLAS calls release the GIL, so plain threads
suffice. Row chunks are independent chains, so no synchronisation is needed
inside a block.

Few chains (a training minibatch, AIS with 100 runs) are the other way round: a
chunk of 25 rows is too thin a GEMM for one core, and one multi-threaded product
of all rows is about 1.5x faster than four chunk products on two workers. Below
``WHOLE_FIELD_ROWS`` rows per stream an update therefore computes its fields for
all chains in one call with BLAS free to use every core, and draws stream by
stream on the calling thread (:meth:`whole_fields`). The choice depends on the
number of chains and streams only, never on the machine.

Few chains that run many steps on their own (AIS runs) can do better: cut at
stream boundaries into parts of at least ``PART_MIN_ROWS`` rows (:meth:`stream_parts`;
by rows and streams only), each part runs all its steps -- products, draws,
weights -- with no exchange between parts, the workers running parts side by side
with BLAS on the cores they leave (:meth:`run_parts`). Two 50-row parts' products on
two cores take as long as the 100-row products on both, and the draws no longer wait
for one core. A part's backend shares its streams' keys and counters, so it draws
what the whole would have drawn for its rows.

In float32, binary, Gaussian and max-pooling updates run as **fused kernels** compiled by Numba
(:mod:`pgboltz.backends.cpu_kernels`, the twins of the GPU kernels): the field is read
once, Philox4x32-10 randomness is drawn inside the loop (stream ``k`` has its own key,
as on the GPU) and the states are written; no noise buffer. ``fused=False``, float64,
or a machine without Numba run the array code (PCG64 noise and the unit type's
``sample_``) instead. Sparse factors' fields are compiled loops too, in either dtype
(:class:`pgboltz.factors.sparse._CsrRowsTerm`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor
from concurrent.futures import wait as wait_all

import numpy as np

from . import cpu_kernels
from .base import Backend, fused_family, resolve_dtype, row_chunks

#: Below this many elements per call the tail runs inline: threads would cost more than they save.
PARALLEL_MIN_ELEMENTS = 1 << 16

#: Fewer rows than this per random stream: fields for all chains at once, draws on the calling thread.
WHOLE_FIELD_ROWS = 64

#: Fewer rows than this per independent part (:meth:`NumpyBackend.stream_parts`): its products on one core are
#: too thin. Measured on the 784x500 RBM's two products, one core: 25-row products cost 1.2x as much per row
#: as 50-row ones, and two 50-row parts on two cores take as long as the 100-row products on both.
PART_MIN_ROWS = 32

_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """One process-wide pool per size, shared by every backend (samplers, trainers, AIS)."""
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix=f"pgboltz{threads}")
    return _POOLS[threads]


_BLAS_LOCK = threading.Lock()
_BLAS = {"users": 0, "limiter": None, "controller": None}


@contextlib.contextmanager
def blas_limit(threads: int):
    """Hold BLAS to ``threads`` threads while inside. The limit is process-wide (threadpoolctl), so it is
    counted: the first user of any backend in any thread sets it, the last one out restores the original
    (limits entered and left from several threads would otherwise restore each other's values, and leave
    BLAS held after all of them); users that come while it is held share the first one's value."""
    with _BLAS_LOCK:
        if _BLAS["users"] == 0:
            if _BLAS["controller"] is None:
                from threadpoolctl import ThreadpoolController

                _BLAS["controller"] = ThreadpoolController()
            _BLAS["limiter"] = _BLAS["controller"].limit(limits=int(threads), user_api="blas")
        _BLAS["users"] += 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            _BLAS["users"] -= 1
            if _BLAS["users"] == 0:
                _BLAS["limiter"].restore_original_limits()
                _BLAS["limiter"] = None


def _in_worker() -> bool:
    """True on one of the pools' worker threads (work submitted from there to a pool could wait forever)."""
    return threading.current_thread().name.startswith("pgboltz")


def _quiet(fn, k, rows):
    with np.errstate(over="ignore", invalid="ignore"):
        fn(k, rows)


class NumpyBackend(Backend):
    """CPU backend. ``streams`` fixes the random stream layout (and so the results);
    ``threads`` only decides how many of those streams run at once."""

    name = "numpy"
    kernels_take_index = True
    xp = np

    def __init__(self, seed=0, dtype="float32", streams: int = 4, threads: int | None = None, fused: bool = True):
        #: the fused kernels draw float32 updates (with Numba); False: the array code
        self.fused = bool(fused) and resolve_dtype(dtype) == np.float32 and cpu_kernels.available()
        self._kernels = None
        #: the Numba kernels usable in either dtype: sparse fields, column scatters, the checkerboard
        #: sampler's int8 lattice
        self.compiled = bool(fused) and cpu_kernels.available()
        super().__init__(seed=seed, dtype=dtype, streams=streams)
        self._fused_option = bool(fused)
        n_cpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self.n_cpu = n_cpu
        self.threads = max(1, min(self.n_streams, n_cpu if threads is None else int(threads)))
        #: BLAS threads per worker while sweeping: the cores left over by our own workers
        self.blas_threads = max(1, n_cpu // self.threads)
        self._pool = _pool(self.threads) if self.threads > 1 else None
        #: a part's row chunks (:meth:`stream_parts`): fixed by the backend it was cut from, or None
        self._part_chunks = None
        self._part_of = None  # (backend, first stream) of a part

    def reseed(self, entropy):
        super().reseed(entropy)
        from .fused import Launches

        launches = [Launches(entropy, k) for k in range(self.n_streams)]
        if self._kernels is None:
            self._launches = launches
        else:  # compiled updates hold the kernels object: new keys, same kernels
            self._launches[:] = launches

    def stream_parts(self, n_rows):
        # Few chains (whole-field mode: otherwise the draws run on the calling thread between products that
        # use every core, and the other cores wait) that run many steps without looking at each other, such as
        # AIS runs: consecutive streams per part, as many parts as the streams allow with at least
        # PART_MIN_ROWS rows each, each on a backend of its own that shares their keys, counters and
        # generators. A part draws what this backend would have drawn for its rows; only the products are on
        # fewer rows. The cut depends on the rows and streams only (threads decide how many parts run at once).
        if not self.whole_fields(n_rows):
            return None
        chunks = self.chunks(n_rows)
        for n_parts in range(min(len(chunks), int(n_rows) // PART_MIN_ROWS), 1, -1):  # the most thick parts
            groups = row_chunks(len(chunks), n_parts)  # consecutive streams per part
            spans = [slice(chunks[g.start].start, chunks[g.stop - 1].stop) for g in groups]
            if all(r.stop - r.start >= PART_MIN_ROWS for r in spans):
                return [(r, self.stream_part(g.start, [slice(c.start - r.start, c.stop - r.start)
                                                      for c in chunks[g]]))
                        for r, g in zip(spans, groups)]
        return None

    def stream_part(self, first, chunks):
        """A one-thread backend over streams ``first, first + 1, ...`` of this one (their Philox launches and
        generators, not its host generator), for rows cut as ``chunks``: it draws what this backend draws for
        those streams' rows."""
        part = NumpyBackend(seed=self.seed, dtype=self.dtype, streams=len(chunks), threads=1,
                            fused=self._fused_option)
        part._part_chunks, part._part_of = list(chunks), (self, first)
        part.follow_streams()
        return part

    def follow_streams(self) -> None:
        """A part (:meth:`stream_part`): take its streams from the backend it was cut from again -- the same
        Launches objects (their counters move on in both) and generators, whatever that backend was reseeded
        with since."""
        parent, first = self._part_of
        n = self.n_streams
        self.streams = parent.streams[first:first + n]
        self._launches[:] = parent._launches[first:first + n]  # in place: compiled kernels hold this list

    def run_parts(self, tasks):
        busy = min(self.threads, len(tasks))
        if self._pool is None or busy < 2 or _in_worker():  # one at a time (from a worker: the pool is busy)
            return Backend.run_parts(self, tasks)
        stop = threading.Event()
        futures = []
        # BLAS gets the cores the running parts leave over (its thread count rounds a product's last bits)
        with blas_limit(max(1, self.n_cpu // busy)):
            try:
                futures.extend(self._pool.submit(t, stop) for t in tasks)
                wait_all(futures, return_when=FIRST_EXCEPTION)  # not in order: a later part may fail first
                failed = next((f for f in futures if f.done() and f.exception() is not None), None)
                if failed is not None:
                    raise failed.exception()
                return [f.result() for f in futures]
            except BaseException:  # an error in one part, or an interrupt: stop the others, then raise it
                stop.set()
                wait_all(futures)
                raise

    def chunks(self, n_rows):
        if self._part_chunks is None:
            return super().chunks(n_rows)
        if int(n_rows) != self._part_chunks[-1].stop:
            raise ValueError(f"this backend runs a part of {self._part_chunks[-1].stop} rows, not {n_rows}")
        return list(self._part_chunks)

    def log_partition_step(self, units, slots):
        family = fused_family(units, slots) if self.fused else None
        if family is None or family[0] != "binary":
            return None
        kernels, (lo, hi) = self.kernels(), family[1:]

        def step(field, b_to, b_from, out):
            kernels.binary_log_step(field["linear"], b_to, b_from, hi - lo, lo, out)

        return step

    @property
    def sparse_sweeps(self):
        return self.fused

    @property
    def kernels_draw_streams(self):
        return self.fused

    def sparse_sweep(self, x, layout, beta, lo, hi, sweeps, chunks):
        # rows are mapped to their streams, so tiles of chains may span streams (few chains per stream still
        # fill a tile); the chains are split between the threads at tile boundaries, which changes nothing drawn
        kernels = self.kernels()
        plan = kernels.sparse_plan(chunks, int(sweeps) * (len(layout[3]) - 1))
        n = x.shape[0]
        tile = cpu_kernels.sparse_tile(x.shape[1])
        parts = self.threads if n * x.shape[1] >= PARALLEL_MIN_ELEMENTS else 1
        cut = [min(n, -(-n * i // parts // tile) * tile) for i in range(parts)] + [n]
        self.map_rows(lambda k, rows: kernels.sparse_sweep(plan, x, layout, beta, hi - lo, lo, hi, sweeps, rows),
                      [slice(a, b) for a, b in zip(cut[:-1], cut[1:])])

    @property
    def csr_rows(self):
        return cpu_kernels.kernels()["csr_rows"] if self.compiled else None

    def kernels(self) -> cpu_kernels.CpuKernels:
        """The fused CPU kernels (compiled on first use; Numba caches them on disk)."""
        if self._kernels is None:
            self._kernels = cpu_kernels.CpuKernels(self._launches)
        return self._kernels

    def _make_generator(self, seed_seq):
        return np.random.Generator(np.random.PCG64(seed_seq))

    def uniform_(self, stream, out):
        self.streams[stream].random(out=out, dtype=out.dtype.type)

    def normal_(self, stream, out):
        self.streams[stream].standard_normal(out=out, dtype=out.dtype.type)

    def take_columns(self, a, indices, out):
        # NumPy's default mode='raise' silently buffers `out` through a temporary.
        np.take(a, indices, axis=1, out=out, mode="clip")

    def scatter_columns(self, a, indices, values):
        if self.compiled and a.dtype == values.dtype and indices.dtype == np.intp:
            cpu_kernels.kernels()["scatter_columns"](a, indices, values)
        else:
            a[:, indices] = values

    def take_rows(self, a, indices, out):
        np.take(a, indices, axis=0, out=out, mode="clip")

    def to_numpy(self, x):
        return np.asarray(x)

    def map_rows(self, fn, chunks):
        work = [(k, rows) for k, rows in enumerate(chunks) if rows.stop > rows.start]
        if self._pool is None or len(work) < 2:
            for k, rows in work:
                fn(k, rows)
            return
        # Results are bitwise independent of scheduling: chunk k only touches rows k
        # and only draws from stream k. NumPy's errstate is per thread, so each
        # worker enters it itself (exp overflowing to inf is intended).
        for f in [self._pool.submit(_quiet, fn, k, rows) for k, rows in work]:
            f.result()

    def map_rows_sized(self, fn, chunks, n_elements: int):
        """Like map_rows, but inline when the work is too small to be worth threads."""
        if n_elements < PARALLEL_MIN_ELEMENTS:
            Backend.map_rows(self, fn, chunks)
        else:
            self.map_rows(fn, chunks)

    def parallel_chunks(self, n_rows: int, n_elements: int) -> list[slice]:
        # the random streams' row chunks (on the worker threads), or all rows at once when that is not worth it
        if self._pool is None or n_elements < PARALLEL_MIN_ELEMENTS:
            return [slice(0, n_rows)]
        return self.chunks(n_rows)

    def whole_fields(self, chains: int) -> bool:
        return int(chains) < WHOLE_FIELD_ROWS * self.n_streams

    def hot_loop(self, pooled: bool = True):
        stack = contextlib.ExitStack()
        stack.enter_context(self.errstate())
        if self._pool is not None and pooled:
            stack.enter_context(blas_limit(self.blas_threads))
        return stack

    def close(self):
        self._pool = None  # the pool is shared; this backend just stops using it
