"""One compiled model: a factor graph on a backend, for a fixed number of chains.

Everything that runs a model -- the Gibbs sampler, the trainer, AIS, free
energies, the enumerator and :mod:`pgboltz.conditionals` -- goes through this
object's public methods. It holds

* ``params[k]``: factor k's parameters on the backend (:class:`DeviceParams`, with a
  write ``version``); training updates them in place, the graph's host copy is
  refreshed only by :meth:`pull_params` (checkpoints, evaluation);
* ``states[g]``: every group's states, ``(chains, size)`` on the backend;
* the **compiled block updates** of the schedule (:mod:`pgboltz.graph.schedule`):
  for each part of a block, the field terms of every factor that contributes to it,
  grouped by slot, plus buffers; for a joint set (max pooling), one update that
  hands all its groups' slots to the factor's joint distribution.

Two modes use the same updates: **sample** (:meth:`sweep`, blocked Gibbs) and
**expectation** (:meth:`mean_field`, damped fixed-point iteration of
``x_block <- E[x_block | rest]``, the DBM's variational positive phase).

A compiled term that holds arrays *derived* from parameters (a gathered layout, a
column slice) records the parameters' version; before every sweep or query the
model rebuilds stale terms, so a changed parameter can never be sampled with its old
value. A backend can supply a fused kernel for an update through
``backend.fused_update(units, slots)`` (:meth:`pgboltz.backends.Backend.fused_update`);
the array code here is the fallback and the reference.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from .backends import get_backend
from .backends.base import Backend, fused_family, row_chunks
from .errors import DataError, GraphError
from .factors.bias import BiasSum, BiasTerm
from .graph.schedule import as_blocks, checkerboard_parity, derive_blocks


class _Terms:
    """The compiled contributions to one group's units ``index``, by slot, for ``chains`` chains."""

    def __init__(self, model, group, index, chains, fuse_bias=False):
        self.model, self.group, self.index, self.chains = model, group, index, chains
        self.units = model.graph.group(group).units
        self.n = model.graph.group(group).size if index is None else len(index)
        #: leave the group's bias out of the slots and hand it to a fused kernel as ``self.bias``
        self.fuse_bias = fuse_bias
        self.build()

    def build(self):
        m = self.model
        by_slot, sources = {"linear": []}, {}
        for k, f in enumerate(m.graph.factors):
            if self.group not in f.groups or not f.contributes_to(self.group):
                continue
            for t in f.field_terms(self.group, self.index, m.params[k], m.backend, self.chains):
                by_slot.setdefault(t.slot, []).append(t)
                if t.copies_params:
                    sources[k] = m.params[k].version
        try:
            self.units.check_slots(by_slot, f"group {self.group!r}")
        except ValueError as exc:
            raise GraphError(str(exc)) from None
        # products write first; elementwise terms add afterwards, several constant vectors (biases) as their sum
        self.by_slot = {}
        for slot, ts in by_slot.items():
            ts = sorted(ts, key=lambda t: not t.writes)
            consts = [t for t in ts if isinstance(t, BiasTerm) and not t.writes]
            if len(consts) > 1:
                ts = [t for t in ts if t not in consts] + [BiasSum(consts)]
            self.by_slot[slot] = ts
        self.sources = sources
        #: the bias term a fused kernel adds (left out of the slots), or None
        self.bias_term = None
        if self.fuse_bias:
            self.split_bias()
        if not hasattr(self, "buffers"):
            be = self.model.backend
            self.buffers = {s: be.empty(self.units.slot_shape(s, self.chains, self.n)) for s in self.by_slot}

    def split_bias(self) -> None:
        """Take the group's bias out of the linear slot into ``self.bias`` (a fused kernel adds it), when
        it is one bias term (or one sum of several) after at least one product. A part's bias is a gathered
        copy: it is in ``sources``, so a changed bias rebuilds the terms and splits the new copy."""
        self.fuse_bias = True
        linear = self.by_slot.get("linear", [])
        if len(linear) >= 2 and linear[0].writes and isinstance(linear[-1], BiasTerm) \
                and sum(isinstance(t, BiasTerm) for t in linear) == 1:
            self.bias_term = linear.pop()

    @property
    def bias(self):
        """The bias vector a fused kernel adds, or None (a sum of several is added up afresh on every call)."""
        return None if self.bias_term is None else self.bias_term.b

    def refresh_if_stale(self):
        params = self.model.params
        if any(params[k].version != v for k, v in self.sources.items()):
            self.build()

    def fill(self, states, rows=slice(None)) -> dict:
        """The slots for chains ``rows``: ``{slot: buffer[rows]}``."""
        out = {}
        for slot, terms in self.by_slot.items():
            buf = self.buffers[slot]
            if not terms:
                buf[rows] = 0
            for i, t in enumerate(terms):
                t(states, buf, i > 0, rows)
            out[slot] = buf[rows]
        return out

    def fill_full(self, states, rows=slice(None)) -> dict:
        """``fill``, with a bias left to a fused kernel added back (the complete natural parameters)."""
        out = self.fill(states, rows)
        if self.bias is not None:
            out["linear"] += self.bias
        return out


