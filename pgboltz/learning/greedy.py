"""Greedy layer-wise training of deep models, every layer an RBM trained by the ordinary trainer.

* **DBN** (Hinton, Osindero & Teh 2006; seed eq. 22): train an RBM on the data, then the
  next RBM on the first one's hidden units given the data (one draw of P(h | v) per
  example), and so on; the stack becomes a DBN whose lower layers are the RBMs' weights as
  logistic tables and whose top is the last RBM (:func:`pgboltz.models.dbn_from_rbms`).
* **DBM** (Salakhutdinov & Hinton 2009, sec. 3.1): the same stack, but each RBM makes up
  for the neighbour its layer will gain in the DBM. In the DBM a hidden layer hears both
  the layer below and the layer above, so while pre-training the input it *will* get
  from the missing side is stood in for by doubling the input from the present side:

  - bottom RBM: two copies of v share W1 (a ``replicated`` factor), so
    P(h1 | v) = sigma(2 v W1 + c1) while P(v | h1) = sigma(W1 h1 + b);
  - top RBM: two copies of the top layer share W_L, so P(h_{L-1} | h_L) = sigma(2 W_L h_L + ...);
  - RBMs in between double both ways, which is an ordinary RBM with weights 2 W_k: their
    learned weights are halved.

  The DBM then uses the weights as learned (halved in between); a middle layer's bias is
  the mean of the bias it had as the upper layer of one RBM and as the lower layer of the next.

* **Convolutional DBN** (Lee, Grosse, Ranganath & Ng 2009): a convolutional RBM with
  probabilistic max pooling on the images, then one on a draw of its pooling units given
  each image, and so on (:func:`train_cdbn_greedy`). The CDBN keeps the weights as learned;
  a pooling group's bias, learned both as the top of one layer and as the image of the next,
  becomes the mean of the two.

Every RBM's visible biases start at the log-odds of its input's base rates (Hinton's practical
guide, sec. 8.1), so units that are almost always off (an image's border) need not learn their
bias from zero. Nothing here samples by itself: each RBM is a graph trained by
:class:`~pgboltz.learning.Trainer`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..conditionals import natural_parameters
from ..errors import DataError
from ..factors import Bias, Dense, Replicated
from ..graph import FactorGraph
from ..models import dbm, dbn_from_rbms, rbm
from ..models.conv import cdbn_layers, layer_rbm
from .trainer import TrainConfig, Trainer


def _check(data, sizes):
    sizes = [int(s) for s in sizes]
    x = np.asarray(data, dtype=np.float64).reshape(len(data), -1)
    if len(sizes) < 2 or x.shape[1] != sizes[0]:
        raise DataError(f"sizes must start with the data's {x.shape[1]} units and have at least two layers, "
                        f"got {sizes}")
    return x, sizes


def _stack(x, layers, config, progress):
    """Train each RBM in ``layers`` on the previous one's hidden draws; returns the histories."""
    rng = np.random.default_rng(config.seed)
    histories = []
    for k, (r, feed) in enumerate(layers):
        v = feed(x)
        r.factor("b").params["b"][...] = r.group("v").units.base_rate(v)["linear"]
        # an RBM's positive phase is exact whatever the deep model's own setting
        trainer = Trainer(r, {"v": v}, replace(config, seed=config.seed + k, positive="auto"))
        histories.append(trainer.fit(progress=progress))
        theta = natural_parameters(r, {"v": v, "h": np.zeros((len(v), r.group("h").size))}, "h")
        x = r.group("h").units.sample_host(rng, {"linear": theta}, theta.shape)  # only the top RBM's h has copies
    return histories


def train_dbn_greedy(data: np.ndarray, sizes, config: TrainConfig | None = None, scale: float = 0.01,
                     progress: bool = False, init=None):
    """Greedily train a DBN with layers ``sizes`` (visible first) on binary ``data`` of shape (n, sizes[0]).

    Returns ``(dbn graph, [trained RBM graphs], [training histories])``. Each layer uses ``config``
    with its own seed (config.seed + layer); the data of layer k+1 is one draw of P(h_k | v) per example.
    ``init``: a DBN graph (:func:`pgboltz.models.dbn` layout) whose weights start the RBMs
    (a spec's initialiser); otherwise ``W ~ N(0, scale^2)``.
    """
    config = config or TrainConfig()
    x, sizes = _check(data, sizes)
    starts = _dbn_starts(init, sizes) if init is not None else [None] * (len(sizes) - 1)
    rbms = [rbm(sizes[k], sizes[k + 1], W=starts[k], seed=config.seed + k, scale=scale, name=f"layer{k + 1}")
            for k in range(len(sizes) - 1)]
    histories = _stack(x, [(r, lambda z: z) for r in rbms], config, progress)
    return dbn_from_rbms(rbms), rbms, histories


def _dbn_starts(graph, sizes):
    from ..models.deep import dbn_layers

    names = dbn_layers(graph)
    if names is None or [graph.group(n).size for n in names] != sizes:
        raise DataError(f"init must be a DBN with layers {sizes}")
    out = []
    for k in range(len(names) - 2):
        f = next(f for f in graph.factors if f.directed and f.groups == (names[k + 1], names[k]))
        out.append(f.params["W"].T.copy())
    top = next(f for f in graph.factors if type(f) is Dense)
    W = top.params["W"]
    out.append(W.copy() if top.groups == (names[-2], names[-1]) else W.T.copy())
    return out


