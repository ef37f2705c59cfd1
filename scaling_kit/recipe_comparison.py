"""What a training recipe changes: in the laws, in the noise, in probabilities and contributions.

* :func:`compare_recipes` samples contributions with each learner on the same datasets (same
  plan, same ``random_state``), fits the log-linear laws of the paper (Section 2.1, docs/math.md
  §3) and reports per recipe the per-point R^2 of the fits, the R^2 across points (the
  statistic of the paper's Table 1), the distribution of alpha and the initialization noise of
  one contribution (:func:`scaling_kit.optimization_noise.init_noise`).
* :func:`compare_learners` compares two or more learners that are meant to be the same model
  (e.g. the paper's SVM against scikit-learn's ``SVC(probability=True)``, or exact against
  L-BFGS logistic regression): mean absolute difference of their predicted test probabilities
  on the same datasets and of their sampled contributions ``Delta`` on the same plan.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._checks import as_problem, check_int, check_sizes, spawn_seeds
from .contributions import sample_contributions
from .metrics import check_metrics
from .optimization_noise import InitNoiseResult, _fit_many, init_noise
from .recipes import PAPER_OPTIONS
from .results import Summary
from .sampling import StratifiedSampler

__all__ = ["LearnerComparison", "RecipeComparison", "compare_learners", "compare_recipes"]


def _check_learners(learners, name="learners"):
    if not isinstance(learners, Mapping) or len(learners) < 1:
        raise TypeError(f"{name} must be a dict {{name: learner}} with at least one entry; got "
                        f"{type(learners).__name__}.")
    return dict(learners)


# ------------------------------------------------------------------------------------------
# recipes: laws and noise
# ------------------------------------------------------------------------------------------
@dataclass
class RecipeComparison:
    """Per recipe: log-linear laws (``laws[name]``, :class:`LogLinearLawResults`), the
    initialization noise of one contribution (``noise[name]``) and the table of headline
    statistics (``params``, one row per recipe)."""

    laws: dict
    noise: dict
    params: pd.DataFrame
    options: dict

    def summary(self) -> Summary:
        """Per-recipe law fits (points fitted, R^2, alpha quantiles) and initialization noise."""
        return Summary(
            title="Training recipes compared: log-linear laws and initialization noise",
            facts={key: str(value) for key, value in self.options.items()},
            tables={"Per recipe": self.params.T},
            notes=["r2_median: median per-point R^2 of log|mean| on log k; r2_across_points: "
                   "R^2 across points averaged over k (the paper's Table 1 statistic); "
                   "var_*: variance of one sampled contribution (init_noise), 'independent' "
                   "with different seeds for D and D + {z}, 'per_dataset' with one seed per "
                   "dataset shared by D and D + {z} (the kit's default), 'shared' with one seed "
                   "for every fit (the reference code); seed_effect_std: std of the offset a "
                   "single shared seed leaves in the mean."],
        )


def _law_row(laws) -> dict:
    params = laws.params
    fitted = params[params["status"].isin(["ok", "sign_change_abs"])]
    alpha = fitted["alpha"]
    return {
        "n_points": len(params), "n_fitted": len(fitted),
        "r2_median": float(fitted["r2"].median()) if len(fitted) else np.nan,
        "r2_across_points": laws.r2_overall,
        "alpha_q10": float(alpha.quantile(0.1)) if len(alpha) else np.nan,
        "alpha_median": float(alpha.median()) if len(alpha) else np.nan,
        "alpha_q90": float(alpha.quantile(0.9)) if len(alpha) else np.nan,
        "fraction_alpha_positive": float(np.mean(alpha > 0)) if len(alpha) else np.nan,
    }


def _noise_row(noise: InitNoiseResult) -> dict:
    return {
        "noise_mean_delta": noise.mean,
        "var_independent": noise.var_independent, "var_per_dataset": noise.var_total,
        "var_shared": noise.var_data, "seed_effect_std": float(np.sqrt(noise.var_seed_effect)),
        "shared_variance_reduction": noise.variance_reduction,
    }


def compare_recipes(recipes, data, points, ks, *, n_samples=100, noise_point=None,
                    noise_k=None, n_datasets=20, n_seeds=10, options=None, random_state=None,
                    progress=False) -> RecipeComparison:
    """Fit the paper's log-linear laws with each recipe and measure each recipe's seed noise.

    Parameters
    ----------
    recipes : ``{name: learner}`` (e.g. ``{"kit default": BatchedMLPClassifier(),
        "reference": BatchedMLPClassifier.reference()}``).
    data : a Dataset or ``(X_pool, y_pool, X_test, y_test)``.
    points, ks, n_samples : the validation protocol (paper: 10 log-spaced k in [100, 1000],
        5000 samples per (point, k) for MLPs).
    noise_point, noise_k : the contribution whose initialization noise is measured (defaults:
        the first point, the smallest k) with ``n_datasets`` x ``n_seeds`` fits.
    options : ``sample_contributions`` options (default: the reference code's,
        :data:`scaling_kit.recipes.PAPER_OPTIONS`); ``metric`` must be a single name.
    random_state : one seed; every recipe sees the same plan of datasets.

    Cost: per recipe about ``n_samples * len(ks) * (len(points) + 1)`` fits (datasets shared
    across points) plus ``2 * n_datasets * n_seeds``.
    """
    from .contributions import summarize_contributions
    from .laws.validation import fit_loglinear_laws

    recipes = _check_learners(recipes, "recipes")
    problem = as_problem(data)
    ks = check_sizes(ks, "ks", sort=True)
    if len(ks) < 3:
        raise ValueError(f"ks must hold at least 3 sizes to fit a line in log k; got {ks.tolist()}.")
    options = dict(PAPER_OPTIONS if options is None else options)
    (metric,) = check_metrics(options.get("metric", "log_loss"))
    points = np.asarray(points)
    noise_point = int(points[0]) if noise_point is None else noise_point
    noise_k = int(ks[0]) if noise_k is None else noise_k
    plan_seed, noise_seed = spawn_seeds(random_state, 2)
    plan_seed = int(plan_seed.generate_state(1)[0])  # an int: accepted by every engine version
    laws, noise, rows = {}, {}, {}
    for name, learner in recipes.items():
        table = sample_contributions(learner, problem, points, k=ks, n_samples=n_samples,
                        random_state=plan_seed, progress=progress, **options)
        laws[name] = fit_loglinear_laws(summarize_contributions(table))
        noise[name] = init_noise(learner, problem, noise_point, noise_k,
                                 n_datasets=n_datasets, n_seeds=n_seeds, metric=metric,
                                 allow_z_in_D=bool(options.get("allow_z_in_D", False)),
                                 random_state=noise_seed)
        rows[name] = {**_law_row(laws[name]), **_noise_row(noise[name])}
    return RecipeComparison(laws=laws, noise=noise, params=pd.DataFrame(rows).T,
                            options={"ks": ks.tolist(), "n_samples": n_samples, **options})


# ------------------------------------------------------------------------------------------
# learners meant to be the same model
# ------------------------------------------------------------------------------------------
@dataclass
class LearnerComparison:
    """Pairwise differences between learners: ``params`` has one row per pair ``a - b`` with
    ``proba_mad`` (mean |P_a - P_b| over test points, classes and datasets), ``delta_mad``
    (mean |Delta_a - Delta_b| over the sampled contributions), ``delta_mean_abs_a``/``_b``
    (mean |Delta|, for scale), ``delta_corr`` (Pearson correlation of the contributions).
    ``deltas``: the contributions, one column per learner."""

    params: pd.DataFrame
    deltas: pd.DataFrame
    options: dict

    def summary(self) -> Summary:
        """Per-pair differences of probabilities and contributions between the learners."""
        return Summary(title="Learners compared on probabilities and contributions",
                       facts={key: str(value) for key, value in self.options.items()},
                       tables={"Pairwise differences": self.params})


def compare_learners(learners, data, points, k, *, n_samples=50, n_datasets=10, options=None,
                     random_state=None, progress=False) -> LearnerComparison:
    """Mean absolute differences of test probabilities and of contributions between learners.

    Probabilities: each learner is fitted on the same ``n_datasets`` class-balanced datasets of
    size ``min(k)`` (seed passed to learners that take one). Contributions: the same plan of
    datasets for every learner (``sample_contributions`` with one seed) at sizes ``k``,
    ``n_samples`` per (point, k), with ``options`` (default: the reference code's,
    :data:`scaling_kit.recipes.PAPER_OPTIONS`). scikit-learn's deprecation warning for
    ``SVC(probability=True)`` is silenced here (that learner is what this compares against).
    """
    learners = _check_learners(learners)
    if len(learners) < 2:
        raise ValueError("compare_learners needs at least two learners.")
    problem = as_problem(data)
    ks = check_sizes(k, "k", sort=True)
    n_datasets = check_int(n_datasets, "n_datasets", low=1)
    options = dict(PAPER_OPTIONS if options is None else options)
    metric = check_metrics(options.get("metric", "log_loss"))[0]
    plan_seed, data_seed = spawn_seeds(random_state, 2)
    plan_seed = int(plan_seed.generate_state(1)[0])
    rng = np.random.default_rng(data_seed)
    sampler = StratifiedSampler(problem.y_pool, problem.n_classes)
    sampler.check_k(int(ks[0]), exclude_one=False)
    Ds = np.stack([sampler.draw(rng, int(ks[0])) for _ in range(n_datasets)])
    fit_seeds = rng.integers(0, 2**31, n_datasets)
    proba, deltas = {}, {}
    with warnings.catch_warnings():  # SVC(probability=True) warns at every fit (deprecated)
        warnings.filterwarnings("ignore", message=".*probability.*", category=FutureWarning)
        for name, learner in learners.items():
            proba[name] = _fit_many(learner, problem.X_pool[Ds], problem.y_pool[Ds],
                                    problem.X_test, problem.n_classes, fit_seeds)
            table = sample_contributions(learner, problem, points, k=ks, n_samples=n_samples,
                            random_state=plan_seed, progress=progress, **options)
            deltas[name] = table.set_index(["point", "k", "sample"])["delta"]
    frame = pd.DataFrame(deltas)
    rows = {}
    for a, b in itertools.combinations(learners, 2):
        da, db = frame[a].to_numpy(), frame[b].to_numpy()
        rows[f"{a} - {b}"] = {
            "proba_mad": float(np.mean(np.abs(proba[a] - proba[b]))),
            "proba_max": float(np.max(np.abs(proba[a] - proba[b]))),
            "delta_mad": float(np.mean(np.abs(da - db))),
            "delta_mean_abs_a": float(np.mean(np.abs(da))),
            "delta_mean_abs_b": float(np.mean(np.abs(db))),
            "delta_corr": float(np.corrcoef(da, db)[0, 1]) if np.std(da) * np.std(db) > 0
            else np.nan,
        }
    return LearnerComparison(params=pd.DataFrame(rows).T, deltas=frame,
                             options={"k": ks.tolist(), "n_samples": n_samples,
                                      "n_datasets": n_datasets, "metric": metric, **options})
