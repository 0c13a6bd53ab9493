"""Graph spec files: custom topologies written declaratively in TOML.

The format is documented in ``graphs/README.md``. In short::

    name = "rbm-small"
    description = "a 6x4 RBM"
    seed = 0                                  # seeds every random `init`

    [[groups]]
    name = "v"; shape = [6]; units = "bernoulli"; role = "visible"

    [[factors]]
    kind = "dense"; groups = ["v", "h"]
    init = { dist = "normal", std = 0.5 }     # or: value = ..., or: file = "p.npz", key = "W"

Every error names the file and the field (``graphs/x.toml: factors[2].groups: ...``).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import numpy as np

from ..errors import GraphError, SpecError
from ..factors import FACTOR_KINDS
from .factor_graph import FactorGraph

TOP_KEYS = {"name", "description", "seed", "groups", "factors"}
GROUP_KEYS = {"name", "shape", "units", "role"}
#: fields every factor table may have; each kind adds its own (``Factor.spec_keys``)
#: the largest spec file read (parameters belong in .npz archives)
MAX_SPEC_BYTES = 1 << 24
#: the largest edge-list text file read
MAX_EDGES_BYTES = 1 << 28
COMMON_FACTOR_KEYS = {"kind", "name", "init", "value", "file", "key", "keys", "seed"}
DISTS = {"normal": {"mean", "std"}, "uniform": {"low", "high"}, "constant": {"value"}}


class _Ctx:
    """Where we are in the file, for error messages; and whether data files may lie outside its folder."""

    def __init__(self, path, allow_outside=False):
        self.path = str(path)
        self.allow_outside = allow_outside

    def error(self, where, msg):
        return SpecError(f"{self.path}: {where}: {msg}")


def _require(ctx, table, key, where, types, what):
    if key not in table:
        raise ctx.error(f"{where}.{key}", f"missing (expected {what})")
    value = table[key]
    if not isinstance(value, types):
        raise ctx.error(f"{where}.{key}", f"expected {what}, got {value!r}")
    return value


def _check_text(ctx, where, value):
    """Names and descriptions are printed: refuse non-strings and control characters (terminal escapes)."""
    if not isinstance(value, str):
        raise ctx.error(where, f"expected a string, got {value!r}")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
        raise ctx.error(where, f"contains control characters ({value!r}); use printable text")


def _check_keys(ctx, table, allowed, where):
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ctx.error(where, f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")


def _draw(ctx, init, shape, rng, where):
    if not isinstance(init, dict):
        raise ctx.error(where, f"expected a table like {{ dist = \"normal\", std = 0.1 }}, got {init!r}")
    dist = init.get("dist")
    if dist not in DISTS:
        raise ctx.error(f"{where}.dist", f"expected one of {', '.join(DISTS)}, got {dist!r}")
    _check_keys(ctx, init, DISTS[dist] | {"dist"}, where)
    try:
        if dist == "normal":
            return rng.normal(float(init.get("mean", 0.0)), float(init.get("std", 1.0)), shape)
        if dist == "uniform":
            return rng.uniform(float(init.get("low", -1.0)), float(init.get("high", 1.0)), shape)
        return np.full(shape, float(_require(ctx, init, "value", where, (int, float), "a number")))
    except (TypeError, ValueError) as exc:
        raise ctx.error(where, str(exc)) from None


class _ParamSource:
    """Produces one factor's parameter arrays from init / value / file."""

    def __init__(self, ctx, table, where, rng, base_dir):
        self.ctx, self.table, self.where, self.base_dir = ctx, table, where, base_dir
        self.rng = np.random.default_rng(table["seed"]) if "seed" in table else rng
        self.given = [k for k in ("init", "value", "file") if k in table]
        self.mode = self.given[0] if len(self.given) == 1 else None
        self._npz = None
        self.used = False

    def get(self, param, shape, single):
        self.used = True
        from ..errors import DataError
        from ..model import check_memory

        try:  # refuse before allocating: a typo such as shape = [100000, 100000] asks for 75 GiB
            check_memory(2 * 8 * int(np.prod(shape, dtype=object)), f"parameter {param!r} of shape {list(shape)}")
        except DataError as exc:
            raise self.ctx.error(self.where, str(exc)) from None
        if len(self.given) != 1:
            raise self.ctx.error(self.where, "give exactly one of `init` (random), `value` (numbers) or `file` "
                                 "(.npz)" + (f"; found {', '.join(self.given)}" if self.given else ""))
        ctx, t, where = self.ctx, self.table, self.where
        if self.mode == "init":
            return _draw(ctx, t["init"], shape, self.rng, f"{where}.init")
        if self.mode == "value":
            value = t["value"]
            if isinstance(value, dict):
                if param not in value:
                    raise ctx.error(f"{where}.value", f"missing entry for parameter {param!r}")
                value = value[param]
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise ctx.error(f"{where}.value", "expected a number or a (nested) list of numbers") from None
            if arr.ndim == 0:
                return np.full(shape, float(arr))
            if arr.size != int(np.prod(shape)):
                raise ctx.error(f"{where}.value", f"parameter {param!r} needs shape {list(shape)}, got {list(arr.shape)}")
            return arr.reshape(shape)
        return self._from_file(param, shape, single)

    def _from_file(self, param, shape, single):
        ctx, t, where = self.ctx, self.table, self.where
        path = _data_file(ctx, f"{where}.file", _require(ctx, t, "file", where, str, "a path to an .npz file"),
                          self.base_dir)
        if self._npz is None:
            self._npz = _NpzArrays(ctx, f"{where}.file", path)
        if "keys" in t:
            keys = t["keys"]
            if not isinstance(keys, dict) or param not in keys:
                raise ctx.error(f"{where}.keys", f"expected a table naming the array for {param!r}")
            key = keys[param]
        elif single and "key" in t:
            key = t["key"]
        elif "key" in t:
            raise ctx.error(f"{where}.key", f"this kind has several parameters; name each array with "
                                            f"keys = {{ {param} = \"...\", ... }} instead of one key")
        else:
            raise ctx.error(where, f"with `file`, name the array: key = \"...\" (or keys = {{ {param} = \"...\" }})")
        return self._npz.get(key, param, shape, f"{where}.key")