def doubled_rbm(n_visible: int, n_hidden: int, double: str, seed: int = 0, scale: float = 0.01, W=None,
                name: str = "rbm") -> FactorGraph:
    """An RBM whose ``double`` side ("v", "h" or "none") is two copies sharing W (see the module notes).

    ``W`` has shape (n_visible, n_hidden) in every case; the copied group has twice its units.
    """
    rng = np.random.default_rng(seed)
    W = rng.normal(0, scale, (n_visible, n_hidden)) if W is None else np.asarray(W, dtype=np.float64)
    if double == "none":
        return rbm(n_visible, n_hidden, W=W, name=name)
    g = FactorGraph(name, f"RBM {n_visible}x{n_hidden}, {double} doubled")
    g.add_group("v", 2 * n_visible if double == "v" else n_visible, role="visible")
    g.add_group("h", 2 * n_hidden if double == "h" else n_hidden, role="hidden")
    if double == "v":
        g.add_factor(Replicated("v", "h", W, copies=2, name="W"))
    elif double == "h":
        g.add_factor(Replicated("h", "v", W.T.copy(), copies=2, name="W"))
    else:
        raise ValueError(f"double must be 'v', 'h' or 'none', got {double!r}")
    g.add_factor(Bias("v", np.zeros(g.group("v").size), name="b"))
    g.add_factor(Bias("h", np.zeros(g.group("h").size), name="c"))
    return g


def _weights(r):
    f = r.factor("W")
    W = f.params["W"]
    return W.T if f.groups == ("h", "v") else W  # (n_visible, n_hidden) for one copy of each side


def _bias(r, group):
    b = r.factor({"v": "b", "h": "c"}[group]).params["b"]  # the names rbm() and doubled_rbm() give
    n = {"v": _weights(r).shape[0], "h": _weights(r).shape[1]}[group]
    return b.reshape(-1, n).mean(axis=0)  # copies: the mean of their biases


def compose_dbm(rbms, name: str = "dbm") -> FactorGraph:
    """The DBM of a pre-trained stack of (doubled) RBMs, as the module notes describe."""
    L = len(rbms)
    Ws = [_weights(r) for r in rbms]
    sizes = [Ws[0].shape[0]] + [W.shape[1] for W in Ws]
    g = dbm(sizes, name=name)
    for k, W in enumerate(Ws):
        halve = L > 2 and 0 < k < L - 1
        g.factor(f"W{k + 1}").params["W"][...] = W / 2 if halve else W
    g.factor("b_v").params["b"][...] = _bias(rbms[0], "v")
    for k in range(1, L + 1):
        below = _bias(rbms[k - 1], "h")
        g.factor(f"b_h{k}").params["b"][...] = below if k == L else (below + _bias(rbms[k], "v")) / 2
    return g


def train_dbm_greedy(data: np.ndarray, sizes, config: TrainConfig | None = None, scale: float = 0.01,
                     progress: bool = False):
    """Pre-train a DBM with layers ``sizes`` (visible first) greedily, Salakhutdinov & Hinton's way.

    Returns ``(dbm graph, [trained RBM graphs], [training histories])``; joint training
    (a :class:`Trainer` with ``positive="mean_field"``) continues from the DBM.
    """
    config = config or TrainConfig()
    x, sizes = _check(data, sizes)
    L = len(sizes) - 1
    layers = []
    for k in range(L):
        double = "none" if L == 1 else "v" if k == 0 else "h" if k == L - 1 else "none"
        r = doubled_rbm(sizes[k], sizes[k + 1], double, seed=config.seed + k, scale=scale, name=f"layer{k + 1}")
        layers.append((r, (lambda z: np.concatenate([z, z], axis=1)) if double == "v" else (lambda z: z)))
    histories = _stack(x, layers, config, progress)
    rbms = [r for r, _ in layers]
    return compose_dbm(rbms), rbms, histories


def train_cdbn_greedy(data: np.ndarray, graph, config: TrainConfig | None = None, progress: bool = False):
    """Pre-train the convolutional DBN ``graph`` (a chain of conv + maxpool layers, e.g. from
    :func:`pgboltz.models.cdbn` or a spec) layer by layer, in place.

    Layer k is a convolutional RBM of its image, detector and pooling groups (copies of the
    graph's factors among them) trained by the ordinary trainer on the previous layer's pooling
    units, one Gibbs draw given each example. Returns ``(graph, [layer RBMs], [histories])``.
    """
    from ..sampling import GibbsSampler

    config = config or TrainConfig()
    layers = cdbn_layers(graph)
    if layers is None:
        raise DataError(f"{graph.name!r} is not a convolutional DBN (a chain of conv + maxpool layers from one "
                        "visible group)")
    x = np.asarray(data, dtype=np.float64).reshape(len(data), -1)
    copies, rbms, histories = {}, [], []
    for k in range(len(layers)):
        r, index = layer_rbm(graph, layers, k)
        image, d, p = layers[k]
        if r.group(image).units.support is not None:  # binary images: biases start at the base rates
            for f in r.factors:
                if isinstance(f, Bias) and f.groups == (image,):
                    f.params["b"][...] = r.group(image).units.base_rate(x)["linear"]
        trainer = Trainer(r, {image: x}, replace(config, seed=config.seed + k, positive="auto"))
        histories.append(trainer.fit(progress=progress))
        rbms.append(r)
        for i, j in index.items():
            copies.setdefault(i, []).append(r.factors[j])
        if k + 1 < len(layers):  # one draw of the pooling units given each example feeds the next layer
            s = GibbsSampler(r, chains=len(x), clamp={image: x}, seed=config.seed + 100 + k, dtype="float64")
            s.sweep(1)
            x = s.get_states()[p].reshape(len(x), -1).astype(np.float64)
    for i, fs in copies.items():  # shared biases (a pooling group that is the next image): the mean
        for name, value in graph.factors[i].params.items():
            value[...] = np.mean([f.params[name] for f in fs], axis=0)
    return graph, rbms, histories
