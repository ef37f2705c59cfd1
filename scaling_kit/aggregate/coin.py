"""The counting (coin-flip) model of Hestness et al.'s appendix (docs/math.md §2)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

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


def coin_learning_curve(p: float = 0.3, sizes=None, *, n_trials: int = 20000,
                        random_state: int | None = 0) -> CoinCurveResult:
    """The counting model of Hestness et al.'s appendix (MATH.md Section 1).

    Estimate a coin's ``p`` by the fraction of heads in ``m`` flips, ``n_trials`` times per
    size: ``E[(p_hat - p)^2] = p(1-p)/m`` (log-log slope -1) while
    ``E|p_hat - p| ~ sqrt(2 p (1-p) / (pi m))`` (slope -1/2): the exponent depends on the error
    measured. Default sizes ``2^4 .. 2^14``.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must be strictly between 0 and 1; got {p}.")
    if int(n_trials) < 2:
        raise ValueError(f"n_trials must be >= 2; got {n_trials}.")
    sizes = 2 ** np.arange(4, 15) if sizes is None else np.asarray(sizes)
    if sizes.ndim != 1 or len(sizes) < 3 or np.any(sizes < 1) or np.any(sizes != np.round(sizes)):
        raise ValueError("sizes must be at least 3 positive integers.")
    sizes = np.unique(sizes.astype(np.int64))
    rng = np.random.default_rng(random_state)
    rows = []
    for m in sizes:
        p_hat = rng.binomial(m, p, size=int(n_trials)) / m
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
                           slopes={k: f.params_["b"] for k, f in fits.items()})
