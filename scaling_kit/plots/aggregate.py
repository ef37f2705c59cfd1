"""Figures for the aggregate part of the kit (docs/math.md §2): learning curves with fitted
forms, the three regions, extrapolation comparisons, and the coin-flip counting model."""

from __future__ import annotations

from functools import partial

import numpy as np

from ._common import axes_or_new

__all__ = [
    "plot_learning_curve",
    "plot_form_fits",
    "plot_extrapolation_fits",
    "plot_extrapolation_comparison",
    "plot_coin_curves",
    "plot_three_regions",
]

_METRIC_LABELS = {"cross_entropy": "test cross-entropy (nats)", "error_rate": "test error rate"}


_axes = partial(axes_or_new, figsize=(5.5, 4.0))


def _form_label(name, form):
    p = getattr(form, "params_", {})
    exp = p.get("b", p.get("c"))
    if exp is not None and "c0" not in p:
        return f"{name} (exponent {exp:+.3f})"
    return name


def plot_learning_curve(result, metric: str = "cross_entropy", forms=None, *, ax=None,
                        label: str | None = None, extend: float = 4.0):
    """Log-log learning curve of a :class:`LearningCurveResult`: mean over seeds with a band of
    +- one standard deviation, plus the curves of fitted ``forms`` (dict name -> fitted form)
    drawn up to ``extend`` times the largest size."""
    fig, ax = _axes(ax)
    agg = result.aggregate()
    x = agg.index.to_numpy(dtype=float)
    mean, std = agg[f"{metric}_mean"].to_numpy(), agg[f"{metric}_std"].fillna(0).to_numpy()
    ax.errorbar(x, mean, yerr=std, fmt="o", color="k", capsize=3,
                label=label or f"{result.estimator} on {result.dataset}")
    grid = np.geomspace(x.min(), x.max() * extend, 200)
    for name, form in (forms or {}).items():
        ax.plot(grid, form.predict(grid), label=_form_label(name, form))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training set size m")
    ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
    ax.legend(fontsize=8)
    return fig


def plot_form_fits(x, y, forms, *, train=None, ax=None, extend: float = 4.0,
                   title: str | None = None, target: float | None = None):
    """Data points (filled: used for fitting, hollow: held out) and fitted forms in log-log;
    optional horizontal ``target`` error line (economics)."""
    fig, ax = _axes(ax)
    x, y = np.asarray(x, float), np.asarray(y, float)
    train = np.ones(len(x), bool) if train is None else np.asarray(train, bool)
    ax.plot(x[train], y[train], "ko", label="fitted points")
    if (~train).any():
        ax.plot(x[~train], y[~train], "o", mfc="none", mec="r", ms=9, label="held out")
    grid = np.geomspace(x.min(), x.max() * extend, 300)
    for name, form in forms.items():
        if form is not None:
            ax.plot(grid, form.predict(grid), label=_form_label(name, form))
    if target is not None:
        ax.axhline(target, color="gray", ls=":", label=f"target {target:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training set size m")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def plot_extrapolation_fits(comparison, curve: str, *, ax=None, extend: float = 2.0):
    """One curve of a :class:`FormComparison`: every form fitted on the training sizes and its
    prediction at the held-out ones."""
    scores = {f: s for (c, f), s in comparison.scores.items() if c == curve}
    if not scores:
        raise ValueError(f"No curve {curve!r}; have {sorted({c for c, _ in comparison.scores})}.")
    any_s = next(iter(scores.values()))
    x = np.r_[any_s.x_train, any_s.x_test]
    y = np.r_[any_s.y_train, any_s.y_test]
    train = np.r_[np.ones(len(any_s.x_train), bool), np.zeros(len(any_s.x_test), bool)]
    return plot_form_fits(x, y, {f: s.form for f, s in scores.items()}, train=train, ax=ax,
                          extend=extend, title=curve)


def plot_extrapolation_comparison(comparison, value: str = "holdout_rel_error", *, ax=None):
    """Grouped bars, one group per curve, one bar per form: the held-out relative error in %
    (``value="holdout_rel_error"``, negative = under-prediction) or log-RMSE."""
    fig, ax = _axes(ax, figsize=(7.5, 4.0))
    pivot = comparison.pivot(value)
    forms = list(pivot.columns)
    pos = np.arange(len(pivot.index))
    width = 0.8 / max(len(forms), 1)
    scale = 100.0 if value == "holdout_rel_error" else 1.0
    for i, form in enumerate(forms):
        ax.bar(pos + (i - (len(forms) - 1) / 2) * width, scale * pivot[form].to_numpy(), width,
               label=form)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(pos)
    ax.set_xticklabels(pivot.index, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("held-out prediction error (%)" if scale == 100 else value)
    ax.legend(fontsize=8)
    return fig


def plot_coin_curves(result, *, ax=None):
    """Coin-flip counting model: squared and absolute error of ``p_hat`` vs m (Monte Carlo and
    closed forms) with their fitted log-log slopes."""
    fig, ax = _axes(ax)
    t = result.table
    m = t["size"].to_numpy(float)
    for err, color in (("squared_error", "C0"), ("absolute_error", "C1")):
        ax.plot(m, t[err], "o", color=color,
                label=f"{err.replace('_', ' ')}: slope {result.slopes[err]:+.3f}")
        ax.plot(m, t[f"{err}_exact"], "-", color=color, alpha=0.6)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of flips m")
    ax.set_ylabel("error of p_hat")
    ax.set_title(f"coin model, p = {result.p:g} (lines: exact)")
    ax.legend(fontsize=8)
    return fig


def plot_three_regions(form=None, *, ax=None, m_range=(1.0, 1e9)):
    """The three regions of a learning curve (small data, power law, irreducible error) on an
    M4 curve (default ``eps_inf=0.05, eps_0=0.9, alpha=1, beta=200, c=-0.5``)."""
    from ..aggregate import M4Law

    if form is None:
        form = M4Law.from_params(eps_inf=0.05, eps_0=0.9, alpha=1.0, beta=200.0, c=-0.5)
    fig, ax = _axes(ax)
    m = np.geomspace(*m_range, 400)
    eps = form.predict(m)
    ax.plot(m, eps, "k-", lw=2, label="learning curve")
    p = form.params_
    floor = form.irreducible_error
    ax.axhline(floor, color="C2", ls="--", label=f"irreducible error {floor:g}")
    if "eps_0" in p:
        ax.axhline(p["eps_0"], color="C3", ls="--", label=f"random guess {p['eps_0']:g}")
    # Region boundaries: where the curve is within 10% of either plateau (in excess error).
    if "eps_0" in p:
        frac = (eps - floor) / (p["eps_0"] - floor)
        lo_edge = m[np.argmax(frac < 0.9)]
        hi_edge = m[np.argmax(frac < 0.02)]
        for a, b, name in ((m[0], lo_edge, "small data"), (lo_edge, hi_edge, "power law"),
                           (hi_edge, m[-1], "flat zone")):
            ax.axvspan(a, b, alpha=0.08, color={"small data": "C3", "power law": "C0",
                                                 "flat zone": "C2"}[name])
            ax.text(_gmean(a, b), 1.02 * p["eps_0"], name, ha="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training set size m")
    ax.set_ylabel("generalization error")
    ax.legend(fontsize=8, loc="lower left")
    return fig


def _gmean(a, b):
    return float(np.sqrt(a * b))
