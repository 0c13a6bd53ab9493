"""Exact inference for small graphs: our own enumerator and the pgmpy oracle."""

from .enumerate import ExactResult, choose_summed_groups, exact, log_z
from .pgmpy_bridge import PgmpyOracle

__all__ = ["exact", "log_z", "ExactResult", "choose_summed_groups", "PgmpyOracle"]
