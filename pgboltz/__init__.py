"""pgboltz: Boltzmann machines as explicit factor graphs.

Every model is a factor graph; conditionals, block schedules, energies and exact
checks are derived from its factors. Gibbs sampling runs batched over many
chains on NumPy or (optionally) CuPy.
"""

from .errors import BackendUnavailable, DataError, GraphError, PgboltzError, ScheduleError, SpecError, TooLargeError
from .factors import Bias, Conv2D, Covariance, Dense, Directed, Lattice2D, MapBias, MaxPool, Quadratic, Replicated, Shift, Sparse, ThreeWay
from .graph import FactorGraph
from .model import CompiledModel
from .sampling import GibbsSampler
from .units import Bernoulli, Gaussian, Real, Spin

__version__ = "0.1.0"

__all__ = [
    "FactorGraph", "Bias", "Conv2D", "Dense", "Replicated", "Sparse", "Lattice2D", "MapBias", "Quadratic", "ThreeWay", "Covariance", "MaxPool",
    "Directed", "Shift", "Bernoulli", "Spin", "Gaussian", "Real", "CompiledModel", "GibbsSampler",
    "PgboltzError", "GraphError", "SpecError", "ScheduleError", "DataError", "TooLargeError", "BackendUnavailable",
]
