"""PNG pictures of samples and filters (standard-library PNG writer in :mod:`pgboltz.io`)."""

from __future__ import annotations

import numpy as np

from .io import as_images, image_layout, tile, write_png


def _scale(image_shape, target=64):
    """Magnification that makes a tile about ``target`` pixels tall (8x8 digits: 8x, MNIST: 2x)."""
    return max(1, target // image_shape[0])


def samples_png(path, graph, states: dict, n: int = 64):
    """The first ``n`` states of the first visible group, as a grid."""
    g = (graph.visible or list(graph.groups))[0]
    imgs = as_images(np.asarray(states[g])[:n], graph.group(g).shape)
    return write_png(path, tile(imgs, scale=_scale(imgs.shape[1:])))


def filters_png(path, graph, n: int = 100):
    """Receptive fields onto the first visible group, one tile each, each scaled to its own range
    (from the first factor whose :meth:`~pgboltz.factors.Factor.filters` hook gives them)."""
    vis = graph.visible[0]
    for f in graph.factors:
        W = f.filters(vis)  # (n_visible, n_filters) or None
        if W is not None:
            cols = W[:, :n].T
            lo = cols.min(axis=1, keepdims=True)
            hi = cols.max(axis=1, keepdims=True)
            imgs = image_layout((cols - lo) / np.where(hi > lo, hi - lo, 1.0), graph.group(vis).shape)
            return write_png(path, tile(imgs, scale=_scale(imgs.shape[1:])))
    return None
