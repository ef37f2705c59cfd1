"""Judging a form by extrapolation: fit on the smaller sizes, score the larger ones.

docs/math.md §2 ("Is it really a power law?").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone

from .._checks import check_int
from ..results import Summary
from ._fitting import FitError, _check_xy
from .forms import default_forms

__all__ = ["ExtrapolationScore", "FormComparison", "compare_forms", "compare_forms_on_curves",
           "extrapolation_score"]


@dataclass
class ExtrapolationScore:
    """A form fitted on the smaller sizes and scored on the held-out larger ones.

    ``log_rmse = sqrt(mean((log y_pred - log y)^2))`` over the held-out sizes;
    ``relative_error = y_pred / y - 1`` (negative = under-prediction). ``status`` is
    ``"ok"`` or the reason the fit failed (then the scores are NaN and ``form`` is None).
    docs/math.md §2 (extrapolation).
    """

    name: str
    form: object
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    y_pred: np.ndarray
    log_rmse: float
    relative_error: np.ndarray
    status: str = "ok"

    @property
    def ok(self) -> bool:
        """Whether the form was fitted and predicted finite values."""
        return self.status == "ok"


def _split(x, y, train, n_holdout):
    x, y = _check_xy(x, y, 2, "a split into fitted and held-out sizes")
    if train is not None:
        train = np.asarray(train)
        if train.dtype.kind != "b":
            raise TypeError(f"train must be a boolean mask (True = fit); got dtype {train.dtype}.")
        if train.shape != x.shape:
            raise ValueError(f"train must have the shape of x {x.shape}; got {train.shape}.")
        if train.all() or not train.any():
            raise ValueError("train must leave at least one point for fitting and one held out.")
        if x[train].max() >= x[~train].min():
            raise ValueError("train: held-out sizes must all be larger than the training sizes "
                             "(extrapolation).")
    else:
        n = len(x)
        if n_holdout is None:
            n_holdout = max(1, n // 4)
        n_holdout = check_int(n_holdout, "n_holdout", low=1, high=n - 1)
        order = np.argsort(x, kind="stable")
        train = np.ones(n, dtype=bool)
        train[order[-n_holdout:]] = False
    return x, y, train


def extrapolation_score(form, x, y, *, train=None, n_holdout=None, name=None,
                        raise_errors=False) -> ExtrapolationScore:
    """Fit a clone of ``form`` on the smaller sizes, score the larger ones by log-RMSE
    ``sqrt(mean_i (log y_pred_i - log y_i)^2)`` over the held-out sizes (docs/math.md §2).

    ``train`` is a boolean mask (True = fit); otherwise the ``n_holdout`` largest sizes
    (default a quarter, at least one) are held out. A form that cannot be fitted (too few
    points, :class:`FitError`) gets ``status`` = the reason and NaN scores, unless
    ``raise_errors``.
    """
    if not (hasattr(form, "fit") and hasattr(form, "predict") and hasattr(form, "param_names")):
        raise TypeError("form must be an unfitted scaling_kit.aggregate form (e.g. PowerLaw()); "
                        f"got {type(form).__name__}.")
    x, y, train = _split(x, y, train, n_holdout)
    name = name or getattr(form, "display_name", type(form).__name__)
    xt, yt, xh, yh = x[train], y[train], x[~train], y[~train]
    try:
        fitted = clone(form).fit(xt, yt)
        pred = fitted.predict(xh)
        status = "ok" if np.all(np.isfinite(pred)) else "non-finite prediction"
    except (FitError, ValueError) as exc:
        if raise_errors:
            raise
        fitted, pred, status = None, np.full(len(xh), np.nan), f"failed: {exc}"
    if status != "ok":
        fitted = None
        pred = np.full(len(xh), np.nan)
    return ExtrapolationScore(
        name=name, form=fitted, x_train=xt, y_train=yt, x_test=xh, y_test=yh, y_pred=pred,
        log_rmse=float(np.sqrt(np.mean((np.log(pred) - np.log(yh)) ** 2))),
        relative_error=pred / yh - 1.0, status=status,
    )


@dataclass
class FormComparison:
    """Side-by-side extrapolation scores: ``table`` (one row per curve and form) and the
    :class:`ExtrapolationScore` objects in ``scores[(curve, form)]``."""

    table: pd.DataFrame
    scores: dict = field(default_factory=dict)

    def pivot(self, value: str = "holdout_log_rmse") -> pd.DataFrame:
        """Curves as rows, forms as columns (both in the order they were run)."""
        out = self.table.pivot(index="curve", columns="form", values=value)
        return out.loc[self.table["curve"].unique(), self.table["form"].unique()]

    def best_form(self) -> pd.Series:
        """The form with the smallest held-out log-RMSE, per curve."""
        return self.pivot().idxmin(axis=1)

    def summary(self) -> Summary:
        """Held-out log-RMSE, relative error and AIC, curves by forms
        (a :class:`scaling_kit.results.Summary`)."""
        failed = self.table[self.table["status"] != "ok"]
        return Summary(
            title="Scaling-law forms judged by extrapolation to the held-out (largest) sizes",
            facts={"curves": self.table["curve"].nunique(), "forms": self.table["form"].nunique()},
            tables={"held-out log-RMSE": self.pivot("holdout_log_rmse"),
                    "held-out relative error (y_pred / y - 1, mean)":
                        self.pivot("holdout_rel_error"),
                    "AIC on the fitted sizes": self.pivot("aic")},
            notes=[f"{r.form} on {r.curve}: {r.status}" for r in failed.itertuples()],
        )


def compare_forms(x, y, forms=None, *, train=None, n_holdout=None, curve: str = "curve",
                  raise_errors=False) -> FormComparison:
    """Fit every form on the smaller sizes and compare held-out log-RMSE, AIC and BIC
    (docs/math.md §2, "Is it really a power law?").

    ``forms``: a dict name -> unfitted form (default :func:`default_forms`). Columns:
    ``curve, form, n_params, train_log_rmse, holdout_log_rmse, holdout_rel_error`` (mean of
    ``y_pred / y - 1`` over held-out points), ``aic, bic`` (Gaussian on log residuals, on the
    training points), ``status``.
    """
    forms = default_forms() if forms is None else forms
    if not isinstance(forms, dict) or not forms:
        raise TypeError("forms must be a non-empty dict name -> unfitted form; got "
                        f"{type(forms).__name__}.")
    rows, scores = [], {}
    for fname, form in forms.items():
        sc = extrapolation_score(form, x, y, train=train, n_holdout=n_holdout, name=fname,
                                 raise_errors=raise_errors)
        scores[(curve, fname)] = sc
        fitted = sc.form
        rows.append({
            "curve": curve,
            "form": fname,
            "n_params": len(form.param_names),
            "n_train": len(sc.x_train),
            "train_log_rmse": fitted.log_rmse_ if fitted is not None else np.nan,
            "holdout_log_rmse": sc.log_rmse,
            "holdout_rel_error": float(np.mean(sc.relative_error)),
            "aic": fitted.aic_ if fitted is not None else np.nan,
            "bic": fitted.bic_ if fitted is not None else np.nan,
            "status": sc.status,
        })
    return FormComparison(table=pd.DataFrame(rows), scores=scores)


def compare_forms_on_curves(frame: pd.DataFrame, forms=None, *, x: str = "examples",
                            y: str = "loss", by: str = "model", train: str | None = "training",
                            n_holdout=None, raise_errors=False) -> FormComparison:
    """:func:`compare_forms` on every curve of a tidy table (e.g. :func:`load_nmt_curves`,
    whose ``training`` column marks the <= 256M points used for fitting)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a tidy DataFrame of curves; got {type(frame).__name__}.")
    missing = [c for c in (x, y, by) if c not in frame.columns]
    if train is not None and train not in frame.columns:
        missing.append(train)
    if missing:
        raise ValueError(f"frame lacks columns {missing}; it has {list(frame.columns)}.")
    tables, scores = [], {}
    for key, g in frame.groupby(by, sort=False):
        mask = None if train is None else g[train].to_numpy(dtype=bool)
        comp = compare_forms(g[x].to_numpy(), g[y].to_numpy(), forms, train=mask,
                             n_holdout=n_holdout, curve=str(key), raise_errors=raise_errors)
        tables.append(comp.table)
        scores.update(comp.scores)
    return FormComparison(table=pd.concat(tables, ignore_index=True), scores=scores)
