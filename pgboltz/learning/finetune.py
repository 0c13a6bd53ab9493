"""Discriminative use of a DBN (seed eqs. 23-24): its recognition weights initialise an MLP,
which backpropagation then fine-tunes for classification.

    h_k = sigma(c_k + h_{k-1} W_k)   (k = 1..L, h_0 = x)     weights and hidden biases of RBM k
    P(y | x) = softmax(h_L V + a)                           a new output layer

A plain NumPy forward and backward pass; cross-entropy loss, minibatch SGD with
momentum. ``MLP.random`` builds the same network from random weights, for the
comparison that shows what pre-training buys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from ..factors import Bias, Dense


def _sigmoid(a):
    return 0.5 + 0.5 * np.tanh(0.5 * a)


@dataclass
class MLP:
    weights: list  # [(W (n_in, n_out), c (n_out,))] hidden layers, then the softmax layer last

    @classmethod
    def from_rbms(cls, rbms, n_classes: int, seed: int = 0, scale: float = 0.01) -> "MLP":
        """Hidden layers from trained RBMs (their W and hidden biases), a random softmax layer on top."""
        layers = []
        for r in rbms:
            W = next(f for f in r.factors if type(f) is Dense).params["W"]
            c = next(f for f in r.factors if isinstance(f, Bias) and f.groups == ("h",)).params["b"]
            layers.append((W.copy(), c.copy()))
        rng = np.random.default_rng(seed)
        layers.append((rng.normal(0, scale, (layers[-1][0].shape[1], n_classes)), np.zeros(n_classes)))
        return cls(layers)

    @classmethod
    def random(cls, sizes, n_classes: int, seed: int = 0) -> "MLP":
        """The same architecture from scratch (Glorot-uniform weights, zero biases)."""
        rng = np.random.default_rng(seed)
        dims = list(sizes) + [n_classes]
        layers = []
        for a, b in zip(dims[:-1], dims[1:]):
            lim = np.sqrt(6.0 / (a + b))
            layers.append((rng.uniform(-lim, lim, (a, b)), np.zeros(b)))
        return cls(layers)

    def forward(self, x):
        """Activations of every layer; the last is the class probabilities."""
        acts = [np.asarray(x, dtype=np.float64)]
        for W, c in self.weights[:-1]:
            acts.append(_sigmoid(acts[-1] @ W + c))
        W, a = self.weights[-1]
        z = acts[-1] @ W + a
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        acts.append(p / p.sum(axis=1, keepdims=True))
        return acts

    def loss(self, x, y) -> float:
        p = self.forward(x)[-1]
        return float(-np.mean(np.log(p[np.arange(len(y)), y] + 1e-300)))

    def gradients(self, x, y) -> list:
        """d loss / d (W, c) per layer (mean cross-entropy), by backpropagation."""
        acts = self.forward(x)
        delta = acts[-1].copy()
        delta[np.arange(len(y)), y] -= 1.0
        delta /= len(y)
        grads = []
        for k in range(len(self.weights) - 1, -1, -1):
            W, _ = self.weights[k]
            grads.append((acts[k].T @ delta, delta.sum(axis=0)))
            if k:
                delta = (delta @ W.T) * acts[k] * (1.0 - acts[k])
        return grads[::-1]

    def predict(self, x):
        return self.forward(x)[-1].argmax(axis=1)

    def error(self, x, y) -> float:
        return float(np.mean(self.predict(x) != np.asarray(y)))

    def fit(self, x, y, epochs: int = 20, batch_size: int = 50, lr: float = 0.1, momentum: float = 0.9,
            seed: int = 0) -> list:
        """Minibatch SGD with momentum on the cross-entropy; returns the training loss per epoch."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
        if len(x) != len(y) or x.shape[1] != self.weights[0][0].shape[0]:
            raise DataError(f"MLP.fit: {len(x)} inputs of {x.shape[1]} values and {len(y)} labels; the network "
                            f"takes {self.weights[0][0].shape[0]} values per input")
        rng = np.random.default_rng(seed)
        vel = [(np.zeros_like(W), np.zeros_like(c)) for W, c in self.weights]
        history = []
        for _ in range(int(epochs)):
            order = rng.permutation(len(x))
            for s in range(0, len(x) - batch_size + 1, batch_size):
                idx = order[s:s + batch_size]
                for (W, c), (vW, vc), (gW, gc) in zip(self.weights, vel, self.gradients(x[idx], y[idx])):
                    vW *= momentum
                    vW -= lr * gW
                    vc *= momentum
                    vc -= lr * gc
                    W += vW
                    c += vc
            history.append(self.loss(x, y))
        return history
