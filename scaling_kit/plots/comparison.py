"""Figures for the metric comparison and the aggregate-individual link.

Inputs are :class:`scaling_kit.metric_comparison.MetricComparison` and
:class:`scaling_kit.link.LinkResult`.
"""

from __future__ import annotations

from functools import partial

import matplotlib.pyplot as plt
import numpy as np

from ._common import axes_or_new

__all__ = [
    "plot_harmful_share",
    "plot_alpha_by_metric",
    "plot_metric_curves",
    "plot_link",
    "plot_link_exponents",
]

_LABELS = {"log_loss": "log loss", "softmax_ce": "softmax CE (reference code)",
           "error": "0-1 error", "brier": "Brier"}


_ax = partial(axes_or_new, figsize=(6, 4))


def plot_harmful_share(comparison, *, resolved=False, ax=None):
    """Share of points with a negative mean contribution, one bar per (metric, k)."""
    fig, ax = _ax(ax)
    share = comparison.harmful_share(resolved=resolved)
    share = share[[c for c in share.columns if c != "all"]]
    n_m, n_k = share.shape
    width = 0.8 / n_m
    x = np.arange(n_k)
    for i, metric in enumerate(share.index):
        ax.bar(x + (i - (n_m - 1) / 2) * width, share.loc[metric].to_numpy(dtype=float), width,
               label=_LABELS.get(metric, metric))
    ax.set_xticks(x, [f"{k:g}" for k in share.columns])
    ax.set_xlabel("dataset size k")
    ax.set_ylabel("share of points with mean " + ("< -z sem" if resolved else "< 0"))
    ax.set_title("Harmful points under each metric")
    ax.legend(fontsize=8)
    return fig


def plot_alpha_by_metric(comparison, *, ax=None):
    """Distributions of the fitted exponents alpha, one box (and the points) per metric."""
    fig, ax = _ax(ax)
    al = comparison.alphas()
    data = [al[m].dropna().to_numpy() for m in al.columns]
    ax.boxplot(data, showfliers=False)
    rng = np.random.default_rng(0)
    for i, v in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.15, 0.15, v.size), v, s=10, alpha=0.6, color="C1")
    ax.set_xticks(range(1, len(data) + 1),
                  [f"{_LABELS.get(m, m)}\n(n={len(v)})" for m, v in zip(al.columns, data)],
                  fontsize=8)
    ax.axhspan(1.0, 1.5, color="0.9", zorder=0, label="paper's mode 1-1.5")
    ax.set_ylabel(r"fitted exponent $\alpha$")
    ax.set_title(r"$\alpha$ of the same points under each metric")
    ax.legend(fontsize=8)
    return fig


def plot_metric_curves(comparison, *, points=None, axes=None):
    """Mean contribution vs k of a few points, one panel per metric (symlog y axis).

    Default points: up to 3 sign-changing points (under any metric) and up to 3 others.
    Sign-changing curves are drawn dashed.
    """
    metrics = comparison.metrics
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(3.6 * len(metrics), 3.4),
                                 squeeze=False)
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        if len(axes) != len(metrics):
            raise ValueError(f"Give one Axes per metric ({len(metrics)}).")
        fig = axes[0].figure
    if points is None:
        changing = list(dict.fromkeys(comparison.sign_changes["point"].tolist()))[:3]
        others = [p for p in comparison.table.loc[metrics[0]].index if p not in changing][:3]
        points = changing + others
    ks = comparison.ks
    for ax, metric in zip(axes, metrics):
        tab = comparison.table.loc[metric]
        vals = tab.loc[list(points), [f"mean_{k:g}" for k in ks]].to_numpy(dtype=float)
        lim = np.nanmax(np.abs(vals)) if vals.size else 1.0
        for j, p in enumerate(points):
            style = "--" if tab.loc[p, "sign_change"] else "-"
            ax.plot(ks, vals[j], style, marker="o", ms=3, label=str(p), color=f"C{j % 10}")
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_xticks(ks, [f"{k:g}" for k in ks])
        ax.xaxis.set_minor_locator(plt.NullLocator())
        ax.set_yscale("symlog", linthresh=max(lim * 3e-2, 1e-12), linscale=0.6)
        ax.set_xlabel("k")
        ax.set_title(_LABELS.get(metric, metric), fontsize=9)
    axes[0].set_ylabel(r"mean contribution $\hat\psi_z(k)$")
    axes[-1].legend(title="point (dashed: sign change)", fontsize=7, title_fontsize=7)
    fig.tight_layout()
    return fig


def plot_link(link, *, ax=None):
    """Mean individual contribution (with 2 standard errors: ``se`` of the link's table, else
    ``sem``) against eps(k) - eps(k+1) of the fitted learning curve, log-log (non-positive
    means are drawn as open markers at |mean|)."""
    fig, ax = _ax(ax)
    t = link.table
    k = t.index.to_numpy(dtype=float)
    m = t["mean_delta"].to_numpy()
    pos = m > 0
    err = "se" if "se" in t.columns else "sem"
    ax.errorbar(k[pos], m[pos], yerr=2 * t[err].to_numpy()[pos], fmt="o", color="C0",
                capsize=3, label=rf"mean over points of $\hat\psi_z(k)$ ($\pm 2$ {err})")
    if (~pos).any():
        ax.scatter(k[~pos], np.abs(m[~pos]), facecolors="none", edgecolors="C0",
                   label="|mean| (negative)")
    kk = np.geomspace(k.min(), k.max(), 100)
    b = link.form.params_["b"]
    ax.plot(kk, link.form.difference(kk), color="C3",
            label=rf"$\varepsilon(k) - \varepsilon(k+1)$, fitted ($1 - b$ = {1 - b:.2f})")
    ax.plot(kk, -link.form.derivative(kk), ":", color="k", label=r"$-\varepsilon'(k)$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("dataset size k")
    ax.set_ylabel("mean contribution")
    ax.set_title("Aggregate-individual link")
    ax.legend(fontsize=8)
    return fig


def plot_link_exponents(link, *, ax=None, bins=20):
    """Histogram of the individual alphas with the implied exponent 1 - b and the exponent
    of the mean curve."""
    fig, ax = _ax(ax)
    al = link.alphas.to_numpy()
    if al.size:
        ax.hist(al, bins=bins, color="0.7", edgecolor="0.4",
                label=rf"individual $\alpha$ (n={al.size})")
    ax.axvline(link.implied_exponent, color="C3", lw=2,
               label=f"aggregate: 1 - b = {link.implied_exponent:.2f}")
    if np.isfinite(link.mean_curve_alpha):
        ax.axvline(link.mean_curve_alpha, color="C0", ls="--",
                   label=f"mean curve: {link.mean_curve_alpha:.2f}")
    ax.set_xlabel(r"exponent $\alpha$")
    ax.set_ylabel("points")
    ax.set_title("Individual exponents vs the learning curve's")
    ax.legend(fontsize=8)
    return fig
