"""Greedy layer-wise training of a deep belief network (Hinton, Osindero & Teh 2006; seed eq. 22).

Train an RBM on the data, then the next RBM on the first one's hidden units given the
data (drawn from P(h | v), or their probabilities binarised by a draw), and so on; the
stack becomes a DBN whose lower layers are the RBMs' weights as logistic tables and
whose top is the last RBM (:func:`pgboltz.models.dbn_from_rbms`). Every RBM is trained
by the ordinary :class:`~pgboltz.learning.Trainer`; nothing here samples by itself.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..conditionals import conditional_prob
from ..errors import DataError
from ..models import dbn_from_rbms, rbm
from .trainer import TrainConfig, Trainer


def train_dbn_greedy(data: np.ndarray, sizes, config: TrainConfig | None = None, scale: float = 0.01,
                     progress: bool = False):
    """Greedily train a DBN with layers ``sizes`` (visible first) on binary ``data`` of shape (n, sizes[0]).

    Returns ``(dbn graph, [trained RBM graphs], [training histories])``. Each layer uses ``config``
    with its own seed (config.seed + layer); the data of layer k+1 is one draw of P(h_k | v) per example.
    """
    config = config or TrainConfig()
    sizes = [int(s) for s in sizes]
    x = np.asarray(data, dtype=np.float64).reshape(len(data), -1)
    if len(sizes) < 2 or x.shape[1] != sizes[0]:
        raise DataError(f"sizes must start with the data's {x.shape[1]} units and have at least two layers, "
                        f"got {sizes}")
    rng = np.random.default_rng(config.seed)
    rbms, histories = [], []
    for k in range(len(sizes) - 1):
        r = rbm(sizes[k], sizes[k + 1], seed=config.seed + k, scale=scale, name=f"layer{k + 1}")
        trainer = Trainer(r, {"v": x}, replace(config, seed=config.seed + k))
        histories.append(trainer.fit(progress=progress))
        p = conditional_prob(r, {"v": x, "h": np.zeros((len(x), sizes[k + 1]))}, "h")
        x = (rng.random(p.shape) < p).astype(np.float64)
        rbms.append(r)
    return dbn_from_rbms(rbms), rbms, histories
