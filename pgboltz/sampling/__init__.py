"""Samplers: batched blocked Gibbs (``GibbsSampler``), hybrid Monte Carlo on free energies (``HMC``), moments."""

from .gibbs import GibbsSampler, RunResult
from .hmc import HMC
from .moments import Moments

__all__ = ["GibbsSampler", "RunResult", "HMC", "Moments"]
