"""Figures for the contribution engine: sampled contributions and their means against k."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np

from ..contributions import summarize_contributions

__all__ = ["plot_contribution_curves", "plot_contribution_samples"]


def plot_contribution_curves(summary, points=None, ax=None, title=None):
    """|mean Delta| against k on log-log axes, one line per point, with +-1 s.e. bands.

    ``summary`` is :func:`scaling_kit.contributions.summarize_contributions` output. Filled
    markers: positive mean (helpful); open markers: negative mean (harmful).
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    fig = ax.figure
    all_points = summary.index.get_level_values("point").unique()
    points = all_points if points is None else points
    for i, point in enumerate(points):
        s = summary.loc[point]
        k = s.index.to_numpy(dtype=float)
        mean = s["mean"].to_numpy()
        color = f"C{i % 10}"
        ax.plot(k, np.abs(mean), "-", color=color, label=f"point {point}")
        pos = mean > 0
        ax.plot(k[pos], mean[pos], "o", color=color)
        ax.plot(k[~pos], -mean[~pos], "o", mfc="none", color=color)
        if "sem" in s:
            lo = np.maximum(np.abs(mean) - s["sem"].to_numpy(), np.abs(mean) * 1e-2)
            ax.fill_between(k, lo, np.abs(mean) + s["sem"].to_numpy(), color=color, alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("dataset size k")
    ax.set_ylabel("|mean contribution|  (open = harmful)")
    ax.set_title(title or "Marginal contribution shrinks with k")
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_contribution_samples(samples, point, *, delta_col="delta", ax=None, max_shown=200):
    """The sampled contributions Delta(z, D) of one point at each k, and their mean.

    ``samples`` is :func:`scaling_kit.contributions.sample_contributions` output. Dots: up to
    ``max_shown`` samples per k (jittered in log k); black: the mean with +-2 standard errors
    (``summarize_contributions``), the estimate of psi_z(k) that the individualized law
    describes (docs/math.md §3.1-3.2). The y axis is symmetric-log, so both signs show.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    fig = ax.figure
    one = samples[samples["point"] == point]
    if one.empty:
        raise ValueError(f"point {point!r} is not in samples; it has points "
                         f"{sorted(samples['point'].unique().tolist())[:10]}...")
    summary = summarize_contributions(one, delta_col).loc[point]
    ks = summary.index.to_numpy(dtype=float)
    rng = np.random.default_rng(0)  # jitter only
    spread = np.exp(0.25 * np.log(ks[1] / ks[0])) if len(ks) > 1 else 1.1
    for k in ks:
        d = one.loc[one["k"] == k, delta_col].to_numpy()[:max_shown]
        x = k * spread ** rng.uniform(-1, 1, d.size)
        ax.plot(x, d, ".", color="C0", alpha=0.35, ms=3)
    ax.errorbar(ks, summary["mean"], yerr=2 * summary["sem"], fmt="o-", color="k", ms=4,
                capsize=3, label=r"mean $\pm$ 2 s.e. (estimate of $\psi_z(k)$)")
    ax.plot([], [], ".", color="C0", label=r"sampled $\Delta(z, D)$, one per drawn D")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(mticker.NullFormatter())
    lim = np.quantile(np.abs(one[delta_col]), 0.05) if len(one) else 1e-6
    ax.set_yscale("symlog", linthresh=max(lim, 1e-12), linscale=0.5)
    ax.set_xlabel("dataset size k")
    ax.set_ylabel(r"contribution $\Delta(z, D)$ (test loss)")
    ax.set_title(f"Point {point}: sampled contributions and their mean")
    ax.legend(fontsize=8)
    return fig
