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


@dataclass
class CoinCurveResult:
    """Simulated learning curves of the coin-flip estimator ``p_hat = heads / m``.

    ``table`` columns: ``size``, ``squared_error`` and ``absolute_error`` (Monte Carlo means),
    ``squared_error_exact = p(1-p)/m``, ``absolute_error_exact`` (binomial expectation of
    ``|p_hat - p|``), ``absolute_error_asymptotic = sqrt(2 p (1-p) / (pi m))``.
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

    def summary(self) -> Summary:
        """The slopes with their intervals and the simulated curves
        (a :class:`scaling_kit.results.Summary`)."""
        slopes = pd.DataFrame({
            err: {"slope": fit.params_["b"], "theory": theory,
                  "lower": fit.conf_int().loc["b", "lower"],
                  "upper": fit.conf_int().loc["b", "upper"]}
            for (err, fit), theory in zip(self.fits.items(), (-1.0, -0.5), strict=True)
        }).T
        return Summary(title=f"Coin-flip counting model, p = {self.p:g}",
                       facts={"trials per size": self.n_trials},
                       tables={"log-log slopes (95% intervals)": slopes, "curves": self.table})


def coin_learning_curve(p: float = 0.3, sizes=None, *, n_trials: int = 20000,
                        random_state=None) -> CoinCurveResult:
    """The counting model of Hestness et al.'s appendix (docs/math.md §2).

    Estimate a coin's ``p`` by the fraction of heads in ``m`` flips, ``n_trials`` times per
    size: ``E[(p_hat - p)^2] = p(1-p)/m`` (log-log slope -1) while
    ``E|p_hat - p| ~ sqrt(2 p (1-p) / (pi m))`` (slope -1/2): the exponent depends on the error
    measured. Default sizes ``2^4 .. 2^14``.
    """
    p = check_number(p, "p", low=0.0, high=1.0, low_open=True, high_open=True)
    n_trials = check_int(n_trials, "n_trials", low=2)
    sizes = 2 ** np.arange(4, 15) if sizes is None else check_sizes(sizes, "sizes", sort=True)
    if len(sizes) < 3:
        raise ValueError(f"sizes must hold at least 3 sizes for a slope; got {sizes.tolist()}.")
    rng = check_random_state(random_state)
    rows = []
    for m in sizes:
        p_hat = rng.binomial(m, p, size=n_trials) / m
        k = np.arange(m + 1)
        rows.append({
            "size": int(m),
            "squared_error": float(np.mean((p_hat - p) ** 2)),
            "absolute_error": float(np.mean(np.abs(p_hat - p))),
            "squared_error_exact": p * (1 - p) / m,
            "absolute_error_exact": float(np.sum(stats.binom.pmf(k, m, p) * np.abs(k / m - p))),
            "absolute_error_asymptotic": math.sqrt(2 * p * (1 - p) / (math.pi * m)),
        })
    table = pd.DataFrame(rows)
    fits = {
        err: PowerLaw().fit(table["size"], table[err])
        for err in ("squared_error", "absolute_error")
    }
    return CoinCurveResult(p=float(p), n_trials=int(n_trials), table=table, fits=fits,
                           slopes={k: float(f.params_["b"]) for k, f in fits.items()})
