"""All estimators of individualized laws on simulated laws with known parameters, side by side.

:func:`compare_estimators` draws realistic laws (:func:`~.simulation.simulate_laws`: alpha
spread over 0.5..2.5, helpful and harmful points, noise 0.2 to 20 times the mean, k uniform on
[100, 1000]), samples contributions, and fits each estimator on the first ``n`` samples of every
point for each ``n`` (nested samples). It measures, across points (docs/math.md §5):

* ``pearson_psi``: Pearson correlation of the predicted ``psi(k_eval)`` with the true
  ``c k_eval^-alpha`` (the accuracy measure of the paper's Section 4.2);
* ``spearman_alpha``: rank correlation of the estimated and true exponents;
* ``worst_rel_error``, ``median_rel_error``: ``|pred - true| / |true|`` of ``psi(k_eval)``;
* ``n_at_bound`` (maximum likelihood on a bound of its box, or the amortized network's clamp),
  ``n_not_converged``, ``n_failed`` (non-finite predictions);
* ``coverage_psi``, ``coverage_alpha``: the share of true values inside the estimator's 95%
  intervals (NaN where it has none);
* ``seconds_per_point``: wall-clock fit time divided by the number of points.

The per-point estimates come back too, for figures (estimate against truth, the points that
sit on a bound, the ridge of the likelihood).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._checks import check_number, check_sizes, spawn_seeds
from ..exceptions import ConvergenceWarning
from ..results import Summary
from ._samples import check_method
from .likelihood import LOG_LOWER, LOG_UPPER, fit_likelihood
from .simulation import SimulatedLaws, simulate_laws

__all__ = ["ESTIMATORS", "EstimatorComparison", "compare_estimators"]

#: Estimators :func:`compare_estimators` knows, in the order of its tables.
ESTIMATORS = ("empirical_bayes", "adam", "newton", "amortized")


@dataclass
class EstimatorComparison:
    """Accuracy of every estimator at every number of samples (see the module docstring).

    Attributes
    ----------
    table : one row per (estimator, n_samples) with the measures of the module docstring.
    estimates : one row per (estimator, n_samples, point): ``c, alpha, psi`` (estimated),
        ``c_true, alpha_true, psi_true``, ``rel_error``, ``status``.
    laws : the simulated laws (:class:`~.simulation.SimulatedLaws`).
    k_eval : the size at which ``psi`` is compared.
    """

    table: pd.DataFrame
    estimates: pd.DataFrame
    laws: SimulatedLaws
    k_eval: float

    def pivot(self, measure: str = "pearson_psi") -> pd.DataFrame:
        """``measure`` as an estimator (rows) x n_samples (columns) table."""
        if measure not in self.table.columns or measure in ("estimator", "n_samples"):
            raise ValueError(f"measure must be a column of table, e.g. 'pearson_psi'; got "
                             f"{measure!r}.")
        out = self.table.pivot(index="estimator", columns="n_samples", values=measure)
        order = [e for e in ESTIMATORS if e in out.index]
        return out.loc[order]

    def summary(self) -> Summary:
        """The main measures as estimator x n_samples tables (a printable Summary)."""
        cols = ["pearson_psi", "spearman_alpha", "worst_rel_error", "n_at_bound", "n_failed",
                "coverage_psi", "seconds_per_point"]
        tables = {f"{c}": self.pivot(c) for c in cols}
        facts = {"points": len(self.laws.params), "k_eval": self.k_eval,
                 "n_samples": sorted(self.table["n_samples"].unique().tolist())}
        return Summary("Estimators of individualized laws on simulated laws", facts, tables,
                       ["psi = c k^-alpha at k_eval; 95% intervals; see compare_estimators."])


def _rel_error(pred, true):
    return np.abs(pred - true) / np.abs(true)


def _fit(name, sub, laws, seed, amortized_kwargs):
    """Fit one estimator; returns (params DataFrame with c, alpha, status; results or None)."""
    if name == "amortized":
        from .amortized import AmortizedScalingLaw

        model = AmortizedScalingLaw(random_state=seed, **(amortized_kwargs or {}))
        model.fit(laws.X, sub, labels=laws.y)
        res = model.results_
        p = res.params.copy()
        at = (np.log(p["alpha"]) <= LOG_LOWER + 1e-9) | (np.log(p["alpha"]) >= LOG_UPPER - 1e-9)
        p["status"] = np.where(at, "at bound", p["status"])
        return p, res
    with warnings.catch_warnings():  # non-convergence is recorded and counted, not raised
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fit_likelihood(sub, method=name)
    return res.params, res


def compare_estimators(n_points: int = 300, n_samples=(10, 50, 100, 500), *,
                       estimators=ESTIMATORS, k_eval: float = 300.0, k_range=(100, 1000),
                       laws: SimulatedLaws | None = None, amortized_kwargs: dict | None = None,
                       random_state=None) -> EstimatorComparison:
    """Fit every estimator on simulated laws and measure its accuracy (module docstring).

    Parameters
    ----------
    n_points : number of simulated points (ignored when ``laws`` is given).
    n_samples : samples per point to fit on (nested: the first n of one draw of the largest).
    estimators : names from :data:`ESTIMATORS` (``"empirical_bayes"``, ``"adam"``,
        ``"newton"``, ``"amortized"``).
    k_eval : the size at which predictions are compared with the truth.
    k_range : sizes of the sampled contributions (uniform integers).
    laws : the laws to use (default: ``simulate_laws(n_points)``).
    amortized_kwargs : options of :class:`~.amortized.AmortizedScalingLaw`.
    random_state : seeds the laws, the samples and the amortized network (independent
        streams from ``SeedSequence.spawn``).
    """
    ns = check_sizes(n_samples, "n_samples", low=3, sort=True)
    if isinstance(estimators, str):
        estimators = (estimators,)
    estimators = [check_method(e, ESTIMATORS) for e in estimators]
    if not estimators:
        raise ValueError("estimators must name at least one estimator, e.g. "
                         "('empirical_bayes', 'adam').")
    k_eval = check_number(k_eval, "k_eval", low=0.0, low_open=True)
    seed_laws, seed_samples, seed_net = spawn_seeds(random_state, 3)
    if laws is None:
        laws = simulate_laws(n_points, random_state=seed_laws)
    elif not isinstance(laws, SimulatedLaws):
        raise TypeError(f"laws must be a SimulatedLaws (from simulate_laws); got "
                        f"{type(laws).__name__}.")
    data = laws.contributions(int(ns[-1]), k_range=k_range, random_state=seed_samples)
    truth = laws.params
    psi_true = (truth["c"] * k_eval ** -truth["alpha"]).to_numpy()
    rows, est_rows = [], []
    for n in ns:
        sub = data[data["sample"] < n].reset_index(drop=True)
        for name in estimators:
            t0 = time.perf_counter()
            p, res = _fit(name, sub, laws, seed_net, amortized_kwargs)
            seconds = time.perf_counter() - t0
            pred = res.predict([k_eval]).iloc[:, 0].to_numpy()
            finite = np.isfinite(pred) & np.isfinite(p["alpha"].to_numpy())
            rel = _rel_error(pred, psi_true)
            cov_psi = cov_alpha = np.nan
            if name != "amortized":
                ci = res.conf_int(0.05)
                pi = res.predict_interval([k_eval], 0.05)[k_eval]
                a = truth["alpha"].to_numpy()
                cov_alpha = float(np.mean((ci["alpha"]["lower"] <= a) & (a <= ci["alpha"]["upper"])))
                cov_psi = float(np.mean((pi["lower"] <= psi_true) & (psi_true <= pi["upper"])))
            ok = finite
            rows.append({
                "estimator": name,
                "n_samples": int(n),
                "pearson_psi": float(stats.pearsonr(pred[ok], psi_true[ok])[0]),
                "spearman_alpha": float(stats.spearmanr(p["alpha"].to_numpy()[ok],
                                                        truth["alpha"].to_numpy()[ok])[0]),
                "worst_rel_error": float(np.max(rel[ok])),
                "median_rel_error": float(np.median(rel[ok])),
                "n_at_bound": int((p["status"] == "at bound").sum()),
                "n_not_converged": int((~p["converged"].astype(bool)).sum()),
                "n_failed": int((~finite).sum()),
                "coverage_psi": cov_psi,
                "coverage_alpha": cov_alpha,
                "seconds_per_point": seconds / len(p),
            })
            est_rows.append(pd.DataFrame({
                "estimator": name, "n_samples": int(n), "point": p.index.to_numpy(),
                "c": p["c"].to_numpy(), "alpha": p["alpha"].to_numpy(), "psi": pred,
                "c_true": truth["c"].to_numpy(), "alpha_true": truth["alpha"].to_numpy(),
                "psi_true": psi_true, "rel_error": rel, "status": p["status"].to_numpy(),
            }))
    return EstimatorComparison(pd.DataFrame(rows), pd.concat(est_rows, ignore_index=True), laws,
                               k_eval)
