"""Crossing laws: the most valuable of two points depends on the dataset size.

Two points with laws ``psi_1(k) = c_1 k^-alpha_1`` and ``psi_2(k) = c_2 k^-alpha_2`` of the
same sign and different exponents have equal expected contributions at

    k_x = (c_1 / c_2)^(1 / (alpha_1 - alpha_2))

(docs/math.md §3.2; Covert et al. 2024, Section 4.1): below ``k_x`` one point is worth more,
above it the other. Curves of opposite signs never meet; equal exponents give parallel lines in
log-log coordinates.

* :func:`law_crossing` computes the crossing of two given laws (the notebook's explorer).
* :func:`check_crossings` tests crossings on data without circularity: it splits the sampled
  contributions into two independent halves (even and odd sample indices: independent draws of
  D), fits the laws on the first half, lists the pairs of points whose fitted laws cross between
  the smallest and the largest k, and checks each predicted crossing on the *other* half's
  means: a pair is ``confirmed`` when, at both ends of the k range, the observed difference of
  the two means has the predicted sign and is at least ``z`` standard errors from zero;
  ``contradicted`` when, at either end, it has the opposite sign by at least ``z`` standard
  errors; ``unresolved`` otherwise. ``z`` is family-wise over every predicted pair and both
  ends (:func:`scaling_kit.sign_changes.familywise_z`), so that if every predicted order were
  right, the chance of any contradiction would be at most ``level``. The standard error of a
  difference is ``sqrt(sem_1^2 + sem_2^2)``: with shared datasets the two means are positively
  correlated, and the true standard error is smaller, so both tests are conservative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import check_number
from ..contributions import summarize_contributions
from ..results import Summary
from ..sign_changes import familywise_z
from .validation import fit_loglinear_laws

__all__ = ["CrossingCheck", "LawCrossing", "check_crossings", "law_crossing"]


@dataclass(frozen=True)
class LawCrossing:
    """Where two laws ``c_i k^-alpha_i`` (i = 1, 2) cross, and which is larger on each side.

    ``k_cross`` is NaN when the laws never meet (opposite signs, or equal exponents with
    different coefficients). ``larger_below`` / ``larger_above``: 1 or 2, the point with the
    larger expected contribution for ``k < k_cross`` / ``k > k_cross`` (without a crossing,
    both name the point that is larger everywhere).
    """

    c: tuple
    alpha: tuple
    k_cross: float
    larger_below: int
    larger_above: int

    def values(self, k) -> np.ndarray:
        """``c_i k^-alpha_i`` for both laws, shape ``(2, len(k))``."""
        k = np.atleast_1d(np.asarray(k, dtype=float))
        if np.any(~np.isfinite(k)) or np.any(k <= 0):
            raise ValueError("k must be positive and finite.")
        return np.array([c * k ** (-a) for c, a in zip(self.c, self.alpha, strict=True)])


def law_crossing(c1, alpha1, c2, alpha2) -> LawCrossing:
    """The crossing ``k_x = (c_1 / c_2)^(1 / (alpha_1 - alpha_2))`` of two laws (module
    docstring; docs/math.md §3.2). Coefficients must be nonzero."""
    c1, c2 = (check_number(v, name) for v, name in ((c1, "c1"), (c2, "c2")))
    a1, a2 = (check_number(v, name) for v, name in ((alpha1, "alpha1"), (alpha2, "alpha2")))
    if c1 == 0 or c2 == 0:
        raise ValueError(f"c1 and c2 must be nonzero (a law c k^-alpha with c = 0 is zero at "
                         f"every k); got c1={c1}, c2={c2}.")
    if np.sign(c1) == np.sign(c2) and a1 != a2:
        k_x = float(np.exp((np.log(abs(c1)) - np.log(abs(c2))) / (a1 - a2)))
        # just above k_x the law with the smaller exponent decays more slowly; for negative
        # c that makes it the more harmful (smaller) one
        slower = 1 if a1 < a2 else 2
        above = slower if c1 > 0 else 3 - slower
        return LawCrossing((c1, c2), (a1, a2), k_x, 3 - above, above)
    # no crossing: compare at k = 1 (equal exponents or opposite signs keep the order)
    larger = 1 if c1 > c2 else 2
    if np.sign(c1) == np.sign(c2) and a1 == a2 and c1 == c2:
        return LawCrossing((c1, c2), (a1, a2), float("nan"), 1, 1)
    return LawCrossing((c1, c2), (a1, a2), float("nan"), larger, larger)


@dataclass
class CrossingCheck:
    """Crossings predicted on one half of the samples, checked on the other (module docstring).

    ``pairs``: one row per predicted crossing: ``point_i, point_j, k_cross`` (fitted on the
    first half), ``predicted_min, predicted_max`` (``psi_i - psi_j`` of the fitted laws at the
    smallest and the largest k), ``observed_min, observed_max`` (difference of the other half's
    means), ``se_min, se_max`` and ``status`` (``confirmed``, ``contradicted``, ``unresolved``).
    ``z``: the family-wise threshold used; ``laws``: the fits of the first half;
    ``held_out``: the second half's means (``summarize_contributions``).
    """

    pairs: pd.DataFrame
    z: float
    level: float
    k_min: float
    k_max: float
    laws: object
    held_out: pd.DataFrame

    @property
    def n_predicted(self) -> int:
        """Pairs whose laws, fitted on the first half, cross inside the k range."""
        return len(self.pairs)

    @property
    def n_confirmed(self) -> int:
        """Predicted crossings seen in the held-out half at both ends, beyond ``z`` s.e."""
        return int((self.pairs["status"] == "confirmed").sum())

    @property
    def n_contradicted(self) -> int:
        """Predicted crossings whose held-out order is the opposite at an end, beyond ``z`` s.e."""
        return int((self.pairs["status"] == "contradicted").sum())

    def crossing(self, point_i, point_j) -> LawCrossing:
        """The :class:`LawCrossing` of two points' laws fitted on the first half."""
        par = self.laws.fitted
        missing = [p for p in (point_i, point_j) if p not in par.index]
        if missing:
            raise ValueError(f"points {missing} have no law fitted on the first half (fitted: "
                             f"{par.index.tolist()[:10]}...).")
        return law_crossing(par.loc[point_i, "c"], par.loc[point_i, "alpha"],
                            par.loc[point_j, "c"], par.loc[point_j, "alpha"])

    def pair_means(self, point_i, point_j) -> pd.DataFrame:
        """The held-out means of two points, indexed by k: ``mean_1, sem_1, mean_2, sem_2``
        (the input of :func:`scaling_kit.plots.plot_law_crossing`)."""
        out = {}
        for n, point in ((1, point_i), (2, point_j)):
            if point not in self.held_out.index.get_level_values("point"):
                raise ValueError(f"point {point!r} is not in the samples.")
            m = self.held_out.xs(point, level="point")
            out[f"mean_{n}"], out[f"sem_{n}"] = m["mean"], m["sem"]
        return pd.DataFrame(out)

    def summary(self) -> Summary:
        """Counts of predicted, confirmed and contradicted crossings, and the confirmed pairs."""
        shown = self.pairs[self.pairs["status"] == "confirmed"].sort_values("k_cross")
        return Summary(
            title="Crossings of fitted laws, checked on held-out samples",
            facts={"k range": f"{self.k_min:g}..{self.k_max:g}", "predicted": self.n_predicted,
                   "confirmed": self.n_confirmed, "contradicted": self.n_contradicted,
                   "unresolved": self.n_predicted - self.n_confirmed - self.n_contradicted,
                   "z (family-wise)": round(self.z, 3), "level": self.level},
            tables={"Confirmed crossings": shown},
            notes=["Laws fitted on the even-numbered samples; the crossing is checked on the "
                   "odd-numbered samples (independent draws of D)."],
        )