class FactorSpec:
    """What a factor kind's :meth:`~pgboltz.factors.Factor.from_spec` reads: one ``[[factors]]`` table.

    Errors name the file and field; parameters come from ``init`` / ``value`` / ``file``.
    """

    def __init__(self, ctx, table, where, graph, rng, base_dir):
        self.ctx, self.table, self.where, self.graph, self.base_dir = ctx, table, where, graph, base_dir
        self.name = table.get("name")
        self.source = _ParamSource(ctx, table, where, rng, base_dir)

    @property
    def mode(self):
        return self.source.mode

    def error(self, field, msg):
        return self.ctx.error(f"{self.where}.{field}" if field else self.where, msg)

    def shape(self, group):
        return self.graph.group(group).shape

    def size(self, group):
        return self.graph.group(group).size

    def group(self) -> str:
        name = _require(self.ctx, self.table, "group", self.where, str, "a group name")
        if name not in self.graph.groups:
            raise self.error("group", f"unknown group {name!r}; known groups: {', '.join(self.graph.groups)}")
        return name

    def groups(self, n: int) -> list:
        example = '["v", "h"]' if n == 2 else '["v", "h", "g"]'
        names = _require(self.ctx, self.table, "groups", self.where, list, f"a list of {n} group names, e.g. {example}")
        if len(names) != n or not all(isinstance(x, str) for x in names):
            raise self.error("groups", f"expected {n} group names, e.g. {example}, got {names!r}")
        for name in names:
            if name not in self.graph.groups:
                raise self.error("groups", f"unknown group {name!r}; known groups: {', '.join(self.graph.groups)}")
        return names

    def param(self, name, shape, single=True) -> np.ndarray:
        """Parameter ``name`` of ``shape``; ``single``: the kind has one parameter (``key`` may name it)."""
        return self.source.get(name, tuple(shape), single)

    def broadcast(self, name) -> bool:
        """True if parameter ``name`` is drawn (``init``) or given as one number (not as an explicit array)."""
        if self.mode == "init":
            return True
        if self.mode != "value":
            return False
        value = self.table["value"]
        value = value.get(name) if isinstance(value, dict) else value
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def get(self, key, types, default, what):
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, types) or (types in (int, (int, list)) and isinstance(value, bool)):
            raise self.error(key, f"expected {what}, got {value!r}")
        return value

    def edges(self):
        return _edges(self.ctx, self.table, self.where, self.base_dir)


