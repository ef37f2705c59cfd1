"""Theory checks by simulation: exact marginal contributions where the truth is known.

docs/math.md §4 and Covert et al. (ICML 2024), Appendix A (Theorems A.1 and A.2):

* :mod:`~scaling_kit.theory.ols` - linear regression, exact contributions by a rank-one
  (Sherman-Morrison) update; ``E[Delta] ~ c(z) k^-2`` with the sign flip at ``e_z^2 = 2 sigma^2``;
* :mod:`~scaling_kit.theory.ols_diagnostics` - one design closely: the update against refits,
  the helpful and harmful terms of ``E[Delta | X]``;
* :mod:`~scaling_kit.theory.logistic` - L2 logistic regression: ``k^-2`` on the population
  loss, ``k^-1`` on a fixed validation set;
* :mod:`~scaling_kit.theory.slope` - the fits against ``k`` shared by both (log-log slope,
  series in ``1/k``).
"""

from .logistic import (
    GaussianLogisticModel,
    LogisticContributionResult,
    simulate_logistic_contributions,
)
from .ols import (
    GaussianLinearModel,
    OLSContributionResult,
    SignFlip,
    ols_coefficient,
    ols_expected_contribution,
    ols_marginal_contribution,
    ols_refit_contribution,
    simulate_ols_contributions,
)
from .ols_diagnostics import ols_expectation_terms, ols_rank_one_check
from .slope import (
    InversePowerFit,
    SlopeFit,
    fit_inverse_powers,
    fit_loglog_slope,
    two_term_exponent,
)

__all__ = [
    "GaussianLinearModel",
    "GaussianLogisticModel",
    "InversePowerFit",
    "LogisticContributionResult",
    "OLSContributionResult",
    "SignFlip",
    "SlopeFit",
    "fit_inverse_powers",
    "fit_loglog_slope",
    "ols_coefficient",
    "ols_expectation_terms",
    "ols_expected_contribution",
    "ols_marginal_contribution",
    "ols_rank_one_check",
    "ols_refit_contribution",
    "simulate_logistic_contributions",
    "simulate_ols_contributions",
    "two_term_exponent",
]
