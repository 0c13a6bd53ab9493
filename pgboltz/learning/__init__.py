"""Learning: gradients from factor statistics, CD-k / PCD / PT trainers, optimiser."""

from .optim import SGD, OptimConfig
from .statistics import exact_gradient, factor_statistics
from .tempering import Tempering, swap_log_ratio
from .trainer import TrainConfig, Trainer

__all__ = ["Trainer", "TrainConfig", "OptimConfig", "SGD", "exact_gradient", "factor_statistics", "Tempering",
           "swap_log_ratio"]
