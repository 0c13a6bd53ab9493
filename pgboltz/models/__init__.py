"""The zoo: each model is a constructor of a factor graph (plus, later, a training recipe)."""

from .bm import boltzmann_machine
from .ising import ising
from .rbm import rbm

__all__ = ["rbm", "boltzmann_machine", "ising"]
