"""The tidy contribution table: compact columns, one per metric, and per-(point, k) summaries.

One row per sample: ``point`` and ``sample`` in the smallest signed integer type that holds
their values (signed, so that ``df.point - 10`` cannot wrap around), ``k`` likewise but at least
int32 (numpy evaluates ``np.log`` of int8 / int16 arrays in float16 / float32: ``np.log(df.k)``,
the first step of every log-log fit, would silently lose precision), then ``delta`` for the
primary metric and ``delta_<metric>`` for each further metric (docs/api.md);
``table.attrs["metrics"]`` names the metrics in order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..metrics import check_metrics

__all__ = ["build_table", "compact_int_dtype", "delta_column", "summarize_contributions"]


def compact_int_dtype(max_value: int, *, at_least=np.int8) -> np.dtype:
    """The smallest signed integer dtype holding ``0..max_value`` (and ``at_least`` wide)."""
    for dtype in (np.int8, np.int16, np.int32):
        if np.dtype(dtype).itemsize < np.dtype(at_least).itemsize:
            continue
        if max_value <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.int64)


def delta_column(metric: str, metrics) -> str:
    """The column of ``metric`` in a table sampled with ``metrics`` (first: ``delta``)."""
    metrics = check_metrics(list(metrics), "metrics")
    if metric not in metrics:
        raise ValueError(f"metric {metric!r} was not sampled; the table has {list(metrics)}. "
                         f"Sample with metric=[..., {metric!r}].")
    return "delta" if metric == metrics[0] else f"delta_{metric}"


def build_table(rows: dict, deltas: dict, metrics, row_dtypes: dict, attrs: dict) -> pd.DataFrame:
    """Sorted by (point, k, sample), compact integer columns, one float64 column per metric."""
    order = np.lexsort((rows["sample"], rows["k"], rows["point"]))
    data = {key: np.asarray(rows[key])[order].astype(row_dtypes[key], copy=False)
            for key in ("point", "k", "sample")}
    for name in metrics:
        data[delta_column(name, metrics)] = np.asarray(deltas[name], dtype=np.float64)[order]
    df = pd.DataFrame(data, copy=False)  # the ordered columns are fresh arrays already
    df.attrs.update(metrics=list(metrics), **attrs)
    return df


def summarize_contributions(df, delta_col: str = "delta") -> pd.DataFrame:
    """Per-(point, k) ``mean``, ``std`` (ddof=1), ``count`` and ``sem = std / sqrt(count)`` of
    ``delta_col``: the Monte Carlo estimate of psi_z(k) = E_{|D|=k}[Delta(z, D)] and its
    standard error (Covert et al. 2024, §3; docs/math.md §3).

    ``delta_col`` is a column name (``"delta"``, ``"delta_error"``; see :func:`delta_column`).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame from sample_contributions; got "
                        f"{type(df).__name__}.")
    if not isinstance(delta_col, str):
        raise TypeError(f"delta_col must be a column name; got {delta_col!r}.")
    missing = [c for c in ("point", "k", delta_col) if c not in df.columns]
    if missing:
        raise ValueError(f"df lacks columns {missing} (delta_col={delta_col!r}); it has "
                         f"{list(df.columns)}. Expected columns point, k and {delta_col!r}.")
    if df.empty:
        raise ValueError("df is empty; there is nothing to summarize.")
    values = df[delta_col].to_numpy()
    if values.dtype.kind not in "fiu" or not np.all(np.isfinite(values)):
        raise ValueError(f"df[{delta_col!r}] must hold finite numbers (NaN/inf found, or "
                         "non-numeric); drop or fix those rows first.")
    g = df.groupby(["point", "k"])[delta_col]
    out = g.agg(["mean", "std", "count"])
    out["sem"] = out["std"] / np.sqrt(out["count"])
    return out