def _data_file(ctx, where, name, base_dir) -> Path:
    """A data file named in a spec: relative to the spec's folder, inside it (unless the user allowed
    otherwise), and a regular file."""
    base = Path(os.path.normpath(Path(base_dir).absolute()))
    path = Path(os.path.normpath(base / name))  # lexical: a symlink inside the folder is allowed
    if not ctx.allow_outside and base != path.parent and base not in path.parents:
        raise ctx.error(where, f"{name!r} lies outside the spec's folder {str(base)!r}; data files are resolved "
                               "relative to the spec and must stay inside it (the command line's "
                               "--allow-outside-paths lifts this)")
    if not path.exists():
        raise ctx.error(where, f"no such file {str(path)!r}")
    if not path.is_file():
        raise ctx.error(where, f"{str(path)!r} is not a regular file")
    return path


class _NpzArrays:
    """Arrays of an .npz archive, each checked against its expected shape *before* it is decompressed."""

    def __init__(self, ctx, where, path):
        import zipfile

        self.ctx, self.where, self.path = ctx, where, path
        try:
            self.zip = zipfile.ZipFile(path)
            self.names = [n[:-4] for n in self.zip.namelist() if n.endswith(".npy")]
        except (zipfile.BadZipFile, OSError, ValueError):
            raise ctx.error(where, f"cannot read {str(path)!r} as .npz (not a zip archive)") from None

    def get(self, key, param, shape, where_key):
        ctx = self.ctx
        if key not in self.names:
            raise ctx.error(where_key, f"array {key!r} not in {str(self.path)!r} (it has {', '.join(self.names)})")
        try:
            with self.zip.open(key + ".npy") as fh:
                version = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                found, _, dtype = read(fh)  # the header only: nothing decompressed yet
                if int(np.prod(found, dtype=object)) != int(np.prod(shape)):
                    raise ctx.error(self.where, f"array {key!r} has shape {list(found)}, parameter {param!r} "
                                                f"needs {list(shape)}")
                if dtype.hasobject:
                    raise ctx.error(self.where, f"array {key!r} holds Python objects; numbers are needed")
            with self.zip.open(key + ".npy") as fh:
                arr = np.lib.format.read_array(fh, allow_pickle=False)
        except SpecError:
            raise
        except Exception:
            raise ctx.error(self.where, f"array {key!r} of {str(self.path)!r} is damaged or not numeric") from None
        return np.asarray(arr, dtype=np.float64).reshape(shape)


