"""Parallel tempering: replicas at inverse temperatures 1 = b_0 > b_1 > ... > b_{K-1}.

All replicas live in one GibbsSampler with one beta per chain; chain slot j of
temperature k is chain ``chain_at[k, j]``. After each sweep neighbouring
temperatures (alternately the even and odd pairs) propose to exchange their
states, accepted with the Metropolis probability

    min(1, exp((b_k - b_{k+1}) * (E(x_k) - E(x_{k+1}))))

An accepted exchange swaps the two chains' betas instead of copying states.
"""

from __future__ import annotations

import numpy as np


def swap_log_ratio(beta_a, beta_b, energy_a, energy_b):
    """log of the Metropolis ratio for exchanging the states at beta_a and beta_b."""
    return (beta_a - beta_b) * (energy_a - energy_b)


def geometric_betas(k: int, beta_min: float = 0.2) -> np.ndarray:
    return np.geomspace(1.0, beta_min, k) if k > 1 else np.ones(1)


class Tempering:
    def __init__(self, sampler, betas, rng: np.random.Generator):
        self.sampler, self.betas = sampler, np.asarray(betas, dtype=np.float64)
        K = len(self.betas)
        if sampler.chains % K:
            raise ValueError(f"{sampler.chains} chains cannot be split evenly over {K} temperatures")
        self.n = sampler.chains // K
        self.chain_at = np.arange(sampler.chains).reshape(K, self.n)
        self.rng = rng
        self.parity = 0
        self.accepted = np.zeros(max(1, K - 1))
        self.proposed = np.zeros(max(1, K - 1))
        self.push_betas()

    def push_betas(self):
        """Give every chain the beta of the temperature slot it holds."""
        beta = np.empty(self.sampler.chains)
        for k, b in enumerate(self.betas):
            beta[self.chain_at[k]] = b
        self.sampler.beta = beta

    def cold_mask(self) -> np.ndarray:
        mask = np.zeros(self.sampler.chains, bool)
        mask[self.chain_at[0]] = True
        return mask

    def swap(self) -> None:
        """One round of exchanges between neighbouring temperatures."""
        e = self.sampler.energy()
        for k in range(self.parity, len(self.betas) - 1, 2):
            a, b = self.chain_at[k], self.chain_at[k + 1]
            log_r = swap_log_ratio(self.betas[k], self.betas[k + 1], e[a], e[b])
            accept = np.log(self.rng.random(self.n)) < log_r
            self.chain_at[k, accept], self.chain_at[k + 1, accept] = b[accept], a[accept]
            self.accepted[k] += accept.sum()
            self.proposed[k] += self.n
        self.parity ^= 1
        self.push_betas()

    def acceptance(self) -> np.ndarray:
        return self.accepted / np.maximum(self.proposed, 1)
