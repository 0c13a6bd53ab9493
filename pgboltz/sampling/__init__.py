"""Samplers: batched blocked Gibbs (``GibbsSampler``), checkerboard Gibbs on int8 lattices (``CheckerboardSampler``), hybrid Monte Carlo on free energies (``HMC``), moments."""

from .checkerboard import CheckerboardSampler
from .gibbs import GibbsSampler, RunResult
from .hmc import HMC
from .moments import Moments

__all__ = ["CheckerboardSampler", "GibbsSampler", "RunResult", "HMC", "Moments"]
