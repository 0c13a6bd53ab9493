"""Checkpoints: graph, parameters, optimiser and chain state in one .npz, written atomically.

Layout (all NumPy arrays, no pickles): ``param/{i}/{name}`` and ``edges/{i}`` for the
graph, ``optim/...`` for the optimiser, ``chains/...`` for persistent chains, and
``meta``: a JSON string with the format tag, graph structure, training config,
epoch and history.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from .errors import PgboltzError
from .io import save_npz_atomic

FORMAT = "pgboltz-checkpoint-1"


class CheckpointError(PgboltzError, ValueError):
    """An unreadable, corrupt or mismatched checkpoint."""


def save_checkpoint(path, arrays: dict, meta: dict) -> Path:
    return save_npz_atomic(path, arrays, dict(meta, format=FORMAT))


#: what a training checkpoint's metadata must hold, and of which type
META_FIELDS = {"graph": dict, "config": dict, "epoch": int, "history": list, "n_train": int}


def resolve(path) -> Path:
    """The checkpoint file for ``path``: as given, or with ``.npz`` appended as writing does."""
    from .io import npz_path

    path = Path(path)
    return path if path.exists() or npz_path(path) == path else npz_path(path)


def load_checkpoint(path) -> tuple[dict, dict]:
    """(arrays, meta); clear errors for a missing, corrupt or foreign file."""
    path = resolve(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file; give the checkpoint's .npz file")
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an archive")
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        why = "not an .npz archive" if "pickle" in str(exc) else str(exc)
        raise CheckpointError(f"{path}: not a readable .npz checkpoint ({why}); it may be truncated or corrupt") \
            from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except Exception as exc:  # zlib.error, tokenizer errors in a corrupted header, ...
        raise CheckpointError(f"{path}: corrupt checkpoint ({type(exc).__name__}); it may be truncated or damaged "
                              "-- use an earlier copy") from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: no 'meta' entry; this .npz is not a pgboltz checkpoint")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its metadata is not a JSON object; this is not a pgboltz checkpoint")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    for key, kind in META_FIELDS.items():
        value = meta.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            raise CheckpointError(f"{path}: metadata field {key!r} is missing or not a valid {kind.__name__} "
                                  f"(found {value!r}); the file was edited or damaged")
    if len(meta["history"]) != meta["epoch"]:
        raise CheckpointError(f"{path}: metadata says epoch {meta['epoch']} but holds {len(meta['history'])} "
                              "epochs of history; the file was edited or damaged")
    return arrays, meta


def load_model(path):
    """(graph, arrays, meta) from a checkpoint; the graph is rebuilt from its structure and parameters."""
    from .errors import GraphError
    from .graph.serialize import graph_from_dict

    arrays, meta = load_checkpoint(path)
    try:
        graph = graph_from_dict(meta["graph"], arrays)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, GraphError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's graph cannot be rebuilt ({exc})") from None
    return graph, arrays, meta
