"""Finding graph specs: a path, or the name of an example shipped with pgboltz.

The examples are the ``*.toml`` files of the repository's ``graphs/`` folder,
installed as the package data ``pgboltz.examples``.
"""

from __future__ import annotations

from pathlib import Path

from .errors import SpecError
from .graph.spec import load_spec

DEFAULT_GRAPH = "rbm-784x500"


def examples_dir() -> Path:
    """The folder holding the example specs: installed package data, or graphs/ of a source checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "examples"
    return installed if installed.is_dir() else here.parent / "graphs"


def example_names() -> list[str]:
    return sorted(p.stem for p in examples_dir().glob("*.toml"))


def resolve(graph: str) -> Path:
    """A spec path from a path or an example name (``rbm-small``)."""
    p = Path(graph)
    if p.suffix == ".toml" or p.exists():
        if not p.exists():
            raise SpecError(f"{graph}: no such graph spec file")
        return p
    candidate = examples_dir() / f"{graph}.toml"
    if candidate.exists():
        return candidate
    raise SpecError(
        f"{graph!r} is neither a spec file nor an example; examples: {', '.join(example_names())}"
    )


def load(graph: str, allow_outside_paths: bool = False):
    """Load a graph from a spec path or an example name."""
    return load_spec(resolve(graph), allow_outside_paths)
