"""Figures for the valuation part of the kit: Shapley estimators against a ground truth and
point-addition gains (Covert et al. 2024, Sections 4.3 and 4.4)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_shapley_convergence", "plot_shapley_scatter", "plot_point_addition",
           "plot_selection_scores", "plot_shapley_sizes", "plot_addition_differences"]


def plot_shapley_convergence(comparison, statistic="pearson", paper_dataset=None, ax=None):
    """Correlation with the ground truth against samples per point, one line per estimator.

    ``comparison`` is a :class:`scaling_kit.valuation.ShapleyComparison`. With
    ``paper_dataset`` (e.g. ``"MiniBooNE"``) the paper's Tables 3 / 4 values are drawn as
    open markers at 10 and 50 samples.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4))
    fig = ax.figure
    table = comparison.pivot(statistic)
    for i, (name, row) in enumerate(table.iterrows()):
        ax.plot(row.index, row.to_numpy(), "o-", color=f"C{i}", label=f"{name} (ours)")
        if paper_dataset is not None and statistic == "pearson":
            from ..paper import TABLE3_4_SHAPLEY_PEARSON as paper

            if name in paper.index:
                vals = [paper.loc[name, ("10 samples", paper_dataset)],
                        paper.loc[name, ("50 samples", paper_dataset)]]
                ax.plot([10, 50], vals, "s", mfc="none", color=f"C{i}", ms=8,
                        label=f"{name} (paper, {paper_dataset})")
    ax.set_xscale("log")
    ax.set_xticks(list(table.columns), [str(n) for n in table.columns])
    ax.minorticks_off()
    ax.set_xlabel("samples per point")
    ax.set_ylabel(f"{statistic.capitalize()} with ground truth")
    ax.set_title("Distributional Shapley: estimators vs samples")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def plot_shapley_scatter(comparison, n_samples=None, ax=None):
    """Estimates (y) against the ground truth (x) for every estimator at ``n_samples``
    (default: the smallest number compared), with the identity line."""
    keys = list(comparison.estimates)
    ns = sorted({n for _, n in keys})
    n = ns[0] if n_samples is None else int(n_samples)
    if n not in ns:
        raise ValueError(f"n_samples must be one of {ns}.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.5))
    fig = ax.figure
    truth = comparison.ground_truth
    for i, (name, m) in enumerate(keys):
        if m != n:
            continue
        est = comparison.estimates[(name, m)].reindex(truth.index)
        ax.plot(truth.to_numpy(), est.to_numpy(), ".", color=f"C{i % 10}", alpha=0.6, label=name)
    lo, hi = np.nanmin(truth), np.nanmax(truth)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel("ground-truth Shapley value")
    ax.set_ylabel(f"estimate from {n} samples")
    ax.set_title(f"Shapley estimates with {n} samples a point")
    ax.legend(fontsize=7)
    return fig


def plot_point_addition(results, spread="sem", ax=None):
    """Mean accuracy gain (bars, +- ``spread`` = ``"sem"`` or ``"std"``) by method, grouped
    by preceding-dataset size ``k0``. ``results`` is a
    :class:`scaling_kit.valuation.PointAdditionResults`."""
    if spread not in ("sem", "std"):
        raise ValueError("spread must be 'sem' or 'std'.")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    fig = ax.figure
    s = results.summary().table.drop(index="Preceding", level="method")
    k0s = list(dict.fromkeys(s.index.get_level_values("k0")))
    methods = list(dict.fromkeys(s.index.get_level_values("method")))
    width = 0.8 / len(methods)
    x = np.arange(len(k0s))
    for i, m in enumerate(methods):
        means = [s.loc[(k, m), "mean"] for k in k0s]
        errs = [s.loc[(k, m), spread] for k in k0s]
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, means, width, yerr=errs, capsize=3,
               color=f"C{i}", label=m)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, [f"k0 = {k}" for k in k0s])
    ax.set_ylabel(f"accuracy gain (points), mean ± {spread}")
    ax.set_title(f"Adding {results.n_add} points to a random dataset of size k0")
    ax.legend(fontsize=7)
    return fig


