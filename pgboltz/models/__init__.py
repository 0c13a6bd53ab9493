"""The zoo: each model is a constructor of a factor graph (plus, later, a training recipe)."""

from .bm import boltzmann_machine
from .conditional import crbm, lag_windows, linear_ar
from .conv import cdbn, cdbn_layers, conv_rbm
from .deep import dbm, dbn, dbn_from_rbms
from .gaussian import gb_rbm, mcrbm
from .ising import ising
from .rbm import rbm
from .rnnrbm import RNN, RNNRBM, frame_accuracy, rnn_rbm_frame

__all__ = ["rbm", "boltzmann_machine", "ising", "dbn", "dbm", "dbn_from_rbms", "gb_rbm", "mcrbm", "conv_rbm", "cdbn", "cdbn_layers",
           "crbm", "lag_windows", "linear_ar", "RNNRBM", "RNN", "rnn_rbm_frame",
           "frame_accuracy"]
