"""scaling-kit: a notebook-first teaching and reproduction kit for data scaling laws.

Modules (one job each):

* :mod:`scaling_kit.datasets` - bundled datasets split into pool and test set;
* :mod:`scaling_kit.learners` - exact L2 logistic regression, scikit-learn adapter;
* :mod:`scaling_kit.metrics` - test losses (log loss, reference softmax-CE, error, Brier);
* :mod:`scaling_kit.sampling` - class-balanced (proportionally stratified) dataset draws;
* :mod:`scaling_kit.contributions` - the exact, fast marginal-contribution engine;
* :mod:`scaling_kit.aggregate` - Hestness-style learning curves and power-law fits;
* :mod:`scaling_kit.theory` - simulated OLS and M-estimator checks;
* :mod:`scaling_kit.laws` - individualized scaling laws: validation and estimators;
* :mod:`scaling_kit.valuation` - distributional Shapley values and point addition;
* :mod:`scaling_kit.plots` - every figure;
* :mod:`scaling_kit.profiles` - every notebook's run sizes per profile, offline stand-ins;
* :mod:`scaling_kit.report` - ``record()``: what notebooks hand to the main job's report;
* :mod:`scaling_kit.reproduce` - the ``scaling-kit reproduce`` main job (runs the notebooks).
"""

from .config import figures_dir, get_profile, save_figure

__version__ = "0.2.0"  # kept equal to pyproject.toml by tests/test_publish.py
__all__ = ["figures_dir", "get_profile", "save_figure", "__version__"]