def _half_summary(samples, delta_col, parity):
    if "sample" not in samples.columns:
        raise ValueError("samples needs a 'sample' column (the table of sample_contributions) "
                         "to split it into independent halves.")
    half = samples[samples["sample"].to_numpy() % 2 == parity]
    if half.empty:
        raise ValueError("samples must hold at least two samples per (point, k) to split it.")
    return summarize_contributions(half, delta_col)


def check_crossings(samples, *, level=0.05, delta_col="delta", min_k=3) -> CrossingCheck:
    """Predict crossings from the laws fitted on half of the samples; check them on the rest.

    Parameters
    ----------
    samples : the table of :func:`scaling_kit.contributions.sample_contributions` (columns
        ``point, k, sample`` and ``delta_col``) on a fixed grid of sizes.
    level : family-wise level of the checks (module docstring).
    delta_col : the column of contributions.
    min_k : passed to :func:`~scaling_kit.laws.validation.fit_loglinear_laws`.
    """
    level = check_number(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    laws = fit_loglinear_laws(_half_summary(samples, delta_col, 0), min_k=min_k,
                              sign_change="flag")
    held = _half_summary(samples, delta_col, 1)
    k_min = float(laws.means["k"].min())
    k_max = float(laws.means["k"].max())
    fit = laws.fitted
    values = laws.predict([k_min, k_max], points=fit.index).to_numpy()  # (P, 2)
    d = values[:, None, :] - values[None, :, :]  # (P, P, 2)
    i, j = np.nonzero(np.triu(np.sign(d[..., 0]) * np.sign(d[..., 1]) < 0, 1))
    pi, pj = fit.index[i], fit.index[j]
    observed, se = [], []
    for k in (k_min, k_max):
        m = held.xs(k, level="k")
        mi, mj = m.reindex(pi), m.reindex(pj)
        observed.append(mi["mean"].to_numpy() - mj["mean"].to_numpy())
        se.append(np.sqrt(mi["sem"].to_numpy() ** 2 + mj["sem"].to_numpy() ** 2))
    z = familywise_z(max(2 * len(i), 1), level)
    pred = np.stack([d[i, j, 0], d[i, j, 1]], axis=1)
    obs, err = np.stack(observed, axis=1), np.stack(se, axis=1)
    resolved = np.abs(obs) >= z * err
    agree = np.sign(obs) == np.sign(pred)
    status = np.where((resolved & agree).all(axis=1), "confirmed",
                      np.where((resolved & ~agree).any(axis=1), "contradicted", "unresolved"))
    g = fit["log_abs_c"].to_numpy()
    a = fit["alpha"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        k_cross = np.exp((g[i] - g[j]) / (a[i] - a[j]))
    pairs = pd.DataFrame({
        "point_i": pi, "point_j": pj, "k_cross": k_cross,
        "predicted_min": pred[:, 0], "predicted_max": pred[:, 1],
        "observed_min": obs[:, 0], "observed_max": obs[:, 1],
        "se_min": err[:, 0], "se_max": err[:, 1], "status": status,
    })
    return CrossingCheck(pairs=pairs, z=z, level=level, k_min=k_min, k_max=k_max, laws=laws,
                         held_out=held)
