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
    "plot_ols_expectation_terms",
    "plot_ols_rates",
    "plot_ols_coefficient",
    "plot_ols_sign_flip",
    "plot_ols_leverage",
    "plot_logistic_regimes",
    "plot_fixed_test_set",
    "plot_window_exponent",
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


def plot_ols_expectation_terms(terms, result, ax=None):
    """One fixed design: ``E[Delta | X]`` and its helpful and harmful terms against
    ``e_z^2 / sigma^2``, with the simulated means over label noise (± 2 se).

    ``terms`` is :func:`~scaling_kit.theory.ols_expectation_terms` for the points of ``result``
    (a simulation on that one design, one size; all points share ``x_z``). The root
    ``sigma^2 (2 + h)`` is marked, and the large-k threshold ``2 sigma^2`` for reference.
    """
    fig, ax = _axes(ax, figsize=(6.0, 4.3))
    r2 = np.asarray(terms["e2/sigma2"], dtype=float)
    order = np.argsort(r2)
    x = r2[order]
    ax.plot(x, np.asarray(terms["helpful"])[order], "--", color="C2",
            label="helpful: 2σ² q / (1 + h)")
    ax.plot(x, np.asarray(terms["harmful"])[order], "--", color="C3",
            label="harmful: −(e² + σ² h) q / (1 + h)²")
    ax.plot(x, np.asarray(terms["expected"])[order], "-", color="k", label="E[Δ | X] (sum)")
    ax.errorbar(x, result.mean[0, order], yerr=2 * result.se[0, order], fmt="o", color="C0",
                label=f"simulated mean over {result.n_datasets:,} noise draws (± 2 se)")
    root = float(np.asarray(terms["root"])[0])
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(root, color="k", ls=":", label=f"root e² = σ²(2 + h) = {root:.3f} σ²")
    ax.axvline(2.0, color="0.6", ls=":", lw=0.8, label="large-k threshold 2σ²")
    ax.set(xlabel="squared residual of z, e_z² / σ²",
           ylabel="change in population MSE (positive = helps)",
           title=f"One fixed design (k = {int(result.ks[0])}): two terms of E[Δ | X]")
    ax.legend(fontsize=7)
    return fig


def plot_ols_coefficient(result, expected, ax=None):
    """``k^2`` times the mean contribution, divided by ``c(z)``, against ``k``: simulated
    (± 2 se), the exact expectation over Gaussian designs, and the limit 1.

    ``expected`` is ``model.expected_contribution(result.x_z, result.e_z, result.ks)``
    (:meth:`~scaling_kit.theory.GaussianLinearModel.expected_contribution`), shape
    ``(n_k, m)``. Dividing by ``c(z)`` puts every point on one scale; the distance of the
    curves from 1 is the finite-k correction, of relative order ``p / k``.
    """
    fig, ax = _axes(ax, figsize=(6.0, 4.3))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ks = result.ks.astype(float)
    expected = np.asarray(expected, dtype=float)
    if expected.shape != result.mean.shape:
        raise ValueError(f"expected must have shape {result.mean.shape} (ks x points); got "
                         f"{expected.shape}.")
    for j in range(result.mean.shape[1]):
        c = colors[j % len(colors)]
        coef = result.coefficient[j]
        label = (f"e²/σ² = {result.e_z[j] ** 2 / result.noise_var:.2g}, lev = "
                 f"{result.leverage[j]:.2g}: c(z) = {coef:.3g}")
        ax.errorbar(ks, ks**2 * result.mean[:, j] / coef,
                    yerr=2 * ks**2 * result.se[:, j] / abs(coef), fmt="o", color=c, ms=4,
                    label=label)
        ax.plot(ks, ks**2 * expected[:, j] / coef, "-", color=c, lw=1.2)
    ax.axhline(1.0, color="k", ls="--", lw=1, label="limit: k² E[Δ] = c(z) = (2σ² − e²)·lev")
    ax.plot([], [], "k-", lw=1.2, label="exact E[Δ] over Gaussian designs")
    ax.set(xscale="log", xlabel="dataset size k", ylabel="k² · mean contribution / c(z)",
           title="OLS: k² E[Δ] → c(z) (Theorem A.1); the gap is of order p/k")
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
    """``k^2 E[Delta]`` against the leverage ``x_z^T Sigma^-1 x_z`` at one ``k``, one colour
    per residual size: simulated (± 2 se), the exact expectation averaged over the simulated
    designs, and ``c(z) = (2 sigma^2 - e_z^2) lev`` (lines through the origin: leverage scales
    helpful and harmful points alike)."""
    fig, ax = _axes(ax)
    k = float(result.ks[k_index])
    r2 = np.round(result.e_z**2 / result.noise_var, 10)
    for i, value in enumerate(np.unique(r2)):
        idx = np.flatnonzero(r2 == value)
        idx = idx[np.argsort(result.leverage[idx])]
        lev = result.leverage[idx]
        c = f"C{i}"
        ax.errorbar(lev, k**2 * result.mean[k_index, idx], yerr=2 * k**2 * result.se[k_index, idx],
                    fmt="o", color=c, label=f"simulated, e²/σ² = {value:.3g} (± 2 se)")
        ax.plot(lev, k**2 * result.exact[k_index, idx], "-", color=c, lw=1)
        ax.plot(lev, result.coefficient[idx], "--", color=c, lw=1)
    ax.plot([], [], "k-", lw=1, label="exact E[Δ | X], averaged")
    ax.plot([], [], "k--", lw=1, label="c(z) = (2σ² − e²)·lev")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set(xlabel="leverage x_zᵀ Σ⁻¹ x_z", ylabel="k² · mean contribution",
           title=f"Leverage amplifies both signs (k = {int(k)})")
    ax.legend(fontsize=7)
    return fig


