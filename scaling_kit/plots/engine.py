"""Figures for the contribution engine: mean contribution against dataset size."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_contribution_curves"]


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
