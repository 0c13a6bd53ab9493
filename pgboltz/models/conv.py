"""Convolutional models: the convolutional RBM with probabilistic max pooling and the convolutional
DBN (Lee, Grosse, Ranganath & Ng 2009; seed section 6), as factor graphs.

A layer is an image group ``v`` (channels, H, W), detector maps ``d`` (K, H - k + 1, W - k + 1)
joined to it by a ``conv`` factor (shared kernels) with a ``map_bias`` (one bias per map), and pooling units ``p``
(K, (H - k + 1) / C, (W - k + 1) / C) joined to the detectors by a ``maxpool`` factor. Nothing
else is written: P(d, p | v) per pooling block and P(v | d) come from the factors. A CDBN stacks
layers, the pooling units of one layer being the image of the next; as in the paper it is one
undirected model sampled by block Gibbs, each pooling block seeing its detectors from below and
the next layer's detectors from above.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError
from ..factors import Bias, Conv2D, MapBias, MaxPool, Quadratic
from ..graph import FactorGraph


def _layer(g, image, shape, n_maps, kernel, pool, rng, scale, suffix, detector_bias):
    C, H, W = shape
    k = int(kernel)
    Ho, Wo = H - k + 1, W - k + 1
    if Ho < 1 or Wo < 1:
        raise GraphError(f"kernel {k}x{k} is larger than the image {H}x{W}")
    if Ho % pool or Wo % pool:
        raise GraphError(f"detector maps {Ho}x{Wo} ({H}x{W} image, {k}x{k} kernels) do not split into "
                         f"{pool}x{pool} pooling blocks; choose the kernel or pool size so that they do")
    d, p = f"d{suffix}", f"p{suffix}"
    g.add_group(d, (n_maps, Ho, Wo), role="hidden")
    g.add_group(p, (n_maps, Ho // pool, Wo // pool), role="hidden")
    g.add_factor(Conv2D(image, d, rng.normal(0, scale, (n_maps, C, k, k)), name=f"W{suffix}"))
    g.add_factor(MapBias(d, np.full(n_maps, float(detector_bias)), name=f"c{suffix}"))
    g.add_factor(MaxPool(d, p, pool, name=f"pool{suffix}"))
    g.add_factor(Bias(p, np.zeros(g.group(p).size), name=f"b_p{suffix}"))
    return p, (n_maps, Ho // pool, Wo // pool)


def conv_rbm(image_shape, n_maps: int, kernel: int, pool: int = 2, units: str = "bernoulli", sigma: float = 1.0,
             seed: int = 0, scale: float = 0.01, detector_bias: float = 0.0, name: str = "conv-rbm") -> FactorGraph:
    """A convolutional RBM with probabilistic max pooling over an image of ``image_shape``
    ((H, W) or (C, H, W)); ``units``: ``'bernoulli'`` or ``'gaussian'`` visibles (σ fixed per unit)."""
    return cdbn(image_shape, [(n_maps, kernel, pool)], units=units, sigma=sigma, seed=seed, scale=scale,
                detector_bias=detector_bias, name=name)


def cdbn(image_shape, layers, units: str = "bernoulli", sigma: float = 1.0, seed: int = 0, scale: float = 0.01,
         detector_bias: float = 0.0, name: str = "cdbn") -> FactorGraph:
    """A convolutional DBN: ``layers`` is a list of ``(n_maps, kernel, pool)``; layer l's pooling units
    ``p{l}`` are the image of layer l + 1. Groups: ``v``, then ``d1, p1, d2, p2, ...``."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(s) for s in image_shape)
    shape = (1, *shape) if len(shape) == 2 else shape
    if len(shape) != 3:
        raise GraphError(f"image_shape must be (height, width) or (channels, height, width), got {image_shape}")
    if units not in ("bernoulli", "gaussian"):
        raise GraphError(f"units must be 'bernoulli' or 'gaussian', got {units!r}")
    desc = " -> ".join(f"{K} maps {k}x{k}, pool {c}" for K, k, c in layers)
    g = FactorGraph(name, f"convolutional {'RBM' if len(layers) == 1 else 'DBN'}: {list(shape)} image -> {desc}")
    g.add_group("v", shape, units, role="visible")
    if units == "gaussian":
        g.add_factor(Quadratic("v", np.full(g.group("v").size, np.log(sigma)), name="sigma"))
    g.add_factor(Bias("v", np.zeros(g.group("v").size), name="b"))
    image = "v"
    for level, (K, k, c) in enumerate(layers, start=1):
        image, shape = _layer(g, image, shape, int(K), k, int(c), rng, scale, level, detector_bias)
    return g


def cdbn_layers(graph):
    """The layers of a convolutional DBN as ``[(image, detectors, pooling), ...]`` from the visible
    group up -- a chain of ``conv`` + ``maxpool`` pairs, each layer's pooling units the next one's
    image -- or None when ``graph`` is not one."""
    if len(graph.visible) != 1:
        return None
    image, layers = graph.visible[0], []
    while True:
        convs = [f for f in graph.factors if isinstance(f, Conv2D) and f.groups[0] == image]
        if not convs:
            break
        if len(convs) > 1:
            return None
        d = convs[0].groups[1]
        pools = [f for f in graph.factors if isinstance(f, MaxPool) and f.groups[0] == d]
        if len(pools) != 1:
            return None
        p = pools[0].groups[1]
        layers.append((image, d, p))
        image = p
    seen = {g for layer in layers for g in layer}
    return layers if layers and seen == set(graph.groups) else None


def layer_rbm(graph, layers, k):
    """Layer ``k`` of a CDBN as a convolutional RBM: its image (visible), detector and pooling groups
    with copies of every factor among them. Returns ``(rbm, {graph factor index: rbm factor index})``."""
    import copy

    from ..graph import FactorGraph

    image, d, p = layers[k]
    r = FactorGraph(f"{graph.name}-layer{k + 1}", f"layer {k + 1} of {graph.name}")
    for name in (image, d, p):
        grp = graph.group(name)
        r.add_group(name, grp.shape, grp.units.name, role="visible" if name == image else "hidden")
    index = {}
    for i, f in enumerate(graph.factors):
        if set(f.groups) <= {image, d, p}:
            index[i] = len(r.factors)
            r.add_factor(copy.deepcopy(f))
    return r, index
