"""Samplers: batched blocked Gibbs (``GibbsSampler``) and moment accumulation."""

from .gibbs import GibbsSampler, RunResult
from .moments import Moments

__all__ = ["GibbsSampler", "RunResult", "Moments"]
