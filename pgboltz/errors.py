"""Exceptions raised at pgboltz's public boundaries.

Every message says what was expected, what was found and what to do.
All of them derive from :class:`PgboltzError`, and from ``ValueError`` where the
problem is a bad value, so callers can catch either.
"""


class PgboltzError(Exception):
    """Base class of every error pgboltz raises on purpose."""


class GraphError(PgboltzError, ValueError):
    """An invalid factor graph: unknown group, shape mismatch, duplicate name, self-loop..."""


class SpecError(GraphError):
    """A malformed graph spec file; the message names the file and the field."""


class ScheduleError(GraphError):
    """A block schedule that is not a partition of the free units into independent sets."""


class DataError(PgboltzError, ValueError):
    """States or data that do not fit the graph: wrong shape, values outside the unit's support."""


class TooLargeError(PgboltzError, ValueError):
    """An exact-inference request whose tables would not fit; the message says how to shrink it."""


class BackendUnavailable(PgboltzError, RuntimeError):
    """The requested array backend cannot run here (e.g. CuPy without a CUDA device)."""