def _read_edges(ctx, where, path) -> np.ndarray:
    """Two integer columns ``i j`` per line (``#`` comments); errors give the line number, never its text."""
    if path.stat().st_size > MAX_EDGES_BYTES:
        raise ctx.error(where, f"{str(path)!r} is larger than {MAX_EDGES_BYTES >> 20} MiB; is it an edge list?")
    rows = []
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            line = raw.split(b"#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            try:
                if len(parts) != 2:
                    raise ValueError
                rows.append((int(parts[0]), int(parts[1])))
            except ValueError:
                raise ctx.error(where, f"line {n} of {str(path)!r}: expected two integers i j") from None
    return np.array(rows, dtype=np.intp).reshape(-1, 2)


def _edges(ctx, t, where, base_dir):
    if ("edges" in t) == ("edges_file" in t):
        raise ctx.error(where, "give exactly one of `edges` (a list of [i, j]) or `edges_file` (a text file)")
    if "edges" in t:
        raw = t["edges"]
        if not isinstance(raw, list) or not all(isinstance(e, list) and len(e) == 2 for e in raw):
            raise ctx.error(f"{where}.edges", "expected a list of [i, j] pairs of unit indices")
        if not all(isinstance(x, int) for e in raw for x in e):
            raise ctx.error(f"{where}.edges", "unit indices must be integers")
        return np.array(raw, dtype=np.intp).reshape(-1, 2)
    name = t["edges_file"]
    if not isinstance(name, str):
        raise ctx.error(f"{where}.edges_file", f"expected a file name, got {name!r}")
    return _read_edges(ctx, f"{where}.edges_file", _data_file(ctx, f"{where}.edges_file", name, base_dir))


def build_factor(ctx, t, where, graph, rng, base_dir):
    """One factor from its table, by the kind's own :meth:`~pgboltz.factors.Factor.from_spec`."""
    kinds = ", ".join(sorted(FACTOR_KINDS))
    kind = _require(ctx, t, "kind", where, str, f"one of {kinds}")
    if kind not in FACTOR_KINDS:
        raise ctx.error(f"{where}.kind", f"unknown factor kind {kind!r}; known kinds: {kinds}")
    cls = FACTOR_KINDS[kind]
    _check_keys(ctx, t, COMMON_FACTOR_KEYS | set(cls.spec_keys), where)
    if "name" in t:
        _check_text(ctx, f"{where}.name", t["name"])
    spec = FactorSpec(ctx, t, where, graph, rng, base_dir)
    factor = cls.from_spec(spec)
    if not spec.source.used and spec.source.given:
        raise ctx.error(where, f"a {kind} factor has no parameters; remove {', '.join(spec.source.given)}")
    return factor


def load_spec(path, allow_outside_paths: bool = False) -> FactorGraph:
    """Read a TOML graph spec into a :class:`FactorGraph`; errors name the file and field.

    Data files (``file``, ``edges_file``) are resolved relative to the spec and must lie in its
    folder unless ``allow_outside_paths``."""
    path = Path(path)
    ctx = _Ctx(path, allow_outside_paths)
    if not path.exists():
        raise SpecError(f"{path}: no such graph spec file")
    if not path.is_file():
        raise SpecError(f"{path}: not a file; give a .toml graph spec")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: {path.stat().st_size} bytes, more than a spec needs (limit {MAX_SPEC_BYTES}); "
                        "put large parameters in a `file = ...npz` archive")
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not a text file (not UTF-8); a graph spec is TOML text") from None
    except RecursionError:
        raise SpecError(f"{path}: nested too deeply to be a graph spec") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return spec_to_graph(doc, ctx, path.parent)


def spec_to_graph(doc: dict, ctx=None, base_dir=Path(".")) -> FactorGraph:
    ctx = ctx or _Ctx("<spec>")
    _check_keys(ctx, doc, TOP_KEYS, "top level")
    name = doc.get("name", Path(ctx.path).stem)
    seed = doc.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ctx.error("seed", f"expected an integer >= 0, got {seed!r}")
    for key, value in (("name", name), ("description", doc.get("description", ""))):
        _check_text(ctx, key, value)
    graph = FactorGraph(str(name), str(doc.get("description", "")))
    groups = doc.get("groups")
    if not isinstance(groups, list) or not groups:
        raise ctx.error("groups", "expected at least one [[groups]] table")
    for k, t in enumerate(groups):
        where = f"groups[{k}]"
        if not isinstance(t, dict):
            raise ctx.error(where, "expected a table")
        _check_keys(ctx, t, GROUP_KEYS, where)
        gname = _require(ctx, t, "name", where, str, "a group name")
        shape = _require(ctx, t, "shape", where, (list, int), "a list of positive integers")
        try:
            graph.add_group(gname, shape, t.get("units", "bernoulli"), t.get("role", "hidden"))
        except GraphError as exc:
            raise ctx.error(where, str(exc)) from None
    rng = np.random.default_rng(seed)
    factors = doc.get("factors", [])
    if not isinstance(factors, list):
        raise ctx.error("factors", "expected [[factors]] tables")
    for k, t in enumerate(factors):
        where = f"factors[{k}]"
        if not isinstance(t, dict):
            raise ctx.error(where, "expected a table")
        try:
            graph.add_factor(build_factor(ctx, t, where, graph, rng, base_dir))
        except SpecError:
            raise
        except GraphError as exc:
            raise ctx.error(where, str(exc)) from None
    return graph
