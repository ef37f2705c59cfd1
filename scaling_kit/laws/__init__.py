"""Individualized scaling laws psi_z(k) = E[Delta(z, D) | |D| = k] ~= c(z) k^-alpha(z).

* :mod:`~scaling_kit.laws.validation` - log-linear validation: OLS of log|mean Delta| on log k
  per point (Covert et al. 2024, §4.1, Table 1, Figure 1);
* :mod:`~scaling_kit.laws.likelihood` - per-point fits of Delta ~ N(c k^-alpha, sigma^2 k^-beta):
  empirical Bayes (default, :mod:`~scaling_kit.laws.empirical_bayes`), the exact maximum
  likelihood and the paper's Adam procedure (§3, Appendix B);
* :mod:`~scaling_kit.laws.amortized` - the amortized network estimator (§3);
* :mod:`~scaling_kit.laws.results` - the results object of every per-point estimator;
* :mod:`~scaling_kit.laws.simulation` - simulated laws with known parameters;
* :mod:`~scaling_kit.laws.comparison` - all estimators on simulated laws, side by side;
* :mod:`~scaling_kit.laws.evaluation` - accuracy against ground-truth means (§4.2, Figure 8);
* :mod:`~scaling_kit.laws.uncertainty` - bootstrap errors of the validation's statistics and a
  test that the exponents differ between points;
* :mod:`~scaling_kit.laws.crossings` - where two laws cross, and crossings checked on held-out
  samples (§4.1).
"""

from .amortized import AmortizedScalingLaw
from .comparison import EstimatorComparison, compare_estimators
from .crossings import CrossingCheck, LawCrossing, check_crossings, law_crossing
from .empirical_bayes import LawPosterior, PopulationPrior
from .evaluation import (
    accuracy_table,
    accuracy_vs_samples,
    evaluate_predictions,
    loglinear_vs_likelihood,
    subsample_contributions,
    true_means,
)
from .likelihood import (
    METHODS,
    LikelihoodScalingLaw,
    fit_likelihood,
    profile_alpha,
    profile_nll,
)
from .results import ScalingLawResults
from .simulation import (
    SimulatedLaws,
    simulate_contributions,
    simulate_feature_laws,
    simulate_laws,
)
from .uncertainty import (
    AlphaHeterogeneity,
    ValidationBootstrap,
    bootstrap_validation,
    loglinear_statistics,
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
    "METHODS",
    "AlphaHeterogeneity",
    "AmortizedScalingLaw",
    "CrossingCheck",
    "EstimatorComparison",
    "LawCrossing",
    "LawPosterior",
    "LikelihoodScalingLaw",
    "LogLinearLawResults",
    "PopulationPrior",
    "ScalingLawResults",
    "SimulatedLaws",
    "ValidationBootstrap",
    "accuracy_table",
    "accuracy_vs_samples",
    "alpha_correlation",
    "bootstrap_validation",
    "check_crossings",
    "compare_estimators",
    "decision_boundary_distance",
    "evaluate_predictions",
    "fit_likelihood",
    "fit_loglinear_laws",
    "law_crossing",
    "loglinear_statistics",
    "loglinear_vs_likelihood",
    "profile_alpha",
    "profile_nll",
    "r2_table",
    "run_validation",
    "simulate_contributions",
    "simulate_feature_laws",
    "simulate_laws",
    "subsample_contributions",
    "true_means",
]
