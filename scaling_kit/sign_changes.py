"""Sign changes of a point's mean contribution across dataset sizes k.

The individualized law ``psi_z(k) = c(z) k^-alpha(z)`` (Covert et al. 2024, Eq. 4;
docs/math.md §3) has the sign of ``c`` at every ``k``: a point whose mean contribution is
positive at one size and negative at the next is outside the law. :func:`find_sign_changes`
lists every such flip between consecutive sizes, and says whether it is resolved: both means at
least ``z`` standard errors away from zero, so that Monte Carlo noise alone is an unlikely
explanation. This is the one implementation of that rule in the kit (the log-linear validation
of :mod:`scaling_kit.laws` and the metric comparison of :mod:`scaling_kit.metric_comparison`
report its table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import check_number

__all__ = ["SIGN_CHANGE_COLUMNS", "find_sign_changes"]

#: Columns of the table returned by :func:`find_sign_changes`, in order.
SIGN_CHANGE_COLUMNS = ("point", "k_from", "k_to", "mean_from", "mean_to", "resolved")


def find_sign_changes(means, *, z: float = 2.0) -> pd.DataFrame:
    """Every sign flip of a point's mean contribution between consecutive sizes k
    (docs/math.md §3: the law ``c k^-alpha`` has one sign at every k).

    A flip at ``(k_i, k_{i+1})`` is ``sign(mean(k_i)) * sign(mean(k_{i+1})) < 0`` (a zero mean
    is no flip); it is ``resolved`` when ``|mean| >= z * sem`` at both sizes.

    Parameters
    ----------
    means : DataFrame with ``point``, ``k`` (index levels or columns) and ``mean``, optionally
        ``sem`` (or ``std`` and ``count``, from which ``sem = std / sqrt(count)``), e.g.
        :func:`scaling_kit.contributions.summarize_contributions`. One row per (point, k).
    z : the resolution threshold in standard errors (> 0).

    Returns
    -------
    DataFrame with columns :data:`SIGN_CHANGE_COLUMNS`, one row per flip, ordered by point and
    k; ``resolved`` is True/False, or NaN where no standard error is available.
    """
    z = check_number(z, "z", low=0.0, low_open=True)
    if not isinstance(means, pd.DataFrame):
        raise TypeError(
            "means must be a DataFrame indexed by (point, k) with a 'mean' column (e.g. "
            f"summarize_contributions output); got {type(means).__name__}."
        )
    df = means.reset_index() if {"point", "k"} - set(means.columns) else means
    if not {"point", "k", "mean"} <= set(df.columns):
        raise ValueError(
            "means must have 'point' and 'k' (index levels or columns) and a 'mean' column "
            f"(summarize_contributions output); got columns {list(df.columns)}."
        )
    df = df.assign(mean=pd.to_numeric(df["mean"], errors="coerce").astype(float))
    if not np.all(np.isfinite(df["mean"].to_numpy())):
        raise ValueError("means['mean'] contains NaN or infinite values; drop those rows first.")
    if df.duplicated(["point", "k"]).any():
        raise ValueError("means must have one row per (point, k); summarize the samples first.")
    if "sem" not in df.columns and {"std", "count"} <= set(df.columns):
        with np.errstate(divide="ignore", invalid="ignore"):
            df = df.assign(sem=df["std"].to_numpy(dtype=float)
                           / np.sqrt(df["count"].to_numpy(dtype=float)))
    has_sem = "sem" in df.columns
    rows = []
    for point, g in df.sort_values(["point", "k"], kind="stable").groupby("point", sort=True):
        m = g["mean"].to_numpy(dtype=float)
        k = g["k"].to_numpy()
        sem = g["sem"].to_numpy(dtype=float) if has_sem else None
        for i in np.flatnonzero(np.sign(m[1:]) * np.sign(m[:-1]) < 0):
            resolved = np.nan
            if sem is not None and np.all(np.isfinite(sem[i:i + 2])):
                resolved = bool(np.all(np.abs(m[i:i + 2]) >= z * sem[i:i + 2]))
            rows.append((point, k[i], k[i + 1], m[i], m[i + 1], resolved))
    return pd.DataFrame(rows, columns=list(SIGN_CHANGE_COLUMNS))
