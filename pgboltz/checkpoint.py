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


def load_checkpoint(path) -> tuple[dict, dict]:
    """(arrays, meta); clear errors for a missing, corrupt or foreign file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{path}: not a readable .npz checkpoint ({exc}); it may be truncated or corrupt") from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path}: no 'meta' entry; this .npz is not a pgboltz checkpoint")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path}: its metadata is not valid JSON ({exc})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return arrays, meta


def load_model(path):
    """(graph, arrays, meta) from a checkpoint; the graph is rebuilt from its structure and parameters."""
    from .errors import GraphError
    from .graph.serialize import graph_from_dict

    arrays, meta = load_checkpoint(path)
    try:
        graph = graph_from_dict(meta["graph"], arrays)
    except (KeyError, TypeError, ValueError, GraphError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's graph cannot be rebuilt ({exc})") from None
    return graph, arrays, meta