class _PartUpdate:
    """Drawing (or averaging) the units ``index`` of one group, independent given the rest."""

    def __init__(self, model, part):
        be, chains = model.backend, model.chains
        self.model, self.group, self.index = model, part.group, part.index
        self.terms = _Terms(model, part.group, part.index, chains)
        self.units = self.terms.units
        n = self.terms.n
        self.out = model.states[part.group] if part.index is None else be.empty((chains, n))
        self.index_dev = None if part.index is None else be.asarray(part.index, dtype=np.intp)
        # a checkerboard half of a 2-D group (even sides) is written back through two strided views
        # instead of a scatter by index (several times faster on the CPU)
        shape = model.graph.group(part.group).shape
        parity = checkerboard_parity(part.index, shape) if part.index is not None and len(shape) == 2 else None
        self.halves = None if parity is None else (shape, [(a, (parity + a) % 2) for a in (0, 1)])
        self.n_elements = chains * n
        self.groups = (part.group,)
        #: its field includes BLAS products (see FieldTerm.blas): with few chains, computed for all at once
        self.blas = any(t.blas for ts in self.terms.by_slot.values() for t in ts)
        self.kernel = be.fused_update(self.units, tuple(self.terms.by_slot))
        if getattr(self.kernel, "takes_bias", False):
            self.terms.split_bias()
        #: a part drawn by a kernel straight into the group's states, by column index (no write-back)
        self.scatter = None
        if self.index_dev is not None and self.halves is None and getattr(self.kernel, "takes_index", False):
            self.scatter = self.index_dev
            self.out = None  # the draws go straight into the group's states
        # a fused kernel draws its own randomness: no noise buffer
        self.noise = None if self.kernel is not None else be.empty((chains, n))

    def can_take(self, fields) -> bool:
        """True if this update can draw from precomputed natural parameters ``fields[group]`` (the whole
        group, every slot, a field that includes the bias the way ``CompiledModel.field`` computes it)."""
        return self.index is None and self.group in fields and set(fields[self.group]) == set(self.terms.by_slot)

    def _draw(self, k, rows, field, bias) -> None:
        """Draw chains ``rows`` from their filled slots ``field`` (plus ``bias``, which only a fused kernel
        takes) with random stream ``k`` into ``self.out[rows]``."""
        m = self.model
        if self.scatter is not None:
            self.kernel(k, field, m.beta_rows(rows), m.states[self.group][rows], bias=bias, index=self.scatter)
            return
        out = self.out[rows]
        if self.kernel is not None:
            if self.terms.fuse_bias:
                self.kernel(k, field, m.beta_rows(rows), out, bias=bias)
            else:
                self.kernel(k, field, m.beta_rows(rows), out)
        else:
            noise = self.noise[rows]
            m.backend.draw_(self.units.noise, k, noise)
            self.units.sample_(m.backend.xp, field, m.beta_rows(rows), noise, out)

    def _fields(self, rows, given, mean):
        """(slots of chains ``rows``, the bias a fused kernel still has to add); ``mean[rows]`` <- E[x | rest]
        from them (before the draw, which may overwrite the fields). ``given`` fields include the bias."""
        m = self.model
        field = self.terms.fill(m.states, rows) if given is None else {s: v[rows] for s, v in given.items()}
        bias = self.terms.bias if given is None else None
        if mean is not None:
            full = field if bias is None else {**field, "linear": field["linear"] + bias}
            mean[rows] = self.units.mean(m.backend.xp, full, m.beta_rows(rows))
        return field, bias

    def sample(self, k, rows, given=None, mean=None):
        """Draw chains ``rows`` with random stream ``k``, from fields ``given`` (all chains) if not None;
        ``mean``: a ``(chains, n)`` buffer that receives E[x | rest] of those rows, from the same fields."""
        self._draw(k, rows, *self._fields(rows, given, mean))
        self._write_back(rows)

    def sample_whole(self, chunks, given=None, mean=None):
        """:meth:`sample` for every chunk at once: the fields of all chains in one call (or ``given``), then
        each chunk drawn with its own stream (a fused kernel), or each chunk's noise from its own stream and
        one elementwise draw -- the same draws as chunk by chunk, in fewer and longer operations."""
        m, every = self.model, slice(None)
        field, bias = self._fields(every, given, mean)
        if getattr(self.kernel, "streams", None) is not None and self.halves is None:
            self._draw_streams(every, chunks, field, bias, 0)
        elif self.kernel is not None:
            for k, rows in enumerate(chunks):
                if rows.stop > rows.start:
                    self._draw(k, rows, {s: v[rows] for s, v in field.items()}, bias)
        else:
            for k, rows in enumerate(chunks):
                if rows.stop > rows.start:
                    m.backend.draw_(self.units.noise, k, self.noise[rows])
            self.units.sample_(m.backend.xp, field, m.beta_rows(every), self.noise, self.out)
        self._write_back(every)

    def sample_streams(self, first, chunks):
        """:meth:`sample` of the consecutive row chunks ``chunks`` (random streams ``first``, ``first + 1``,
        ...) with one field evaluation for all their rows and one kernel call (``kernel.streams``): the same
        draws as chunk by chunk, the products on longer blocks of rows."""
        rows = slice(chunks[0].start, chunks[-1].stop)
        field, bias = self._fields(rows, None, None)
        self._draw_streams(rows, [slice(c.start - rows.start, c.stop - rows.start) for c in chunks], field, bias,
                           first)
        self._write_back(rows)

    def _draw_streams(self, rows, chunks, field, bias, first):
        """Draw chains ``rows`` from their filled slots ``field`` (plus ``bias``, None unless split off) by one
        binary kernel call: chunk k of them (rows relative to ``rows``) with stream ``first + k``."""
        m = self.model
        if self.scatter is not None:
            self.kernel.streams(chunks, field, m.beta_rows(rows), m.states[self.group][rows], bias=bias,
                                index=self.scatter, first=first)
        else:
            self.kernel.streams(chunks, field, m.beta_rows(rows), self.out[rows], bias=bias, first=first)

    def _write_back(self, rows):
        """Copy drawn units of a part (not a whole group) into the group's states."""
        m = self.model
        if self.scatter is not None:  # the kernel wrote them there
            return
        out = self.out[rows]
        if self.halves is not None:
            (H, W), views = self.halves
            x, o = m.states[self.group][rows].reshape(-1, H, W), out.reshape(-1, H, W // 2)
            for a, first in views:
                x[:, a::2, first::2] = o[:, a::2, :]
        elif self.index_dev is not None:
            m.backend.scatter_columns(m.states[self.group][rows], self.index_dev, out)

    def expect(self, damping):
        m = self.model
        mean = self.units.mean(m.backend.xp, self.terms.fill_full(m.states), m.beta_rows(slice(None)))
        x = m.states[self.group]
        if self.index_dev is None:
            change = float(abs(mean - x).max()) if mean.size else 0.0
            x[...] = damping * x + (1.0 - damping) * mean
        else:
            old = x[:, self.index_dev]
            change = float(abs(mean - old).max()) if mean.size else 0.0
            x[:, self.index_dev] = damping * old + (1.0 - damping) * mean
        return change


class _SparseSweep:
    """Whole sweeps of a schedule made only of colour classes of one group of binary units whose field is
    one sparse product of the group's own states (plus its bias): a custom topology's spin glass or BQM.
    The backend runs all the sweeps of every chain in one call (:meth:`pgboltz.backends.Backend.sparse_sweep`)
    instead of one update per class and row chunk; it computes the fields and draws of the class-by-class
    updates, so the states are the same bit for bit. The classes' CSR rows and biases come from the compiled terms (their
    :meth:`~pgboltz.factors.base.FieldTerm.csr` arrays; the layout is rebuilt when the terms are)."""

    def __init__(self, model, updates, lo, hi):
        self.model, self.updates, self.group = model, updates, updates[0].group
        self.lo, self.hi = lo, hi
        self._terms, self._layout = None, None

    @classmethod
    def build(cls, model):
        """The fast path for ``model``, or None when its schedule or backend does not allow it."""
        flat = [u for block in model.updates for u in block]
        if not model.backend.sparse_sweeps or not flat or not isinstance(flat[0], _PartUpdate):
            return None
        group = flat[0].group
        for u in flat:
            if not isinstance(u, _PartUpdate) or u.group != group or u.scatter is None:
                return None
            linear = u.terms.by_slot.get("linear", [])
            csr = linear[0].csr() if len(linear) == 1 else None
            if set(u.terms.by_slot) != {"linear"} or csr is None or csr[0] != group:
                return None
        if len({u.terms.bias_term is None for u in flat}) != 1:  # a group's classes share its bias factors
            return None
        family = fused_family(flat[0].units, ("linear",))
        if family is None or family[0] != "binary":
            return None
        return cls(model, flat, *family[1:])

    def layout(self):
        """``(indptr, indices, data, class_start, units, bias)`` of the classes in schedule order, rebuilt when
        a class's terms were (terms are rebuilt when the parameters they copied change)."""
        terms = [(u.terms.by_slot["linear"][0], u.terms.bias_term) for u in self.updates]
        if self._terms is None or any(a is not b or c is not d for (a, c), (b, d) in zip(terms, self._terms)):
            csr = [t.csr()[1:] for t, _ in terms]  # (indptr, indices, data) of each class
            sizes = np.array([len(indptr) - 1 for indptr, _, _ in csr])
            starts = np.concatenate([[0], np.cumsum([indptr[-1] for indptr, _, _ in csr])])
            indptr = np.concatenate([p[:-1] + s for (p, _, _), s in zip(csr, starts)] + [starts[-1:]])
            self._layout = (indptr.astype(np.int64), np.concatenate([c[1] for c in csr]).astype(np.int64),
                            np.concatenate([c[2] for c in csr]),
                            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                            np.concatenate([np.asarray(u.index) for u in self.updates]).astype(np.int64),
                            None if terms[0][1] is None else np.concatenate([b.b for _, b in terms]))
            self._terms = terms
        return self._layout

    def run(self, n: int) -> None:
        m = self.model
        m.backend.sparse_sweep(m.states[self.group], self.layout(), m.beta_rows(slice(None)), self.lo, self.hi, n,
                               m._chunks)


class _JointUpdate:
    """Drawing a joint set of whole groups from a factor's joint distribution (max pooling)."""

    def __init__(self, model, factor, groups):
        be, chains = model.backend, model.chains
        self.model, self.groups = model, tuple(groups)
        self.dist = factor.joint_distribution()
        self.terms = {g: _Terms(model, g, None, chains) for g in self.groups}
        self.noise = be.empty(self.dist.noise_shape(chains))
        self.n_elements = chains * sum(t.n for t in self.terms.values())
        self.kernel = be.fused_joint(self.dist)

    def _fields(self, rows):
        return {g: t.fill(self.model.states, rows) for g, t in self.terms.items()}

    def sample(self, k, rows):
        m = self.model
        outs = {g: m.states[g][rows] for g in self.groups}
        if self.kernel is not None:
            self.kernel(k, self._fields(rows), m.beta_rows(rows), outs)
            return
        noise = self.noise[rows]
        m.backend.draw_(self.dist.noise, k, noise)
        self.dist.sample_(m.backend.xp, self._fields(rows), m.beta_rows(rows), noise, outs)

    def expect(self, damping):
        m = self.model
        means = self.dist.mean(m.backend.xp, self._fields(slice(None)), m.beta_rows(slice(None)))
        change = 0.0
        for g, mean in means.items():
            x = m.states[g]
            change = max(change, float(abs(mean - x).max()))
            x[...] = damping * x + (1.0 - damping) * mean
        return change


def available_memory() -> int:
    """Bytes this process can still allocate: physical memory available now, and no more than its
    address-space limit leaves (a large number where the system cannot say)."""
    try:
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 62
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as fh:
                used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            avail = min(avail, max(0, soft - used))
    except (ImportError, OSError, ValueError):  # pragma: no cover - no limits to read
        pass
    return avail


def state_bytes(graph, chains: int, itemsize: int) -> int:
    """Estimated bytes of a compiled model: states, slot buffers, noise and scratch, about 4 arrays of
    ``(chains, units)`` (plus ``(chains, n, n)`` per group with a precision matrix)."""
    total = 4 * chains * graph.n_units() * itemsize
    for f, js in graph.joint_sets():
        if f.joint_distribution() is None:
            total += sum(chains * graph.group(g).size ** 2 * itemsize for g in js)
    return total


def check_memory(need: int, what: str, avail: int | None = None) -> None:
    """Refuse (before allocating) work that would not fit in the memory available now
    (``avail``: bytes free where it will live; default: host memory)."""
    avail = available_memory() if avail is None else avail
    if need > 0.8 * avail:
        raise DataError(f"{what} needs about {need / 2**30:.2f} GiB, but {avail / 2**30:.2f} GiB are available; "
                        "use fewer chains or recorded sweeps")


#: where mean-field iterations start: hidden means of 0 contribute nothing to their neighbours' fields, so
#: the first pass is a bottom-up pass from the data (Salakhutdinov & Hinton start from their recognition
#: pass). Measured on a pre-trained 784-500-1000 DBM: from 1/2 the iteration had not converged after 100
#: passes and its bound was 65 nats lower per image; from 0 it converged in 44.
MEAN_FIELD_START = 0.0


class CompiledModel:
    """A graph compiled onto a backend for ``chains`` chains.

    Parameters
    ----------
    graph : FactorGraph
    chains : int
    backend : 'numpy' | 'cupy' | Backend
    seed, dtype : passed to the backend when it is built here.
    clamp : dict, optional
        ``{group: values}`` held fixed (not scheduled); inputs are always clamped and
        must be given here or set later with :meth:`set_states`.
    blocks : list or False, optional
        An explicit schedule (checked); default: derived. ``False``: no schedule (a model
        only for fields, energies, sums and statistics).
    beta : float or array (chains,)
    init : dict, optional
        Initial states of free groups (default: the unit types' random states).
    params : list of DeviceParams, optional
        Share another model's device parameters (same graph and backend), e.g. a trainer's
        positive-phase sampler and its negative-phase chains: one update serves both.
    """

    def __init__(self, graph, chains, backend="numpy", seed=0, dtype="float32", clamp=None, blocks=None, beta=1.0,
                 init=None, params=None, _views=None, **backend_options):
        if int(chains) < 1:
            raise DataError(f"chains must be a positive integer, got {chains}")
        self.graph = graph
        self.chains = int(chains)
        self.backend = get_backend(backend, seed=seed, dtype=dtype, **backend_options)
        #: estimated bytes of states, slot buffers, noise and scratch (checked against free memory first)
        self.memory_bytes = state_bytes(graph, self.chains, self.backend.dtype.itemsize)
        self.memory_free = self.backend.available_memory()
        check_memory(self.memory_bytes, f"{self.chains} chains of {graph.name!r} on {self.backend.name}",
                     self.memory_free)
        clamp = dict(clamp or {})
        self.clamped = list(clamp) + [g for g in graph.inputs if g not in clamp]
        self.free = graph.free_groups(clamped=clamp)
        #: the graph's factors in parameter order, and its jointly drawn sets, read once (the graph's own
        #: accessors walk its networkx structure on every call: a measurable cost per update on small models)
        self.factors = list(graph.factors)
        self._directed = any(f.directed for f in self.factors)
        self._joint = {g: (f, js) for f, js in graph.joint_sets() for g in js if f.joint_distribution() is not None}
        if params is None:
            self._check_range(graph)
            params = [f.device_params(self.backend) for f in graph.factors]
        self.params = params
        self.states = {}
        self._beta, self._beta_col = 1.0, None
        self.beta = beta
        self._set(self._initial_states(init, clamp))
        if _views is not None:  # a part of another model: its states are rows of that model's (see _parts)
            self.states = dict(_views)
        #: input groups whose values were never given: sampling would condition on placeholders
        self._unset_inputs = [g for g in graph.inputs if g not in clamp and g not in (init or {})]
        if blocks is False:
            self.blocks = []
        else:
            self.blocks = derive_blocks(graph, self.free) if blocks is None else as_blocks(graph, blocks, self.free)
        self._terms_cache = {}
        self._hot = False
        self._chunks = self.backend.chunks(self.chains)
        self.updates = self._compile_updates()
        #: whole sweeps as one compiled loop (a sparse custom topology on the CPU), or None
        self._sparse_sweep = _SparseSweep.build(self)
        #: few chains: updates whose fields are BLAS products compute them for all chains in one call, BLAS
        #: free to use every core, and draw stream by stream (see Backend.whole_fields)
        self._whole = self.backend.whole_fields(self.chains) and any(
            isinstance(u, _PartUpdate) and u.blas for block in self.updates for u in block)
        self._means_plan, self._mean_buffers = {}, {}
        #: with fewer worker threads than random streams, each thread's consecutive chunks as one task:
        #: ``[(first stream, [chunks])]`` (one product over their rows, one kernel call), or None
        self._stream_groups = None
        threads = getattr(self.backend, "threads", None)
        if self.backend.kernels_draw_streams and threads and threads < len(self._chunks) and not self._whole:
            self._stream_groups = [(g.start, self._chunks[g]) for g in row_chunks(len(self._chunks), threads)
                                   if g.stop > g.start]
        #: whole sweeps as independent parts, one per worker thread (built on first use), or False
        self._parts = None

    def _check_range(self, graph):
        """Refuse parameters that the backend's dtype cannot hold (1e300 in float32 becomes inf)."""
        big = float(np.finfo(self.backend.dtype).max)
        for f in graph.factors:
            for name, v in f.params.items():
                if v.size and float(np.abs(v).max()) > big:
                    raise GraphError(f"{f.label}: parameter {name!r} reaches {float(np.abs(v).max()):.3g}, beyond "
                                     f"{self.backend.dtype.name}'s range ({big:.3g}); use float64 (--dtype float64) or rescale it")

    # -- compilation -------------------------------------------------------------
    def _compile_updates(self):
        joint = {}
        for f, js in self.graph.joint_sets():
            if f.joint_distribution() is not None and set(js) <= set(self.free):
                joint.update({g: (f, js) for g in js})
        program = []
        for b in self.blocks:
            ups, done = [], set()
            for p in b.parts:
                if p.group in joint:
                    f, js = joint[p.group]
                    if js not in done:
                        ups.append(_JointUpdate(self, f, js))
                        done.add(js)
                else:
                    ups.append(_PartUpdate(self, p))
            program.append(ups)
        return program

    def terms(self, group, chains=None, index=None) -> _Terms:
        """Compiled field terms for ``group`` (cached per chain count; rebuilt when stale)."""
        chains = self.chains if chains is None else int(chains)
        key = (group, chains, None if index is None else tuple(np.asarray(index).tolist()))
        t = self._terms_cache.get(key)
        if t is None:
            t = self._terms_cache[key] = _Terms(self, group, index, chains)
        else:
            t.refresh_if_stale()
        return t

    def refresh_stale(self) -> None:
        """Rebuild compiled terms whose source parameters changed version since they were made."""
        for block in self.updates:
            for u in block:
                for t in (u.terms.values() if isinstance(u.terms, dict) else (u.terms,)):
                    t.refresh_if_stale()

    # -- temperature -----------------------------------------------------------
    @property
    def beta(self):
        """Inverse temperature: a float, or a host array of one value per chain."""
        return self._beta if self._beta_col is None else self.backend.to_numpy(self._beta_col[:, 0])

    @beta.setter
    def beta(self, value):
        if self._directed and np.any(np.asarray(value) != 1.0):
            raise DataError(
                f"{self.graph.name!r} has directed factors, which are conditional tables at beta = 1: tempering "
                "and annealing apply to its undirected part (AIS drops the directed layers, whose tables sum to 1)")
        if np.ndim(value) == 0:
            value = float(value)
            if not np.isfinite(value) or value < 0:
                raise DataError(f"beta must be a finite number >= 0, got {value}")
            self._beta, self._beta_col = value, None
            return
        b = np.asarray(value, dtype=np.float64)
        if b.shape != (self.chains,):
            raise DataError(f"beta must be a number or one value per chain ({self.chains},), got shape {b.shape}")
        if not np.all(np.isfinite(b)) or np.any(b < 0):
            raise DataError("beta must be finite and >= 0 for every chain")
        if self._beta_col is not None:
            self._beta_col[:, 0] = self.backend.asarray(b)
        else:
            self._beta_col = self.backend.asarray(b[:, None])
        self._beta = None

    def beta_rows(self, rows):
        return self._beta if self._beta_col is None else self._beta_col[rows]

    # -- parameters ------------------------------------------------------------
    def set_params(self, k: int, **arrays) -> None:
        """Overwrite parameters of factor ``k`` on the backend (the graph's host copy is untouched)."""
        dev = self.params[k]
        for name, value in arrays.items():
            if name not in dev:
                raise GraphError(f"{self.graph.factors[k].label} has no parameter {name!r}; it has {', '.join(dev)}")
            dev[name][...] = self.backend.asarray(value).reshape(dev[name].shape)
        dev.bump()

    def push_params(self) -> None:
        """Copy every factor's host parameters to the backend (after editing ``factor.params``)."""
        for f, dev in zip(self.graph.factors, self.params):
            for name, value in f.params.items():
                dev[name][...] = self.backend.asarray(value)
            dev.bump()

    def pull_params(self) -> None:
        """Copy the backend parameters into the graph's factors (for checkpoints and evaluation)."""
        for f, dev in zip(self.graph.factors, self.params):
            for name, value in dev.items():
                f.params[name][...] = self.backend.to_numpy(value).astype(np.float64).reshape(f.params[name].shape)

    def params_finite(self) -> bool:
        xp = self.backend.xp
        return all(bool(xp.isfinite(v).all()) for dev in self.params for v in dev.values())

    # -- states --------------------------------------------------------------
    def _broadcast(self, g, values, what):
        grp = self.graph.group(g)
        x = np.asarray(values, dtype=np.float64)
        if x.shape in (grp.shape, (grp.size,)):  # one state for every chain
            x = np.broadcast_to(x.reshape(grp.shape), (self.chains,) + grp.shape)
        if x.ndim == 0 or x.shape[0] != self.chains:
            rows = x.shape[0] if x.ndim else "no"
            raise DataError(f"{what}: group {g!r} has {rows} rows, but the sampler runs {self.chains} chains")
        return x

    def _initial_states(self, init, clamp):
        rng = self.backend.host_rng
        init = dict(init or {})
        unknown = set(init) - set(self.graph.groups) | set(clamp) - set(self.graph.groups)
        if unknown:
            raise DataError(f"unknown group(s) {sorted(unknown)}; known groups: {', '.join(self.graph.groups)}")
        states = {}
        for g, grp in self.graph.groups.items():
            if g in clamp:
                states[g] = self._broadcast(g, clamp[g], "clamp")
            elif g in init:
                states[g] = self._broadcast(g, init[g], "init")
            else:  # inputs too: placeholders until set_states gives their values
                states[g] = grp.units.init_states(rng, (self.chains,) + grp.shape)
        return states

    def _set(self, states, expectations=False):
        flat = self.graph.check_states(states, groups=list(states), what="states", expectations=expectations)
        for g, x in flat.items():
            if g in self.states:  # in place: compiled updates hold views of these arrays
                self.states[g][...] = self.backend.asarray(x)
            else:
                self.states[g] = self.backend.asarray(x)

    def set_states(self, states: dict, expectations: bool = False) -> None:
        """Overwrite the states of some groups (host arrays ``(chains, *shape)`` or one shared state).

        ``expectations`` accepts mean-field values (e.g. probabilities for Bernoulli units)."""
        self._set({g: self._broadcast(g, v, "set_states") for g, v in states.items()}, expectations)
        self._given(states)

    def load_states(self, states: dict) -> None:
        """Overwrite states from backend arrays ``(chains, size)`` already validated (no host round trip)."""
        for g, x in states.items():
            self.states[g][...] = x
        self._given(states)

    def _given(self, groups) -> None:
        if self._unset_inputs:
            self._unset_inputs = [g for g in self._unset_inputs if g not in groups]

    def _check_inputs(self) -> None:
        """Refuse to sample while an input group holds placeholders instead of given values."""
        if self._unset_inputs:
            names = ", ".join(self._unset_inputs)
            raise DataError(
                f"{self.graph.name!r}: input group(s) {names} have no values yet, and every chain is conditioned on "
                f"them; give them when building the sampler (clamp={{{self._unset_inputs[0]!r}: ...}}) or with "
                "set_states before sampling")

    def get_states(self) -> dict:
        """Host copy of all states, ``{group: (chains, *shape)}``."""
        out = {}
        for g, x in self.states.items():
            host = self.backend.to_numpy(x)
            if isinstance(x, np.ndarray) and np.shares_memory(host, x):
                host = host.copy()  # the NumPy backend's own array: later sweeps would overwrite it
            out[g] = host.reshape((self.chains,) + self.graph.group(g).shape)
        return out

    # -- the two modes ---------------------------------------------------------
    def running(self):
        """Context for a run of sweeps: the backend's hot-loop settings, entered once (re-entrant)."""
        if self._hot:
            return contextlib.nullcontext()
        stack = contextlib.ExitStack()
        stack.enter_context(self.backend.hot_loop(pooled=not self._whole))
        self._hot = True
        stack.callback(setattr, self, "_hot", False)
        return stack

    def _run(self, u, given=None, mean=None) -> None:
        """Run update ``u`` on every chain: from fields ``given`` (all chains, or None: computed here),
        writing E[x | rest] into ``mean`` if given (a whole-group :class:`_PartUpdate` only)."""
        if self._whole and isinstance(u, _PartUpdate) and u.blas:
            u.sample_whole(self._chunks, given, mean)
            return
        if self._stream_groups and given is None and mean is None and isinstance(u, _PartUpdate) \
                and getattr(u.kernel, "streams", None) is not None and u.halves is None:
            groups = self._stream_groups  # fewer threads than streams: one task per thread
            # map_rows passes each task's position in the list (skipping empty ones), which indexes ``groups``
            self.backend.map_rows_sized(lambda g, rows: u.sample_streams(*groups[g]),
                                        [slice(c[0].start, c[-1].stop) for _, c in groups], u.n_elements)
            return
        fn = u.sample if given is None and mean is None else (lambda k, rows: u.sample(k, rows, given, mean))
        if self._whole:  # BLAS may use every core in this run: no worker threads beside it
            Backend.map_rows(self.backend, fn, self._chunks)
        else:
            self.backend.map_rows_sized(fn, self._chunks, u.n_elements)

    def _plan_means(self, groups) -> dict:
        """``{update index: group}`` for the ``groups`` whose conditional means one sweep's own fields give:
        a group drawn whole by one update, after every update of a group its field depends on."""
        key = tuple(groups)
        if key not in self._means_plan:
            flat = [u for block in self.updates for u in block]
            plan = {}
            for g in groups:
                mine = [i for i, u in enumerate(flat) if g in u.groups]
                if len(mine) != 1 or not isinstance(flat[mine[0]], _PartUpdate) or flat[mine[0]].index is not None:
                    continue
                sources = {h for f in self.graph.factors if g in f.groups and f.contributes_to(g) for h in f.groups}
                if not any(set(u.groups) & sources for u in flat[mine[0] + 1:]):
                    plan[mine[0]] = g
            self._means_plan[key] = plan
        return self._means_plan[key]

    def sweep(self, n: int = 1, means=None):
        """``n`` blocked Gibbs sweeps: every update of every block once, in schedule order.

        ``means``: groups, independent given the rest, whose conditional means E[x | rest] after the last
        sweep are returned as ``{group: (chains, size)}`` (arrays of the model's, valid until its next
        sweep). A group drawn after everything its field depends on (the hidden layer of an RBM whose
        schedule ends with it) gets them from the fields it was drawn from; the others cost a field
        evaluation after the sweep."""
        self._check_inputs()
        self.refresh_stale()
        n = int(n)
        if n < 0:
            raise DataError(f"sweep: the number of sweeps must be >= 0, got {n}")
        means = None if means is None else list(means)
        plan = self._plan_means(means) if means and n > 0 else {}
        for g in plan.values():
            if g not in self._mean_buffers:
                self._mean_buffers[g] = self.backend.empty((self.chains, self.graph.group(g).size))
        with self.running():
            if self._sparse_sweep is not None and not plan:
                self._sparse_sweep.run(n)
                n = 0
            elif n > 0 and not plan and self._sweep_parts():
                self._run_parts(n)
                n = 0
            for i in range(n):
                last = i == n - 1
                for j, u in enumerate(u for block in self.updates for u in block):
                    self._run(u, mean=self._mean_buffers[plan[j]] if last and j in plan else None)
        if not means:
            return None
        out = {g: self._mean_buffers[g] for g in plan.values()}
        rest = [g for g in means if g not in out]
        if rest:
            out.update(self.sum_out(rest, self.states, self.beta_rows(slice(None)), need_means=True,
                                    need_log_p=False, need_squares=False)[1])
        return out

    def _sweep_parts(self) -> list | None:
        """``[(rows, model)]``: the chains cut into one part per worker thread at random-stream boundaries (the
        rows each thread updates anyway: :attr:`_stream_groups`, or one chunk per stream), each a model of its own
        over those rows of the states (views), sharing the parameters and its streams' backend (the same keys
        and counters: :meth:`pgboltz.backends.NumpyBackend.stream_part`); or None where sweeps gain nothing from
        it (few chains or small updates, which do not use the threads, or no threads)."""
        if self._parts is None:
            self._parts = False
            be = self.backend
            part_of = getattr(be, "stream_part", None)
            big = any(len(be.parallel_chunks(self.chains, u.n_elements)) > 1 for block in self.updates
                      for u in block)  # an update that uses the threads
            if part_of is not None and not self._whole and big and be.threads > 1 and len(self._chunks) > 1:
                groups = self._stream_groups or [(k, [c]) for k, c in enumerate(self._chunks)]
                groups = [(first, cs) for first, cs in groups if cs[-1].stop > cs[0].start]
                # clamped groups get placeholder states (the views replace them at once): their values may be
                # expectations, which a state check would refuse
                clamp = {g: self.graph.group(g).units.init_states(np.random.default_rng(0), self.graph.group(g).shape)
                         for g in self.clamped}
                parts = []
                try:
                    for first, cs in groups:
                        rows = slice(cs[0].start, cs[-1].stop)
                        sub = part_of(first, [slice(c.start - rows.start, c.stop - rows.start) for c in cs])
                        parts.append((rows, CompiledModel(
                            self.graph, rows.stop - rows.start, backend=sub, clamp=clamp, blocks=self.blocks,
                            params=self.params, _views={g: x[rows] for g, x in self.states.items()})))
                except DataError:  # no memory for the parts' buffers: sweep as one model
                    parts = []
                self._parts = parts if len(parts) > 1 else False
        return self._parts or None

    def _run_parts(self, n: int) -> None:
        """``n`` sweeps of every part side by side, with no exchange between them (the chains are independent):
        the states, draws and launches of ``n`` sweeps of this model."""
        for rows, sub in self._parts:
            sub.backend.follow_streams()  # reseeded since the parts were made (a trainer's epochs): its new streams
            sub.beta = self._beta if self._beta_col is None else self.backend.to_numpy(self._beta_col[rows, 0])

        def task(sub, stop):
            for _ in range(n):
                if stop.is_set():
                    return
                sub.sweep(1)

        self.backend.run_parts([lambda stop, sub=sub: task(sub, stop) for _, sub in self._parts])

    def draw(self, groups, given: dict | None = None) -> None:
        """Draw ``groups`` once given the rest: their updates, in schedule order. A group drawn whole whose
        fields are in ``given`` (``{group: {slot: (chains, n)}}``, e.g. from :meth:`field`) is drawn from them."""
        gs, given = set(groups), given or {}
        covered = {g for block in self.updates for u in block if set(u.groups) <= gs for g in u.groups}
        if covered != gs:
            raise GraphError(f"draw: {sorted(gs - covered)} are not drawn on their own by this model's schedule")
        self._check_inputs()
        self.refresh_stale()
        with self.running():
            for block in self.updates:
                for u in block:
                    if set(u.groups) <= gs:
                        self._run(u, given=given[u.group] if isinstance(u, _PartUpdate) and u.can_take(given)
                                  else None)

    def sweep_given(self, fields: dict) -> None:
        """One sweep whose first block draws from ``fields`` (``{group: {slot: (chains, n)}}``, computed by
        :meth:`field` from the current states -- e.g. by AIS, which needed them for its weights) instead of
        computing them again; the draws are the same as :meth:`sweep`'s."""
        self._check_inputs()
        self.refresh_stale()
        with self.running():
            for b, block in enumerate(self.updates):
                for u in block:
                    take = b == 0 and isinstance(u, _PartUpdate) and u.can_take(fields)
                    self._run(u, given=fields[u.group] if take else None)

    def mean_field(self, iterations: int = 50, damping: float = 0.0, tol: float = 1e-7) -> dict:
        """Damped fixed-point iteration ``x_b <- damping x_b + (1 - damping) E[x_b | rest]`` over the schedule.

        States become expectations (e.g. P(h=1) for Bernoulli units); clamped groups stay.
        Stops when no expectation moves by more than ``tol``. Returns ``{"iterations", "change"}``.
        """
        if not 0.0 <= damping < 1.0:
            raise ValueError(f"damping must be in [0, 1), got {damping}")
        self._check_inputs()
        self.refresh_stale()
        change = np.inf
        it = 0
        with self.backend.errstate():
            while it < int(iterations) and change > tol:
                change = max((u.expect(damping) for block in self.updates for u in block), default=0.0)
                it += 1
        return {"iterations": it, "change": change}

    # -- derived quantities ----------------------------------------------------
    def field(self, group: str, states: dict | None = None, index=None) -> dict:
        """Natural parameters of ``group`` (units ``index``) given ``states`` (default: the model's):
        ``{slot: (chains, n)}`` backend arrays."""
        states = self.states if states is None else states
        chains = next(iter(states.values())).shape[0] if states else 1  # nothing given: the slots are constant
        terms = self.terms(group, chains, index)
        if self._hot and chains == self.chains and not self._whole:  # a run of sweeps: by chunks, on its threads
            self.backend.map_rows_sized(lambda k, rows: terms.fill(states, rows), self._chunks, chains * terms.n)
            return {s: terms.buffers[s] for s in terms.by_slot}
        return terms.fill(states)

    def energy(self, states: dict | None = None):
        """E(x) per chain (float64 backend array) for ``states`` (default: the model's)."""
        states = self.states if states is None else states
        xp = self.backend.xp
        chains = next(iter(states.values())).shape[0]
        total = xp.zeros(chains, dtype=np.float64)
        for f, p in zip(self.factors, self.params):
            total += f.energy(xp, states, p).astype(np.float64)
        return total

    def sum_out(self, summed, states: dict, beta=1.0, need_means=False, need_log_p=True, need_squares=None):
        """log sum over the ``summed`` groups of exp(-beta E), per chain, given ``states`` of all others.

        ``summed`` must be independent given the rest (see :func:`independent_groups`); groups
        of a joint set are summed with its joint distribution. Returns ``(log_p, means,
        mean_squares)``: the last two (conditional E[x], E[x^2] by group) only when ``need_means`` (the squares
        unless ``need_squares`` is False).
        """
        need_squares = need_means if need_squares is None else need_squares and need_means
        xp = self.backend.xp
        summed = list(summed)
        chains = next(iter(states.values())).shape[0] if states else 1
        log_p = xp.zeros(chains, dtype=np.float64) if need_log_p else None
        if need_log_p:
            for f, p in zip(self.factors, self.params):
                if not set(f.groups) & set(summed):
                    log_p -= beta * f.energy(xp, states, p)
        means, squares = {}, {}
        joint = self._joint
        done = set()
        for g in summed:
            if g in joint:
                f, js = joint[g]
                if js in done:
                    continue
                done.add(js)
                dist = f.joint_distribution()
                fields = {h: self.field(h, states) for h in js}
                if need_log_p:
                    log_p += dist.log_partition(xp, fields, beta)
                if need_means:
                    means.update(dist.mean(xp, fields, beta))
                if need_squares:
                    squares.update(dist.mean_square(xp, fields, beta))
                continue
            units = self.graph.group(g).units
            field = self.field(g, states)
            if need_log_p:
                log_p += units.log_partition_total(xp, field, beta)
            if need_means:
                means[g] = units.mean(xp, field, beta)
            if need_squares:
                squares[g] = units.mean_square(xp, field, beta)
        return log_p, means, squares

    def statistics(self, states: dict, weights) -> list:
        """``[{param: weighted average of -dE/d(param)}]`` per factor, backend arrays shaped like the params."""
        xp = self.backend.xp
        out = []
        for f, p in zip(self.factors, self.params):
            s = f.statistics(xp, states, weights, p)
            out.append({k: v.reshape(p[k].shape) for k, v in s.items()})
        return out

    def memory_report(self) -> str:
        """One line: the estimated memory of this model against what was free when it was built."""
        where = "on the GPU" if self.backend.name == "cupy" else "in host memory"
        need = self.memory_bytes
        size = f"{need / 2**20:.1f} MiB" if need >= 2**20 else f"{need / 2**10:.1f} KiB"
        return f"memory: about {size} of states and buffers ({self.memory_free / 2**30:.1f} GiB free {where})"

    def describe(self) -> str:
        lines = [f"{len(self.blocks)} blocks:"]
        for k, b in enumerate(self.blocks):
            lines.append(f"  {k}: {b.describe(self.graph)}")
        return "\n".join(lines)


def independent_groups(graph, groups) -> bool:
    """True if ``groups`` can be summed out together: no factor couples two of their units, each is
    summable (:meth:`FactorGraph.summable`), and joint sets are included whole."""
    gs = set(groups)
    if any(c.group_a in gs and c.group_b in gs for f in graph.factors for c in f.couplings()):
        return False
    if not all(graph.summable(g) for g in gs):
        return False
    return all(not (set(js) & gs) or set(js) <= gs for _, js in graph.joint_sets())


def float64_model(graph, chains=1, backend=None, **kw) -> CompiledModel:
    """A model without a schedule for exact computations and checks (float64 NumPy unless ``backend``)."""
    be = backend or get_backend("numpy", dtype="float64", streams=1)
    return CompiledModel(graph, chains, backend=be, blocks=False, **kw)
