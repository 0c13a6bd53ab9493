"""Learning: gradients from factor statistics, CD-k / PCD / PT trainers, optimiser on the backend."""

from .finetune import MLP
from .greedy import compose_dbm, doubled_rbm, train_cdbn_greedy, train_dbm_greedy, train_dbn_greedy
from .optim import SGD, OptimConfig
from .rnnrbm import RNNRBMTrainer, SequenceConfig, load_rnn_rbm
from .statistics import conditional_means, exact_gradient, hidden_groups
from .tempering import Tempering, swap_log_ratio
from .trainer import TrainConfig, Trainer, TrainingDiverged

__all__ = ["Trainer", "TrainConfig", "TrainingDiverged", "OptimConfig", "SGD", "exact_gradient", "conditional_means",
           "hidden_groups", "Tempering", "swap_log_ratio", "train_dbn_greedy", "train_dbm_greedy", "train_cdbn_greedy",
           "doubled_rbm", "compose_dbm", "MLP",
           "RNNRBMTrainer", "SequenceConfig", "load_rnn_rbm"]
