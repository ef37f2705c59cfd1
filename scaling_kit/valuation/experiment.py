"""The valuation and point-addition experiment of notebook 05 (Covert et al., ICML 2024,
Sections 4.3-4.4; docs/math.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._checks import (
    as_problem,
    check_int,
    check_random_state,
    check_size_range,
    check_sizes,
    spawn_seeds,
)
from ..learners import ExactLogisticRegression
from ..metrics import check_metrics
from ..results import Summary
from .addition import point_addition, selection_scores
from .shapley import (
    ShapleyComparison,
    amortized_shapley_estimator,
    compare_shapley_estimators,
    likelihood_shapley_estimator,
    monte_carlo_shapley,
)

__all__ = ["ValuationExperiment", "valuation_experiment"]


# ------------------------------------------------------------------------------------------
# the whole experiment (notebook 05 and the report section)
# ------------------------------------------------------------------------------------------
@dataclass
class ValuationExperiment:
    """Everything notebook 05 shows: Tables 3/4 (``comparison``) and 5-8 (``addition``).

    Attributes
    ----------
    candidates : pool indices of the valued / candidate points.
    truth_samples, estimate_samples : the two independent contribution tables.
    ground_truth : Monte Carlo Shapley values from ``truth_samples`` (log loss).
    comparison : :class:`ShapleyComparison` (estimators from ``estimate_samples``).
    laws : dict ``selection metric -> ScalingLawResults`` fitted on ``truth_samples``.
    scores : dict ``selection metric -> {method: Series}`` (see :func:`selection_scores`).
    addition : dict ``selection metric -> PointAdditionResults``.
    """

    candidates: np.ndarray
    truth_samples: pd.DataFrame
    estimate_samples: pd.DataFrame
    ground_truth: pd.DataFrame
    comparison: ShapleyComparison
    laws: dict
    scores: dict
    addition: dict
    settings: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The estimator comparison and every point-addition table
        (a :class:`scaling_kit.results.Summary`)."""
        tables = {"Shapley estimators: Pearson with the ground truth":
                  self.comparison.pivot("pearson")}
        for metric, result in self.addition.items():
            tables[f"point addition, laws fitted on {metric} (mean ± std)"] = result.table("std")
        return Summary(title=f"Valuation and point addition on {self.settings.get('dataset')}",
                       facts={k: str(v) for k, v in self.settings.items() if k != "dataset"},
                       tables=tables)


