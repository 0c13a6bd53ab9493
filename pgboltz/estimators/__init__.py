"""Estimators: free energies, exact log-likelihoods, AIS (forward and reverse). They never train."""

from ..model import independent_groups
from .ais import (AISResult, ConditionalAIS, ais, base_rate_biases, centred_ais, conditional_ais, default_betas,
                  default_gammas, summed_groups)
from .conditional import conditional_log_likelihood, conditional_log_z
from .bound import Bound, dbn_bound, deep_bound, factorised_sampler, importance_bound, mean_field_bound
from .evaluate import Evaluation, base_rate_log_likelihood, evaluate
from .free_energy import free_energy
from .likelihood import exact_log_likelihood

__all__ = ["free_energy", "independent_groups", "exact_log_likelihood", "ais", "AISResult", "base_rate_biases",
           "default_betas", "summed_groups", "evaluate", "Evaluation", "base_rate_log_likelihood",
           "Bound", "mean_field_bound", "importance_bound", "dbn_bound", "deep_bound", "factorised_sampler",
           "conditional_log_z", "conditional_log_likelihood", "conditional_ais", "ConditionalAIS", "centred_ais",
           "default_gammas"]
