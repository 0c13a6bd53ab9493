"""pgboltz: Boltzmann machines as explicit factor graphs.

Every model is a factor graph; conditionals, block schedules, energies and exact
checks are derived from its factors. Gibbs sampling runs batched over many
chains on NumPy or (optionally) CuPy.
"""

from .errors import BackendUnavailable, DataError, GraphError, PgboltzError, ScheduleError, SpecError, TooLargeError
from .factors import Bias, Dense, Lattice2D, Sparse
from .graph import FactorGraph
from .sampling import GibbsSampler
from .units import Bernoulli, Spin

__version__ = "0.1.0"

__all__ = [
    "FactorGraph", "Bias", "Dense", "Sparse", "Lattice2D", "Bernoulli", "Spin", "GibbsSampler",
    "PgboltzError", "GraphError", "SpecError", "ScheduleError", "DataError", "TooLargeError", "BackendUnavailable",
]
