"""The counting (coin-flip) model of Hestness et al.'s appendix (docs/math.md §2)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._checks import check_int, check_number, check_random_state, check_sizes
from ..results import Summary
from .forms import PowerLaw

__all__ = ["CoinCurveResult", "coin_learning_curve"]

#: The exponents the counting model predicts (docs/math.md §2.5).
_THEORY = {"squared_error": -1.0, "absolute_error": -0.5}


@dataclass
class CoinCurveResult:
    """Simulated learning curves of the coin-flip estimator ``p_hat = heads / m``.

    ``table`` columns: ``size``; ``squared_error`` and ``absolute_error`` (Monte Carlo means of
    ``(p_hat - p)^2`` and ``|p_hat - p|``) with their Monte Carlo standard errors
    ``squared_error_sem``, ``absolute_error_sem``; the closed forms ``squared_error_exact =
    p(1-p)/m``, ``absolute_error_exact`` (binomial expectation of ``|p_hat - p|``),
    ``absolute_error_asymptotic = sqrt(2 p (1-p) / (pi m))``; and the error of *predicting the
    next flip* ``y`` with ``p_hat``, ``prediction_error = p(1-p) + mean (p_hat - p)^2`` (the
    expectation over ``y`` taken exactly: ``E[(y - p_hat)^2 | p_hat] = p(1-p) + (p_hat - p)^2``)
    with ``prediction_error_sem`` and ``prediction_error_exact = p(1-p) (1 + 1/m)``: a learning
    curve with the irreducible error ``bayes_error = p(1-p)``.
    ``fits`` holds a :class:`PowerLaw` per error; ``slopes`` their exponents.
    """

    p: float
    n_trials: int
    table: pd.DataFrame
    fits: dict
    slopes: dict

    @property
    def params(self) -> pd.Series:
        """The fitted log-log slopes, by error (theory: -1 squared, -1/2 absolute)."""
        return pd.Series(self.slopes, dtype=float, name="slope")

    @property
    def bayes_error(self) -> float:
        """``p(1-p)``: the squared error of predicting a flip when ``p`` is known exactly, the
        floor of the ``prediction_error`` curve (docs/math.md §2.2, §2.5)."""
        return self.p * (1.0 - self.p)

    def slope_table(self) -> pd.DataFrame:
        """Each fitted slope beside its Monte Carlo standard error, the slope of the exact
        expectations and the theory (docs/math.md §2.5).

        The OLS slope is ``b = sum_i w_i log y_i`` with ``w_i = (u_i - mean u) / sum_j (u_j -
        mean u)^2`` and ``u = log m``. The sizes are simulated independently and the delta
        method gives ``Var(log y_i) = (sem_i / y_i)^2``, so the Monte Carlo standard error is
        ``mc_se = sqrt(sum_i w_i^2 (sem_i / y_i)^2)``. ``exact_slope`` is the same OLS slope
        fitted to the exact expectations (``squared_error_exact``, ``absolute_error_exact``):
        what the simulation estimates. ``theory`` is the exponent of the closed form: -1 for
        the squared error (exact at every m), -1/2 for the absolute error (its large-m limit).
        ``z = (slope - exact_slope) / mc_se``.
        """
        t = self.table
        u = np.log(t["size"].to_numpy(dtype=float))
        w = (u - u.mean()) / np.sum((u - u.mean()) ** 2)
        rows = {}
        for err, theory in _THEORY.items():
            y = t[err].to_numpy(dtype=float)
            rel = t[f"{err}_sem"].to_numpy(dtype=float) / y
            mc_se = float(np.sqrt(np.sum(w**2 * rel**2)))
            exact = float(w @ np.log(t[f"{err}_exact"].to_numpy(dtype=float)))
            slope = self.slopes[err]
            rows[err] = {"slope": slope, "mc_se": mc_se, "exact_slope": exact,
                         "theory": theory, "z": (slope - exact) / mc_se}
        return pd.DataFrame(rows).T

    def summary(self) -> Summary:
        """The slopes with their intervals and the simulated curves
        (a :class:`scaling_kit.results.Summary`)."""
        slopes = pd.DataFrame({
            err: {"slope": fit.params_["b"], "theory": _THEORY[err],
                  "lower": fit.conf_int().loc["b", "lower"],
                  "upper": fit.conf_int().loc["b", "upper"]}
            for err, fit in self.fits.items()
        }).T
        return Summary(title=f"Coin-flip counting model, p = {self.p:g}",
                       facts={"trials per size": self.n_trials},
                       tables={"log-log slopes (95% intervals)": slopes,
                               "slopes against the Monte Carlo error": self.slope_table(),
                               "curves": self.table})


def coin_learning_curve(p: float = 0.3, sizes=None, *, n_trials: int = 20000,
                        random_state=None) -> CoinCurveResult:
    """The counting model of Hestness et al.'s appendix (docs/math.md §2.5).

    Estimate a coin's ``p`` by the fraction of heads in ``m`` flips, ``n_trials`` times per
    size: ``E[(p_hat - p)^2] = p(1-p)/m`` (log-log slope -1) while
    ``E|p_hat - p| ~ sqrt(2 p (1-p) / (pi m))`` (slope -1/2): the exponent depends on the error
    measured. The error of predicting the next flip with ``p_hat`` is
    ``p(1-p) + p(1-p)/m``: an irreducible error ``p(1-p)`` plus a power law (docs/math.md
    §2.2). Default sizes ``2^4 .. 2^14``; every size has its own independent draws.
    """
    p = check_number(p, "p", low=0.0, high=1.0, low_open=True, high_open=True)
    n_trials = check_int(n_trials, "n_trials", low=2)
    sizes = 2 ** np.arange(4, 15) if sizes is None else check_sizes(sizes, "sizes", sort=True)
    if len(sizes) < 3:
        raise ValueError(f"sizes must hold at least 3 sizes for a slope; got {sizes.tolist()}.")
    rng = check_random_state(random_state)
    root_n = math.sqrt(n_trials)
    bayes = p * (1 - p)
    rows = []
    for m in sizes:
        p_hat = rng.binomial(m, p, size=n_trials) / m
        sq = (p_hat - p) ** 2
        ab = np.abs(p_hat - p)
        k = np.arange(m + 1)
        rows.append({
            "size": int(m),
            "squared_error": float(sq.mean()),
            "squared_error_sem": float(sq.std(ddof=1) / root_n),
            "absolute_error": float(ab.mean()),
            "absolute_error_sem": float(ab.std(ddof=1) / root_n),
            "squared_error_exact": bayes / m,
            "absolute_error_exact": float(np.sum(stats.binom.pmf(k, m, p) * np.abs(k / m - p))),
            "absolute_error_asymptotic": math.sqrt(2 * bayes / (math.pi * m)),
            "prediction_error": bayes + float(sq.mean()),
            "prediction_error_sem": float(sq.std(ddof=1) / root_n),
            "prediction_error_exact": bayes * (1 + 1 / m),
        })
    table = pd.DataFrame(rows)
    fits = {err: PowerLaw().fit(table["size"], table[err]) for err in _THEORY}
    return CoinCurveResult(p=float(p), n_trials=int(n_trials), table=table, fits=fits,
                           slopes={k: float(f.params_["b"]) for k, f in fits.items()})