def plot_selection_scores(scores, small, large, selections=None, ax=None):
    """Each candidate's predicted contribution at a small size (x) against a large size (y):
    the laws cross, so the top points differ. ``scores`` is a dict from
    :func:`scaling_kit.valuation.selection_scores`; ``small`` and ``large`` name two of its
    entries; ``selections`` (dict of index arrays) highlights the chosen points."""
    for name in (small, large):
        if name not in scores:
            raise ValueError(f"{name!r} is not in scores ({list(scores)}).")
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4.5))
    fig = ax.figure
    xs, ys = scores[small], scores[large].reindex(scores[small].index)
    ax.plot(xs.to_numpy(), ys.to_numpy(), ".", color="0.6", label="candidates")
    for i, name in enumerate((small, large)):
        if selections is not None and name in selections:
            sel = selections[name]
            ax.plot(xs.loc[sel].to_numpy(), ys.loc[sel].to_numpy(), "o", mfc="none", ms=8,
                    color=f"C{i + 1}", label=f"chosen by {name}")
    # symmetric log axes (contributions of both signs); the linear zone holds the smaller half
    # of the scores, so that the tick labels around 0 do not collide
    ax.set_xscale("symlog", linthresh=np.nanpercentile(np.abs(xs), 50) or 1e-6)
    ax.set_yscale("symlog", linthresh=np.nanpercentile(np.abs(ys), 50) or 1e-6)
    ax.set_xlabel(f"{small}: predicted contribution")
    ax.set_ylabel(f"{large}: predicted contribution")
    ax.set_title("Best points for a small dataset are not the best for a large one")
    ax.legend(fontsize=7)
    return fig


def plot_shapley_sizes(profile, axes=None):
    """Which sizes a Shapley value listens to: the equivalent size (left) and the share of
    the value from the first doubling of sizes above ``k_min`` (right) against ``alpha``,
    one line per range. ``profile`` is the table of
    :func:`scaling_kit.valuation.shapley_size_profile`; ``axes`` two Axes, or None."""
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    fig = axes[0].figure
    for i, ((k_lo, k_hi), part) in enumerate(profile.groupby(["k_min", "k_max"], sort=True)):
        label = f"range [{k_lo:,}, {k_hi:,}]"
        axes[0].plot(part["alpha"], part["equivalent_size"], "-", color=f"C{i}", label=label)
        axes[0].axhline(k_hi, color=f"C{i}", lw=0.6, ls=":")
        axes[1].plot(part["alpha"], 100 * part["share_first_doubling"], "-", color=f"C{i}",
                     label=f"k <= {2 * k_lo:,}, {label}")
        axes[1].plot(part["alpha"], 100 * part["share_last_half"], "--", color=f"C{i}",
                     label=f"k >= {k_hi // 2:,}, {label}")
    for ax in axes:
        ax.axvline(1.0, color="k", lw=0.8, ls=":")
        ax.set_xlabel("exponent alpha of the law c k^-alpha")
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("equivalent size k_eq (psi(k_eq) = phi)")
    axes[0].set_title("The Shapley value acts like one size")
    axes[0].legend(fontsize=8)
    axes[1].set_ylabel("share of the Shapley value (%)")
    axes[1].set_title("Where its weight sits: small sizes (solid), large (dashed)")
    axes[1].legend(fontsize=7)
    return fig


def plot_addition_differences(differences, highlight=None, baseline="Random", ax=None):
    """Gain over ``baseline`` (paired mean ± 2 standard errors, accuracy points) against the
    preceding size ``k0``, one line per selection method. ``differences`` is the table of
    :meth:`scaling_kit.valuation.PointAdditionResults.differences`; ``highlight`` marks one
    ``k0`` (the explorer's slider)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
    fig = ax.figure
    for i, (method, part) in enumerate(differences.groupby("method", sort=False)):
        part = part.sort_values("k0")
        x = part["k0"].to_numpy()
        m, se = part["mean"].to_numpy(), part["se"].to_numpy()
        ax.plot(x, m, "o-", color=f"C{i}", label=method)
        ax.fill_between(x, m - 2 * se, m + 2 * se, color=f"C{i}", alpha=0.15)
    if highlight is not None:
        ax.axvline(highlight, color="k", lw=1.0, ls="--")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("size k0 of the preceding dataset (log scale)")
    ax.set_ylabel(f"accuracy gain over {baseline} (points)")
    ax.set_title(f"Which selection helps at which size (mean ± 2 SE, paired with {baseline})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