def plot_logistic_regimes(result, ax=None, *, growing_test_set=False):
    """Logistic regression: population (``k^-2``) vs fixed validation sets (``k^-1``).

    Points: simulated means over ``D`` (open = negative). Dashed: the theorem's ``c_1(V) / k``
    for each fixed set. ``growing_test_set=True`` adds (dotted) the root-mean-square over
    random validation sets as large as the training set (``|V| = k``), which is not the
    paper's protocol (one fixed test set).
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
    if growing_test_set:
        tm = result.typical_magnitude(result.ks)
        ax.plot(ks, tm, ":", color="k",
                label=f"RMS over V with |V| = k: slope {result.typical_slope:.2f}")
    ax.plot([], [], "k--", lw=1, label="|c₁(V)|/k (Theorem A.2)")
    ax.set(xscale="log", yscale="log", xlabel="dataset size k",
           ylabel="|mean contribution| (open = negative)", title="Logistic regression (simulated model): two regimes")
    ax.legend(fontsize=7)
    return fig


def plot_fixed_test_set(result, fits, ax=None):
    """``k`` times the mean contribution against ``k``: it tends to ``c_1(V)`` on a fixed
    validation set and to 0 on the population loss (Covert et al. Theorem A.2).

    ``fits`` maps ``"population"`` and validation sizes to
    :func:`~scaling_kit.theory.fit_inverse_powers` results (drawn as ``k * fit.predict(k)``);
    dashed lines: the theorem's ``c_1(V)``. The paper's k range ``[100, 1000]`` is shaded.
    """
    fig, ax = _axes(ax, figsize=(6.0, 4.3))
    ks = result.ks.astype(float)
    grid = np.geomspace(ks.min(), ks.max(), 200)
    ax.axvspan(100, 1000, color="0.92", zorder=0, label="paper's k range [100, 1000]")
    series = [("population", result.population, result.population_se, 0.0, "population loss")]
    series += [(n, result.validation[:, i], result.validation_se[:, i], result.c1[i],
                f"fixed V, |V| = {n}") for i, n in enumerate(result.validation_sizes)]
    for i, (which, mean, se, c1, name) in enumerate(series):
        c = f"C{i}"
        ax.errorbar(ks, ks * mean, yerr=2 * ks * se, fmt="o", color=c, ms=4,
                    label=f"{name} (± 2 se)")
        if which in fits:
            ax.plot(grid, grid * fits[which].predict(grid), "-", color=c, lw=1)
        ax.axhline(c1, color=c, ls="--", lw=1)
    ax.plot([], [], "k-", lw=1, label="fitted series Σⱼ cⱼ k⁻ʲ, times k")
    ax.plot([], [], "k--", lw=1, label="theorem: c₁(V) (0 for the population)")
    ax.set(xscale="log", xlabel="dataset size k", ylabel="k · mean contribution",
           title="Logistic regression (simulated model): k·ψ(k) → c₁(V)")
    ax.legend(fontsize=7)
    return fig


def plot_window_exponent(c1, exponent, *, measured=None, sample=None, paper=None,
                         k_range=(100, 1000)):
    """What a log-log fit over the paper's k range measures on a fixed test set (two panels).

    Left: the exponent of the two-term law ``c_1(V)/k + c_2/k^2``
    (:func:`~scaling_kit.theory.two_term_exponent`) against ``c_1(V)`` (a gap where the law
    changes sign inside the range), with ``measured`` test sets (a DataFrame with columns
    ``c1``, ``exponent``, ``exponent_se``, ``label``) drawn at their simulated exponents, in the
    colours of :func:`plot_logistic_regimes` (C1, C2, ...).
    Right: the histogram of ``sample`` (exponents of the law for many random test sets; NaN =
    sign change in the range, left out). ``paper=(lo, hi)`` shades the paper's
    reported mode of alpha in both panels.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.2))
    c1 = np.asarray(c1, dtype=float)
    exponent = np.asarray(exponent, dtype=float)
    lo, hi = k_range
    for ax in (left, right):
        if paper is not None:
            band = (ax.axhspan if ax is left else ax.axvspan)
            band(paper[0], paper[1], color="C4", alpha=0.15,
                 label=f"paper: mode of α ({paper[0]:g}–{paper[1]:g})")
    left.plot(c1, exponent, "-", color="k", lw=1.2, label="two-term law c₁/k + c₂/k²")
    left.axhline(1, color="0.5", ls=":", lw=0.8)
    left.axhline(2, color="0.5", ls=":", lw=0.8)
    left.axvline(0, color="0.5", lw=0.8)
    if measured is not None:
        for i, row in enumerate(measured.itertuples()):
            left.errorbar([row.c1], [row.exponent], yerr=[2 * row.exponent_se], fmt="o",
                          color=f"C{i + 1}", label=f"{row.label}: simulated (± 2 se)")
    left.set(xlabel="c₁(V), the test set's k⁻¹ coefficient",
             ylabel=f"exponent fitted over k in [{lo}, {hi}]",
             title="Simulated model, one point z: exponent on a fixed test set")
    left.legend(fontsize=7)
    if sample is not None:
        sample = np.asarray(sample, dtype=float)
        finite = sample[np.isfinite(sample)]
        right.hist(finite, bins=40, color="C0", alpha=0.8, label="two-term law, random test sets")
        right.set(title=f"Over {sample.size:,} random test sets (sign changes left out)",
                  xlabel=f"exponent fitted over k in [{lo}, {hi}]", ylabel="test sets")
        right.legend(fontsize=7)
    else:
        right.set_visible(False)
    fig.tight_layout()
    return fig