def valuation_experiment(data, *, n_points: int = 200, k_range=(100, 1000),
                         n_truth: int = 300, n_samples=(10, 20, 50), k0=(100, 1000),
                         n_add: int = 20, n_repeats: int = 100,
                         selection_metrics=("error", "log_loss"), amortized: bool = True,
                         amortized_kwargs=None, learner=None, stratify=True,
                         random_state=None, cache=None, n_jobs: int = 1,
                         progress: bool = False) -> ValuationExperiment:
    """Run the valuation and point-addition experiments of Sections 4.3-4.4 on one dataset.

    1. ``n_points`` candidates drawn from the pool.
    2. Ground truth: ``n_truth`` contributions per candidate with ``k`` uniform on
       ``k_range`` (log loss and every selection metric from the same fits); its Monte Carlo
       mean is the ground-truth Shapley value (log loss).
    3. An independent table of ``max(n_samples)`` contributions per candidate feeds the
       Monte Carlo, likelihood and (``amortized=True``) amortized estimators with the first
       10, 20, 50 ... samples (Tables 3 / 4).
    4. For each selection metric, a law fitted on the ground-truth samples by
       ``fit_likelihood``'s default (empirical Bayes; the paper: per-point maximum likelihood
       on 500 samples a point at 10 log-spaced sizes) scores the candidates at every ``k0`` ("Scaling k0"), the
       ground-truth Shapley value in that metric gives "Shapley", and :func:`point_addition`
       adds ``n_add`` points to random datasets of each size ``k0`` (Tables 5-8). The gain is
       measured in accuracy, so the ``"error"`` metric (0-1 loss) values points in the unit
       of the outcome; ``"log_loss"`` is the loss the laws are usually fitted on.

    ``data`` is a :class:`scaling_kit.datasets.Dataset` or a tuple ``(X_pool, y_pool, X_test,
    y_test)``. The candidates, the two contribution tables, the amortized network and the
    point additions draw from five independent child streams of ``random_state``
    (``SeedSequence.spawn``); every selection metric's point addition uses the same datasets D.
    """
    from ..contributions import delta_column, sample_contributions
    from ..laws.likelihood import fit_likelihood

    problem = as_problem(data)
    learner = ExactLogisticRegression(C=1.0) if learner is None else learner
    k_lo, k_hi = check_size_range(k_range)
    n_pool = len(problem.y_pool)
    n_points = check_int(n_points, "n_points", low=3, high=n_pool - 1)
    ns = sorted(set(check_sizes(n_samples, "n_samples", low=3, unique=False).tolist()))
    n_truth = check_int(n_truth, "n_truth", low=ns[-1])
    if isinstance(selection_metrics, str):
        selection_metrics = (selection_metrics,)
    metrics = list(dict.fromkeys(["log_loss", *check_metrics(selection_metrics)]))
    k0 = check_sizes(k0, "k0")
    seq_points, seq_truth, seq_estimate, seq_amortized, seq_addition = spawn_seeds(
        random_state, 5)
    rng = check_random_state(seq_points)
    candidates = np.sort(rng.choice(n_pool, size=n_points, replace=False))
    args = (learner, problem, candidates)
    common = dict(k_range=(k_lo, k_hi), cache=cache, n_jobs=n_jobs, progress=progress)
    truth_samples = sample_contributions(*args, n_samples=n_truth, metric=metrics,
                                         random_state=_int_seed(seq_truth), **common)
    estimate_samples = sample_contributions(*args, n_samples=ns[-1], metric="log_loss",
                                            random_state=_int_seed(seq_estimate), **common)
    truth = monte_carlo_shapley(truth_samples, delta_col="delta")  # log_loss: the first metric
    estimators = {
        "Monte Carlo": lambda s, delta_col="delta": monte_carlo_shapley(
            s, delta_col=delta_col)["value"],
        "Likelihood": likelihood_shapley_estimator((k_lo, k_hi)),
    }
    if amortized:
        estimators["Amortized"] = amortized_shapley_estimator(
            problem.X_pool, problem.y_pool, (k_lo, k_hi),
            **{"random_state": _int_seed(seq_amortized), **(amortized_kwargs or {})})
    comparison = compare_shapley_estimators(estimate_samples, truth["value"], (k_lo, k_hi),
                                            n_samples=ns, estimators=estimators)
    laws, scores, addition = {}, {}, {}
    for m in selection_metrics:
        col = delta_column(m, truth_samples.attrs["metrics"])
        laws[m] = fit_likelihood(truth_samples, delta_col=col)
        scores[m] = selection_scores(laws[m], k0, shapley=monte_carlo_shapley(
            truth_samples, delta_col=col)["value"])
        addition[m] = point_addition(learner, problem, candidates, scores[m], k0, n_add=n_add,
                                     n_repeats=n_repeats, stratify=stratify,
                                     random_state=_int_seed(seq_addition), progress=progress)
    settings = dict(dataset=problem.name, n_points=n_points, k_range=(k_lo, k_hi),
                    n_truth=n_truth, n_samples=ns, k0=k0.tolist(), n_add=int(n_add),
                    n_repeats=int(n_repeats), selection_metrics=list(selection_metrics),
                    stratify=stratify)
    return ValuationExperiment(candidates, truth_samples, estimate_samples, truth, comparison,
                               laws, scores, addition, settings)


def _int_seed(seq) -> int:
    """A 32-bit integer seed from a child ``SeedSequence`` (for functions that take an int)."""
    return int(seq.generate_state(1)[0])
