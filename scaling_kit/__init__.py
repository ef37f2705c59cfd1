"""scaling-kit: a notebook-first teaching and reproduction kit for data scaling laws.

It reproduces Covert, Ji, Hashimoto & Zou, "Scaling Laws for the Value of Individual Data Points
in Machine Learning" (ICML 2024) and teaches Hestness et al. 2017, "Deep Learning Scaling is
Predictable, Empirically". The mathematics is in ``docs/math.md``, the conventions every module
follows in ``docs/api.md``. Public modules (one job each):

Data and learners

* :mod:`scaling_kit.datasets` - bundled datasets split into pool and test set; MiniBooNE loader;
* :mod:`scaling_kit.sampling` - class-balanced (proportionally stratified) dataset draws;
* :mod:`scaling_kit.logistic` - the L2 logistic objective, its derivatives, Newton's method;
* :mod:`scaling_kit.learners` - exact L2 logistic regression, scikit-learn adapter;
* :mod:`scaling_kit.mlp` - small ReLU MLPs in torch, one network or many at once;
* :mod:`scaling_kit.recipes` - the paper's learners as its public code trains them;
* :mod:`scaling_kit.backends` - one learner interface: fit datasets, return test log-probabilities;
* :mod:`scaling_kit.metrics` - test losses (log loss, reference softmax-CE, error, Brier).

Contributions and laws

* :mod:`scaling_kit.contributions` - marginal contributions: definition, sampler, cache, tables;
* :mod:`scaling_kit.engine` - the exact, fast contribution engine for logistic regression;
* :mod:`scaling_kit.exact_engine` - the engine under its first name (re-exports ``engine``);
* :mod:`scaling_kit.aggregate` - Hestness-style learning curves, power-law forms, economics;
* :mod:`scaling_kit.link` - the aggregate-individual link (mean contribution = curve's step);
* :mod:`scaling_kit.theory` - simulated OLS and M-estimator checks with exact expectations;
* :mod:`scaling_kit.laws` - individualized scaling laws: validation and estimators of (c, alpha);
* :mod:`scaling_kit.sign_changes` - sign changes of a point's mean contribution across k;
* :mod:`scaling_kit.metric_comparison` - the same points valued under several test metrics;
* :mod:`scaling_kit.model_comparison` - the individualized laws across model classes (Tables 1 and 2 of Covert et al. 2024);
* :mod:`scaling_kit.optimization_noise` - how much of an MLP contribution is training noise;
* :mod:`scaling_kit.recipe_comparison` - what a training recipe changes in laws and noise;
* :mod:`scaling_kit.valuation` - distributional Shapley values and point addition.

Results, figures, running

* :mod:`scaling_kit.results` - ``Summary``: the one ``summary()`` type (text and HTML);
* :mod:`scaling_kit.exceptions` - the kit's warnings and errors (scikit-learn's where one exists);
* :mod:`scaling_kit.paper` - the papers' reported numbers, shown beside ours;
* :mod:`scaling_kit.plots` - every figure (plots draw, they do not compute);
* :mod:`scaling_kit.config` - profile, output folders, ``save_figure``;
* :mod:`scaling_kit.profiles` - every notebook's run sizes per profile, offline stand-ins;
* :mod:`scaling_kit.plan` - ``scaling-kit reproduce --plan``: counts, estimated time, downloads;
* :mod:`scaling_kit.mlp_cost` - fits, flops and seconds of sampling MLP contributions;
* :mod:`scaling_kit.report` - ``record()``: what notebooks hand to the main job's report;
* :mod:`scaling_kit.reproduce` - the ``scaling-kit reproduce`` main job (runs the notebooks);
* :mod:`scaling_kit.cli` - the ``scaling-kit`` command line.
"""

from .config import figures_dir, get_profile, save_figure

__version__ = "0.2.0"  # kept equal to pyproject.toml by tests/test_publish.py
__all__ = ["figures_dir", "get_profile", "save_figure", "__version__"]
