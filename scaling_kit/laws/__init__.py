"""Individualized scaling laws psi_z(k) = E[Delta(z, D) | |D| = k] ~= c(z) k^-alpha(z).

* :mod:`~scaling_kit.laws.validation` - log-linear validation: OLS of log|mean Delta| on log k
  per point (Covert et al. 2024, §4.1, Table 1, Figure 1);
* :mod:`~scaling_kit.laws.likelihood` - maximum likelihood of Delta ~ N(c k^-alpha,
  sigma^2 k^-beta) with c and sigma profiled out (§3, Appendix B);
* :mod:`~scaling_kit.laws.amortized` - the amortized network estimator (§3);
* :mod:`~scaling_kit.laws.evaluation` - accuracy against ground-truth means (§4.2, Figure 8).
"""

from .amortized import AmortizedScalingLaw, simulate_feature_laws
from .evaluation import (
    accuracy_table,
    accuracy_vs_samples,
    evaluate_predictions,
    loglinear_vs_likelihood,
    subsample_contributions,
    true_means,
)
from .likelihood import (
    LikelihoodScalingLaw,
    ScalingLawResults,
    fit_likelihood,
    profile_alpha,
    profile_nll,
    simulate_contributions,
)
from .validation import (
    LogLinearLawResults,
    alpha_correlation,
    decision_boundary_distance,
    fit_loglinear_laws,
    r2_table,
    run_validation,
)

__all__ = [
    "AmortizedScalingLaw",
    "LikelihoodScalingLaw",
    "LogLinearLawResults",
    "ScalingLawResults",
    "accuracy_table",
    "accuracy_vs_samples",
    "alpha_correlation",
    "decision_boundary_distance",
    "evaluate_predictions",
    "fit_likelihood",
    "fit_loglinear_laws",
    "loglinear_vs_likelihood",
    "profile_alpha",
    "profile_nll",
    "r2_table",
    "run_validation",
    "simulate_contributions",
    "simulate_feature_laws",
    "subsample_contributions",
    "true_means",
]
