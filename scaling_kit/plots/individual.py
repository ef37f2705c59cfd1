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
