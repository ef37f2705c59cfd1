"""Figures for the theory part of the kit (docs/math.md §4, Covert et al. Appendix A).

Inputs are the results of :mod:`scaling_kit.theory` (with their fitted slopes in ``params``);
the figures draw, they fit nothing.
"""

from __future__ import annotations

from functools import partial

import matplotlib.pyplot as plt
import numpy as np

from ._common import axes_or_new

__all__ = [
    "plot_ols_rates",
    "plot_ols_sign_flip",
    "plot_ols_leverage",
    "plot_logistic_regimes",
]


_axes = partial(axes_or_new, figsize=(5.5, 4.0))


def _abs_with_sign(ax, ks, mean, se, color, label):
    """|mean| with 2-se bars; filled markers where positive (helpful), open where negative."""
    pos = mean > 0
    lo = np.clip(np.abs(mean) - 2 * se, np.abs(mean) * 1e-3, None)
    ax.errorbar(ks, np.abs(mean), yerr=[np.abs(mean) - lo, 2 * se], fmt="none", ecolor=color, alpha=0.6)
    ax.plot(ks[pos], mean[pos], "o", color=color, label=label if pos.any() else None)
    ax.plot(ks[~pos], -mean[~pos], "o", mfc="none", color=color, label=None if pos.any() else label)


def plot_ols_rates(result, ax=None):
    """Simulated ``|E Delta|`` vs ``k`` (log-log) with the exact expectation and ``c(z) k^-2``.

    Filled markers: helpful (positive) means; open markers: harmful (negative) means.
    """
    fig, ax = _axes(ax)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ks = result.ks.astype(float)
    for j in range(result.mean.shape[1]):
        c = colors[j % len(colors)]
        fit = result.params.loc[j]
        slope = (f", slope {fit['slope']:.3f} ± {fit['slope_se']:.3f}"
                 if np.isfinite(fit["slope"]) else "")
        label = f"e²/σ² = {result.e_z[j] ** 2 / result.noise_var:.2g}, lev = {result.leverage[j]:.2g}{slope}"
        _abs_with_sign(ax, ks, result.mean[:, j], result.se[:, j], c, label)
        ax.plot(ks, np.abs(result.exact[:, j]), "-", color=c, lw=1, alpha=0.8)
        ax.plot(ks, np.abs(result.asymptotic[:, j]), "--", color=c, lw=1)
    ax.plot([], [], "k-", lw=1, label="exact E[Δ | X], averaged")
    ax.plot([], [], "k--", lw=1, label="c(z) k⁻², c = (2σ² − e²)·lev")
    ax.set(xscale="log", yscale="log", xlabel="dataset size k",
           ylabel="|mean contribution| (open = negative)", title="OLS: simulated contributions vs Theorem A.1")
    ax.legend(fontsize=7)
    return fig


def plot_ols_sign_flip(result, flip, *, ax=None):
    """``k^2 E[Delta]`` against ``e_z^2 / sigma^2`` at the size of ``flip``: the sign flips at 2.

    ``flip`` is ``result.sign_flip(k_index)`` (a :class:`~scaling_kit.theory.SignFlip`).
    """
    matches = np.flatnonzero(result.ks == flip.k)
    if matches.size != 1:
        raise ValueError(f"flip.k = {flip.k} is not one of the simulated sizes "
                         f"{result.ks.tolist()}; pass result.sign_flip(k_index).")
    k_index = int(matches[0])
    fig, ax = _axes(ax)
    k = float(result.ks[k_index])
    r2 = result.e_z**2 / result.noise_var
    order = np.argsort(r2)
    ax.errorbar(r2[order], k**2 * result.mean[k_index, order], yerr=2 * k**2 * result.se[k_index, order],
                fmt="o", label="simulated (± 2 se)")
    ax.plot(r2[order], k**2 * result.exact[k_index, order], "-", label="exact E[Δ | X], averaged")
    ax.plot(r2[order], result.coefficient[order], "--", label="c(z) = (2σ² − e²)·lev")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(2.0, color="k", ls=":", label="e² = 2σ²")
    ax.axvline(flip.ratio, color="C3", lw=0.8, label=f"simulated root {flip.ratio:.3f} ± {flip.se:.3f}")
    ax.set(xlabel="e_z² / σ²", ylabel="k² · mean contribution", title=f"Sign flip at k = {int(k)}")
    ax.legend(fontsize=7)
    return fig


def plot_ols_leverage(result, k_index=-1, ax=None):
    """``k^2 E[Delta]`` against the leverage ``x_z^T Sigma^-1 x_z`` at one ``k``."""
    fig, ax = _axes(ax)
    k = float(result.ks[k_index])
    order = np.argsort(result.leverage)
    lev = result.leverage[order]
    ax.errorbar(lev, k**2 * result.mean[k_index, order], yerr=2 * k**2 * result.se[k_index, order],
                fmt="o", label="simulated (± 2 se)")
    ax.plot(lev, k**2 * result.exact[k_index, order], "-", label="exact E[Δ | X], averaged")
    ax.plot(lev, result.coefficient[order], "--", label="c(z) = (2σ² − e²)·lev")
    ax.set(xscale="log", yscale="log", xlabel="leverage x_zᵀ Σ⁻¹ x_z", ylabel="k² · mean contribution",
           title=f"Leverage amplifies the contribution (k = {int(k)})")
    ax.legend(fontsize=7)
    return fig


def plot_logistic_regimes(result, ax=None):
    """Logistic regression: population (``k^-2``) vs fixed validation sets (``k^-1``) vs in between.

    Points: simulated means over ``D`` (open = negative). Dashed: the theorem's ``c_1(V) / k``
    for each fixed set. Dotted: root-mean-square over random validation sets as large as the
    training set (``|V| = k``).
    """
    fig, ax = _axes(ax, figsize=(6.0, 4.3))
    ks = result.ks.astype(float)

    def label(which, name):
        fit = result.params.loc[which]
        if not np.isfinite(fit["slope"]):
            return f"{name} (changes sign)"
        return f"{name}: slope {fit['slope']:.2f} ± {fit['slope_se']:.2f}"

    _abs_with_sign(ax, ks, result.population, result.population_se, "C0", label("population", "population loss"))
    for i, n in enumerate(result.validation_sizes):
        c = f"C{i + 1}"
        _abs_with_sign(ax, ks, result.validation[:, i], result.validation_se[:, i], c,
                       label(n, f"fixed V, |V| = {n}"))
        ax.plot(ks, np.abs(result.c1[i]) / ks, "--", color=c, lw=1)
    tm = result.typical_magnitude(result.ks)
    ax.plot(ks, tm, ":", color="k", label=f"RMS over V with |V| = k: slope {result.typical_slope:.2f}")
    ax.plot([], [], "k--", lw=1, label="c₁(V)/k (Theorem A.2)")
    ax.set(xscale="log", yscale="log", xlabel="dataset size k",
           ylabel="|mean contribution| (open = negative)", title="Logistic regression: two regimes")
    ax.legend(fontsize=7)
    return fig
