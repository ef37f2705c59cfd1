"""Distributional Shapley values and point addition (docs/math.md §6; Covert et al., ICML
2024, Sections 4.3 and 4.4, Appendices C.3 and C.4).

* :mod:`~scaling_kit.valuation.shapley` - Shapley values from a fitted law, by Monte Carlo and
  by enumeration; the estimator comparison of Tables 3 and 4;
* :mod:`~scaling_kit.valuation.addition` - scores, selections and the point-addition
  experiment of Tables 5-8;
* :mod:`~scaling_kit.valuation.experiment` - both experiments on one dataset (notebook 05).
"""

from .addition import PointAdditionResults, point_addition, select_points, selection_scores
from .experiment import ValuationExperiment, valuation_experiment
from .shapley import (
    EnumeratedShapley,
    ShapleyComparison,
    amortized_shapley_estimator,
    compare_shapley_estimators,
    enumerate_shapley,
    law_shapley,
    likelihood_shapley_estimator,
    monte_carlo_shapley,
    power_sum,
    shapley_equivalent_size,
    shapley_size_profile,
)

__all__ = [
    "EnumeratedShapley",
    "PointAdditionResults",
    "ShapleyComparison",
    "ValuationExperiment",
    "amortized_shapley_estimator",
    "compare_shapley_estimators",
    "enumerate_shapley",
    "law_shapley",
    "likelihood_shapley_estimator",
    "monte_carlo_shapley",
    "point_addition",
    "power_sum",
    "select_points",
    "selection_scores",
    "shapley_equivalent_size",
    "shapley_size_profile",
    "valuation_experiment",
]
