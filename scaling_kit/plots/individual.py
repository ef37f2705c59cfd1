"""Figures for the individual part of the kit: validation of individualized scaling laws.

Inputs are :class:`scaling_kit.laws.validation.LogLinearLawResults` (and dicts of them keyed
by model name), as in Covert et al. (ICML 2024), Figures 1, 3, 4 and the alpha-vs-distance plot.
"""

from __future__ import annotations

from functools import partial

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from scipy import stats

from ..paper import ALPHA_MODE_RANGE
from ._common import axes_or_new

__all__ = [
    "plot_validation",
    "plot_alpha_quantile_curves",
    "plot_r2_histogram",
    "plot_r2_by_k",
    "plot_alpha_histogram",
    "plot_alpha_vs_distance",
    "plot_seed_noise",
    "plot_law_crossing",
    "plot_noise_reductions",
]


_axes = partial(axes_or_new, figsize=(5, 3.6))


def _as_dict(results, label="model"):
    return results if isinstance(results, dict) else {label: results}


def plot_alpha_quantile_curves(results, quantiles=(0.2, 0.4, 0.6, 0.8), ax=None):
    """log|mean contribution| against k for the points at several alpha quantiles.

    Markers: measured means (hollow where the mean is negative); lines: fitted ``c k^-alpha``.
    Curves of different slopes cross: the most valuable point depends on k (paper, Sec. 4.1).
    """
    fig, ax = _axes(ax)
    points = results.alpha_quantile_points(quantiles)
    means = results.means
    ks = np.sort(means["k"].unique())
    grid = np.geomspace(ks[0], ks[-1], 50)
    colors = plt.cm.viridis(np.linspace(0.1, 0.9, len(points)))
    for color, (q, point) in zip(colors, points.items(), strict=True):
        m = means[means["point"] == point]
        par = results.params.loc[point]
        pos = m["mean"] > 0
        ax.plot(m["k"][pos], m["mean"][pos].abs(), "o", color=color, ms=4)
        ax.plot(m["k"][~pos], m["mean"][~pos].abs(), "o", mfc="none", color=color, ms=4)
        ax.plot(grid, np.abs(par["c"]) * grid ** (-par["alpha"]), "-", color=color,
                label=f"{100 * q:.0f}% quantile: alpha={par['alpha']:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_xlabel("dataset size k")
    ax.set_ylabel(r"$|\psi_z(k)|$ (mean contribution)")
    ax.set_title("Points at alpha quantiles")
    ax.legend(fontsize=7)
    return fig


def plot_r2_histogram(results, ax=None, bins=20):
    """Histogram of the per-point R^2 of the log-linear fits (paper, Figure 1 bottom left)."""
    fig, ax = _axes(ax)
    for name, res in _as_dict(results).items():
        r2 = res.fitted["r2"].to_numpy()
        ax.hist(np.clip(r2, 0, 1), bins=np.linspace(0, 1, bins + 1), alpha=0.6,
                label=f"{name}: median {np.median(r2):.3f}")
    ax.set_xlabel(r"per-point $R^2$")
    ax.set_ylabel("points")
    ax.set_title("Accuracy by data point")
    ax.legend(fontsize=7)
    return fig


def plot_r2_by_k(results, ax=None):
    """R^2 of the fitted laws across points within each k (paper, Figure 1 bottom right)."""
    fig, ax = _axes(ax)
    for name, res in _as_dict(results).items():
        ax.plot(res.r2_by_k.index, res.r2_by_k["r2"], "o-", label=f"{name}: mean {res.r2_overall:.3f}")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_ylim(min(0.5, ax.get_ylim()[0]), 1.02)
    ax.set_xlabel("dataset size k")
    ax.set_ylabel(r"$R^2$ across points")
    ax.set_title("Accuracy vs. dataset size")
    ax.legend(fontsize=7)
    return fig


def plot_validation(results, quantiles=(0.2, 0.4, 0.6, 0.8), title=None):
    """The paper's Figure 1: alpha-quantile curves, per-point R^2 histogram, R^2 across k."""
    fig = plt.figure(figsize=(8, 7.5))
    grid = fig.add_gridspec(2, 2, height_ratios=[1.4, 1], hspace=0.4, wspace=0.3)
    plot_alpha_quantile_curves(results, quantiles, ax=fig.add_subplot(grid[0, :]))
    plot_r2_histogram(results, ax=fig.add_subplot(grid[1, 0]))
    plot_r2_by_k(results, ax=fig.add_subplot(grid[1, 1]))
    if title:
        fig.suptitle(title)
    return fig


def plot_alpha_histogram(results, ax=None, bins=30, clip=(-1.0, 4.0)):
    """Distribution of the fitted alpha, one histogram per model; shaded: the paper's mode 1-1.5."""
    fig, ax = _axes(ax)
    ax.axvspan(*ALPHA_MODE_RANGE, color="0.85", label="paper's mode (1-1.5)")
    edges = np.linspace(*clip, bins + 1)
    for name, res in _as_dict(results).items():
        alpha = res.fitted["alpha"].to_numpy()
        ax.hist(np.clip(alpha, *clip), bins=edges, alpha=0.6, label=f"{name}: mode {res.alpha_mode:.2f}")
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel("points")
    ax.set_title("Scaling exponents")
    ax.legend(fontsize=7)
    return fig


def plot_alpha_vs_distance(results, distance, ax=None):
    """Fitted alpha against the distance to the decision boundary (logistic regression).

    ``distance``: a Series indexed by point (e.g. from
    :func:`scaling_kit.laws.validation.decision_boundary_distance`), or an array aligned with
    ``results.params.index``. Title: Spearman correlation.
    """
    fig, ax = _axes(ax)
    if not isinstance(distance, pd.Series):
        distance = pd.Series(np.asarray(distance), index=results.params.index)
    fit = results.fitted
    common = fit.index.intersection(distance.index)
    x, a = distance.loc[common].to_numpy(), fit.loc[common, "alpha"].to_numpy()
    colors = np.where(fit.loc[common, "sign"] > 0, "tab:blue", "tab:red")
    ax.scatter(x, a, s=10, c=colors, alpha=0.7)
    rho = stats.spearmanr(x, a)[0] if len(common) > 2 else np.nan
    ax.set_xlabel("distance to decision boundary")
    ax.set_ylabel(r"$\alpha$")
    ax.set_title(f"alpha vs distance (Spearman {rho:.2f}; red: c < 0)")
    return fig


def plot_seed_noise(noise, ax=None):
    """Contribution of one (D, z) refit with many seeds: same seed vs different seeds for D, D+z."""
    fig, ax = _axes(ax)
    data = [noise.delta_crn, noise.delta_independent]
    ax.boxplot(data)
    ax.set_xticks([1, 2], ["same seed\n(common random numbers)", "different seeds"])
    for i, d in enumerate(data, start=1):
        ax.plot(np.full(len(d), i) + np.linspace(-0.1, 0.1, len(d)), d, ".", alpha=0.6)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_ylabel(r"$\Delta(z, D)$ over seeds")
    ax.set_title("Optimization noise of one contribution")
    return fig


def plot_law_crossing(crossing, k_range, *, means=None, labels=("point 1", "point 2"), ax=None):
    """Two laws ``|c_i| k^-alpha_i`` on log-log axes and their crossing k_x (docs/math.md §3.2).

    ``crossing``: a :class:`scaling_kit.laws.crossings.LawCrossing`; ``k_range``: ``(k_min,
    k_max)`` drawn. ``means`` (optional): a DataFrame indexed by k with columns ``mean_1``,
    ``mean_2`` and optionally ``sem_1``, ``sem_2`` (measured means of the two points, drawn
    with +-2 standard errors; open markers where a mean is negative). The shaded side of k_x
    is where the first point is worth more.
    """
    fig, ax = _axes(ax)
    k_lo, k_hi = (float(v) for v in k_range)
    if not 0 < k_lo < k_hi:
        raise ValueError(f"k_range must be (k_min, k_max) with 0 < k_min < k_max; got {k_range}.")
    grid = np.geomspace(k_lo, k_hi, 200)
    values = crossing.values(grid)
    for i, (color, label) in enumerate(zip(("C0", "C3"), labels, strict=True)):
        sign = "" if crossing.c[i] > 0 else " (harmful: |psi|)"
        ax.plot(grid, np.abs(values[i]), "-", color=color, lw=2,
                label=rf"{label}: $c$={crossing.c[i]:.3g}, $\alpha$={crossing.alpha[i]:.2f}{sign}")
        if means is not None and f"mean_{i + 1}" in means:
            k = means.index.to_numpy(dtype=float)
            m = means[f"mean_{i + 1}"].to_numpy(dtype=float)
            sem = means.get(f"sem_{i + 1}")
            err = None if sem is None else 2 * sem.to_numpy(dtype=float)
            for keep, face in ((m > 0, color), (m <= 0, "none")):
                if keep.any():
                    ax.errorbar(k[keep], np.abs(m[keep]), yerr=None if err is None else err[keep],
                                fmt="o", color=color, mfc=face, ms=4, capsize=2)
    k_x = crossing.k_cross
    if np.isfinite(k_x) and k_lo <= k_x <= k_hi:
        ax.axvline(k_x, color="k", ls="--", lw=1)
        first_below = crossing.larger_below == 1
        ax.axvspan(k_lo if first_below else k_x, k_x if first_below else k_hi, color="C0",
                   alpha=0.08)
        ax.set_title(f"The laws cross at k = {k_x:.3g}: {labels[crossing.larger_below - 1]} is "
                     f"worth more below, {labels[crossing.larger_above - 1]} above", fontsize=9)
    elif np.isfinite(k_x):
        ax.set_title(f"The laws cross at k = {k_x:.3g}, outside the range drawn", fontsize=9)
    else:
        ax.set_title("The laws never cross", fontsize=9)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(k_lo, k_hi)
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set_xlabel("dataset size k")
    ax.set_ylabel(r"expected contribution $|\psi_z(k)|$")
    ax.legend(fontsize=7)
    return fig


def plot_noise_reductions(reductions, ax=None):
    """Variance reductions of a contribution per training recipe, with bootstrap intervals.

    ``reductions``: ``{recipe: InitNoiseResult.reductions()}``. Bars: ``common random numbers``
    (one seed for D and D + {z} against different seeds) and ``shared seed`` (one seed for
    every dataset against one per dataset); 1 means no reduction (log scale).
    """
    fig, ax = _axes(ax)
    rows = ["common random numbers", "shared seed"]
    names = list(reductions)
    width = 0.8 / len(names)
    x = np.arange(len(rows))
    for i, name in enumerate(names):
        table = reductions[name].loc[rows]
        est = table["reduction"].to_numpy(dtype=float)
        err = np.abs(table[["lower", "upper"]].to_numpy(dtype=float).T - est)
        ax.bar(x + (i - (len(names) - 1) / 2) * width, est, width, yerr=err, capsize=3,
               label=name, color=f"C{i}")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(x, ["one seed for D and D + {z}\n(common random numbers)",
                      "one seed for every dataset\n(vs one per dataset)"], fontsize=8)
    ax.set_ylabel("variance reduction of one sample (x)")
    ax.set_title("What seed sharing does to the noise of a contribution")
    ax.legend(fontsize=8)
    return fig
