"""Running first and second moments of Gibbs samples, with batch-means standard errors.

Chains are independent, so the chains are split into ``batches`` contiguous
batches; each batch's average over all recorded sweeps is one draw of an
estimator, and the spread of those draws gives a standard error that accounts
for autocorrelation along each chain:

    mean = average over batches of m_b,   stderr = std(m_b, ddof=1) / sqrt(B)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..backends.base import row_chunks


@dataclass
class Moments:
    """First moments per group (shape of the group), second moments over the
    concatenated units of ``groups`` (``(N, N)``), each with a standard error."""

    groups: list
    names: list  # unit names in the order of the second-moment matrix
    mean: dict
    mean_se: dict
    second: np.ndarray | None
    second_se: np.ndarray | None
    n_samples: int  # recorded sweeps
    n_chains: int

    def flat_mean(self):
        return np.concatenate([self.mean[g].ravel() for g in self.groups])

    def flat_mean_se(self):
        return np.concatenate([self.mean_se[g].ravel() for g in self.groups])


class MomentAccumulator:
    def __init__(self, graph, backend, groups, chains, second=False, batches=16):
        self.graph, self.be, self.groups = graph, backend, list(groups)
        self.sizes = [graph.group(g).size for g in self.groups]
        self.n = sum(self.sizes)
        self.batches = [r for r in row_chunks(chains, max(2, min(batches, chains))) if r.stop > r.start]
        B = len(self.batches)
        xp = backend.xp
        self.s1 = xp.zeros((B, self.n), dtype=np.float64)
        self.second = second
        if second:
            self.s2 = xp.zeros((B, self.n, self.n), dtype=np.float64)
            self.concat = backend.empty((chains, self.n))
        self.count = 0
        self.chains = chains

    def update(self, states):
        offsets = np.cumsum([0] + self.sizes)
        for b, rows in enumerate(self.batches):
            for g, a, z in zip(self.groups, offsets[:-1], offsets[1:]):
                self.s1[b, a:z] += states[g][rows].sum(axis=0, dtype=np.float64)
        if self.second:
            for g, a, z in zip(self.groups, offsets[:-1], offsets[1:]):
                self.concat[:, a:z] = states[g]
            for b, rows in enumerate(self.batches):
                x = self.concat[rows]
                self.s2[b] += (x.T @ x).astype(np.float64)
        self.count += 1

    def result(self) -> Moments:
        be = self.be
        rows = np.array([r.stop - r.start for r in self.batches], dtype=np.float64)
        per = be.to_numpy(self.s1) / (rows[:, None] * self.count)
        mean_flat = (be.to_numpy(self.s1).sum(axis=0)) / (self.chains * self.count)
        se_flat = per.std(axis=0, ddof=1) / np.sqrt(len(rows))
        second = second_se = None
        if self.second:
            s2 = be.to_numpy(self.s2)
            per2 = s2 / (rows[:, None, None] * self.count)
            second = s2.sum(axis=0) / (self.chains * self.count)
            second_se = per2.std(axis=0, ddof=1) / np.sqrt(len(rows))
        offsets = np.cumsum([0] + self.sizes)
        mean, mean_se = {}, {}
        for g, a, z in zip(self.groups, offsets[:-1], offsets[1:]):
            shape = self.graph.group(g).shape
            mean[g] = mean_flat[a:z].reshape(shape)
            mean_se[g] = se_flat[a:z].reshape(shape)
        return Moments(self.groups, self.graph.unit_names(self.groups), mean, mean_se, second, second_se,
                       self.count, self.chains)
