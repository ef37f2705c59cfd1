"""Figures for the estimators part of the kit (docs/math.md §5; Covert et al. 2024, Figures 2
and 8, Appendix C.2)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from ._common import axes_or_new

__all__ = [
    "plot_likelihood_fit",
    "plot_profile_likelihood",
    "plot_parameter_recovery",
    "plot_accuracy_vs_k",
    "plot_accuracy_vs_samples",
    "plot_loglinear_noise",
    "plot_estimator_comparison",
    "plot_estimates_vs_truth",
    "plot_ridge",
    "plot_interval_coverage",
    "plot_population_prior",
]

#: Display names and colours of the estimators of :func:`scaling_kit.laws.compare_estimators`.
ESTIMATOR_LABELS = {"empirical_bayes": "empirical Bayes (default)", "adam": "Adam (paper)",
                    "newton": "exact MLE (Newton)", "amortized": "amortized network"}
ESTIMATOR_COLORS = {"empirical_bayes": "C0", "adam": "C1", "newton": "C3", "amortized": "C2"}


_axes = axes_or_new


def plot_likelihood_fit(results, data, point, delta_col="delta", level=0.95, ax=None):
    """One point's samples, its fitted law ``c k^-alpha`` with a ``level`` confidence band for
    the mean (delta method) and the fitted noise band ``+- 2 sigma k^(-beta/2)`` (the paper's
    Figure 2). ``data`` is the contribution table the law was fitted on.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1); got {level!r}.")
    fig, ax = _axes(ax, figsize=(6, 4))
    rows = data[data["point"] == point]
    if rows.empty:
        raise ValueError(f"point {point!r} has no samples in data.")
    p = results.params.loc[point]
    ks = np.geomspace(rows["k"].min(), rows["k"].max(), 100)
    ax.scatter(rows["k"], rows[delta_col], s=6, alpha=0.35, color="0.4", label="samples")
    sd = p["sigma"] * ks ** (-p["beta"] / 2)
    mean = p["c"] * ks ** (-p["alpha"])
    ax.fill_between(ks, mean - 2 * sd, mean + 2 * sd, color="C0", alpha=0.12,
                    label=r"noise $\pm 2\sigma k^{-\beta/2}$")
    if results.cov is not None:
        pred, se = results.predict(ks, return_se=True)
        z = stats.norm.ppf(0.5 + level / 2)
        m, s = pred.loc[point].to_numpy(), se.loc[point].to_numpy()
        ax.fill_between(ks, m - z * s, m + z * s, color="C1", alpha=0.4,
                        label=f"{int(level * 100)}% band of the mean")
    ax.plot(ks, mean, color="C1", lw=2,
            label=rf"$c k^{{-\alpha}}$: c={p['c']:.3g}, $\alpha$={p['alpha']:.2f}"
            + (rf" $\pm$ {p['alpha_se']:.2f}" if np.isfinite(p.get("alpha_se", np.nan)) else ""))
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("dataset size k")
    ax.set_ylabel(r"marginal contribution $\Delta$")
    ax.set_title(f"Likelihood fit of point {point} ({len(rows)} samples)")
    ax.legend(fontsize=8)
    return fig


def plot_profile_likelihood(profile, interval, surface=None, *, ax=None):
    """The profile likelihood of one point's exponent ``alpha`` and its interval.

    ``profile`` and ``interval`` are what
    :func:`scaling_kit.laws.likelihood.profile_alpha` returns: a table with columns
    ``alpha, beta, nll, deviance`` and the ``(lower, upper)`` Wilks interval. ``surface``,
    optional, is ``(alphas, betas, nll)``: the profile NLL per sample
    (:func:`scaling_kit.laws.likelihood.profile_nll`) on a grid, drawn as filled contours in a
    left panel with the maximum-likelihood point. ``ax`` is one Axes (no surface) or two.
    """
    lo, hi = interval
    best = profile.loc[profile["nll"].idxmin()]
    if surface is None:
        fig, ax1 = _axes(ax, figsize=(5.5, 4))
    else:
        if ax is None:
            fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
        else:
            ax0, ax1 = ax
            fig = ax0.figure
        A, B, Z = (np.asarray(v, dtype=float) for v in surface)
        if A.ndim == 1 and B.ndim == 1:
            A, B = np.meshgrid(A, B)
        levels = np.nanmin(Z) + np.geomspace(1e-3, max(np.nanmax(Z) - np.nanmin(Z), 1e-2), 15)
        cs = ax0.contourf(A, B, Z, levels=levels, cmap="viridis_r")
        fig.colorbar(cs, ax=ax0, label="profile NLL per sample")
        ax0.plot(best["alpha"], best["beta"], "r*", ms=12, label="MLE")
        ax0.set_xlabel(r"$\alpha$")
        ax0.set_ylabel(r"$\beta$")
        ax0.set_title(r"profile likelihood over $(\alpha, \beta)$")
        ax0.legend()
    ax1.plot(profile["alpha"], profile["deviance"], color="C0")
    ax1.axhline(3.84, color="k", ls="--", lw=0.8, label=r"$\chi^2_1$ 95% threshold")
    ax1.axvspan(lo, hi, color="C1", alpha=0.2, label=f"95% interval [{lo:.2f}, {hi:.2f}]")
    ax1.set_xlabel(r"$\alpha$")
    ax1.set_ylabel(r"deviance $2n(\mathrm{NLL} - \min)$")
    ax1.set_title(r"profile of $\alpha$")
    ax1.set_ylim(0, 12)
    ax1.legend(fontsize=8)
    return fig


def plot_parameter_recovery(results, true_params, param="alpha", ax=None):
    """Estimated vs true parameter with +- 2 standard errors (simulated data)."""
    fig, ax = _axes(ax, figsize=(5, 5))
    p = results.params
    est = p[param].to_numpy()
    true = np.asarray(true_params[param])
    se = p.get(f"{param}_se")
    if se is not None and np.isfinite(se).any():
        inside = np.abs(est - true) < 2 * se
        ax.errorbar(true, est, yerr=2 * se, fmt="none", ecolor="0.7", lw=0.6, zorder=1)
        ax.scatter(true[inside], est[inside], s=8, label=f"true within 2 se ({inside.mean():.0%})")
        ax.scatter(true[~inside], est[~inside], s=8, color="C3", label="outside")
    else:
        ax.scatter(true, est, s=8)
    lims = [np.nanmin(true), np.nanmax(true)]
    ax.plot(lims, lims, "k--", lw=0.8)
    ax.set_xlabel(f"true {param}")
    ax.set_ylabel(f"estimated {param}")
    ax.set_title(f"{results.method}: recovery of {param}")
    ax.legend(fontsize=8)
    return fig


def plot_accuracy_vs_k(accuracy, metric="r2", fit_range=None, ax=None):
    """Accuracy across points at each k, one line per (estimator, samples); the dotted line
    marks where the law starts extrapolating (the paper's Figure 8)."""
    fig, ax = _axes(ax, figsize=(7, 4))
    for i, ((name, n), grp) in enumerate(accuracy.groupby(["estimator", "n_samples"])):
        ls = "-" if name == accuracy["estimator"].iloc[0] else "--"
        ax.plot(grp["k"], grp[metric], ls, marker="o", ms=3, color=f"C{i % 10}",
                label=f"{name}, {n} samples")
    if fit_range is not None:
        ax.axvline(fit_range[1], color="k", ls=":", lw=1)
        ax.text(fit_range[1], 0.02, " extrapolation", va="bottom", fontsize=8,
                transform=ax.get_xaxis_transform())
    ax.set_xscale("log")
    ax.set_xlabel("dataset size k")
    ax.set_ylabel({"r2": r"$R^2$", "pearson": "Pearson", "spearman": "Spearman"}[metric])
    if metric == "r2":
        ax.set_ylim(max(-0.5, ax.get_ylim()[0]), 1.02)
    ax.set_title("accuracy of the predicted mean contributions")
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_accuracy_vs_samples(accuracy, metric="r2", estimator=None, ax=None):
    """Convergence: accuracy at each k (one line per k) against samples per point
    (the paper's Figure 17)."""
    fig, ax = _axes(ax, figsize=(6, 4))
    acc = accuracy if estimator is None else accuracy[accuracy["estimator"] == estimator]
    ks = sorted(acc["k"].unique())
    cmap = plt.get_cmap("viridis")
    for i, k in enumerate(ks):
        grp = acc[acc["k"] == k].groupby("n_samples")[metric].mean()
        region = acc.loc[acc["k"] == k, "region"].iloc[0]
        ax.plot(grp.index, grp.to_numpy(), "-" if region == "fit" else "--", marker="o", ms=3,
                color=cmap(i / max(len(ks) - 1, 1)), label=f"k={k:g} ({region})")
    ax.set_xscale("log")
    ax.set_xlabel("samples per point")
    ax.set_ylabel(metric)
    if metric == "r2":
        ax.set_ylim(max(-0.5, ax.get_ylim()[0]), 1.02)
    ax.set_title("convergence" + (f" ({estimator})" if estimator else ""))
    ax.legend(fontsize=7)
    return fig


def plot_loglinear_noise(table, ax=None):
    """Why log-linear fits need many samples: a table with columns ``n_samples`` and
    ``k`` and ``mean`` of ONE point's estimated means; draws ``log|mean|`` against ``log k``
    per sample size, open markers where the estimated mean has the wrong sign."""
    fig, ax = _axes(ax, figsize=(6, 4))
    for i, (n, grp) in enumerate(table.groupby("n_samples")):
        wrong = grp["wrong_sign"].to_numpy() if "wrong_sign" in grp else np.zeros(len(grp), bool)
        ax.plot(grp["k"], np.abs(grp["mean"]), "-", color=f"C{i}", lw=0.8, label=f"{n} per k")
        ax.scatter(grp["k"][~wrong], np.abs(grp["mean"])[~wrong], color=f"C{i}", s=15)
        ax.scatter(grp["k"][wrong], np.abs(grp["mean"])[wrong], facecolor="none",
                   edgecolor=f"C{i}", s=30)
    if "true" in table:
        t = table.drop_duplicates("k").sort_values("k")
        ax.plot(t["k"], np.abs(t["true"]), "k--", label="true mean")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("dataset size k")
    ax.set_ylabel(r"$|\hat\psi(k)|$ (open: wrong sign)")
    ax.set_title("log-linear view of sample means")
    ax.legend(fontsize=8)
    return fig


def _label(name):
    return ESTIMATOR_LABELS.get(name, name)


def plot_estimator_comparison(comparison, measure="pearson_psi", errors=None, ax=None):
    """One line per estimator: ``measure`` of an
    :class:`~scaling_kit.laws.EstimatorComparison` against the samples per point.

    ``errors``, optional, is a table like ``comparison.pivot(measure)`` (estimators x
    n_samples) of standard errors, drawn as +- 2 error bars.
    """
    fig, ax = _axes(ax, figsize=(6, 4))
    table = comparison.pivot(measure)
    for name, row in table.iterrows():
        if row.isna().all():
            continue
        err = None if errors is None or name not in errors.index else 2 * errors.loc[name, row.index]
        ax.errorbar(row.index, row.to_numpy(), yerr=err, marker="o", ms=4, capsize=3,
                    color=ESTIMATOR_COLORS.get(name), label=_label(name))
    ax.set_xscale("log")
    ax.set_xticks(table.columns.to_numpy(), [str(n) for n in table.columns])
    ax.set_xlabel("samples per point")
    names = {"pearson_psi": rf"Pearson of $\hat\psi(k)$ with the truth, k = {comparison.k_eval:g}",
             "median_rel_error": rf"median $|\hat\psi - \psi| / |\psi|$, k = {comparison.k_eval:g}",
             "spearman_alpha": r"Spearman of $\hat\alpha$ with the true $\alpha$",
             "worst_rel_error": r"worst $|\hat\psi - \psi| / |\psi|$"}
    ax.set_ylabel(names.get(measure, measure))
    ax.set_title(f"accuracy on {len(comparison.laws.params)} simulated laws")
    ax.legend(fontsize=8)
    return fig


def plot_estimates_vs_truth(comparison, n_samples, param="alpha", estimators=None, axes=None):
    """Estimated against true ``param`` (``"alpha"`` or ``"psi"``), one panel per estimator, at
    ``n_samples`` samples per point; red crosses: estimates on a bound (status ``at bound``).
    For ``alpha`` a dotted line marks ``alpha = 1``, where the paper's Adam starts."""
    est = comparison.estimates
    est = est[est["n_samples"] == n_samples]
    if est.empty:
        raise ValueError(f"n_samples={n_samples!r} is not in the comparison "
                         f"({sorted(comparison.estimates['n_samples'].unique())}).")
    names = [e for e in (estimators or est["estimator"].unique()) if e in set(est["estimator"])]
    if axes is None:
        fig, axes = plt.subplots(1, len(names), figsize=(3.4 * len(names), 3.6), sharey=True,
                                 squeeze=False)
        axes = axes[0]
    fig = np.atleast_1d(axes)[0].figure
    true_all = est[f"{param}_true"].to_numpy()
    lims = [np.nanmin(true_all), np.nanmax(true_all)]
    for ax, name in zip(np.atleast_1d(axes), names):
        e = est[est["estimator"] == name]
        bound = (e["status"] == "at bound").to_numpy()
        ax.scatter(e[f"{param}_true"][~bound], e[param][~bound], s=7, alpha=0.6,
                   color=ESTIMATOR_COLORS.get(name), label="estimate")
        if bound.any():
            ax.scatter(e[f"{param}_true"][bound], e[param][bound], s=18, marker="x", color="red",
                       label=f"on a bound ({bound.sum()})")
        ax.plot(lims, lims, "k--", lw=0.8)
        if param == "alpha":
            ax.axhline(1.0, color="0.5", ls=":", lw=1)
        else:
            ax.set_xscale("symlog", linthresh=np.nanpercentile(np.abs(true_all), 10))
            ax.set_yscale("symlog", linthresh=np.nanpercentile(np.abs(true_all), 10))
        ax.set_xlabel(f"true {param}")
        ax.set_title(f"{_label(name)}\n{n_samples} samples per point", fontsize=10)
        ax.legend(fontsize=7, loc="center right")
    np.atleast_1d(axes)[0].set_ylabel(f"estimated {param}")
    return fig


def plot_ridge(comparison, n_samples, k0, estimators=None, ax=None):
    """The ridge of the likelihood: error of ``log|c|`` against error of ``alpha`` per point.

    ``log|c| = log|psi(k0)| + alpha log k0``: when the data pin down ``psi`` near ``k0``
    only, the errors lie on the line of slope ``log k0`` (drawn; docs/math.md §5.2).
    """
    fig, ax = _axes(ax, figsize=(6, 4.5))
    est = comparison.estimates
    est = est[est["n_samples"] == n_samples]
    names = [e for e in (estimators or est["estimator"].unique()) if e in set(est["estimator"])]
    for name in names:
        e = est[est["estimator"] == name]
        da = e["alpha"] - e["alpha_true"]
        dc = np.log(np.abs(e["c"])) - np.log(np.abs(e["c_true"]))
        ax.scatter(da, dc, s=7, alpha=0.5, color=ESTIMATOR_COLORS.get(name), label=_label(name))
    x = np.array(ax.get_xlim())
    ax.plot(x, np.log(k0) * x, "k--", lw=1, label=rf"slope $\log k_0$, $k_0$ = {k0:.0f}")
    ax.set_xlim(x)
    ax.set_xlabel(r"$\hat\alpha - \alpha$")
    ax.set_ylabel(r"$\log|\hat c| - \log|c|$")
    ax.set_title(f"the (c, alpha) ridge: {n_samples} samples per point")
    ax.legend(fontsize=8)
    return fig


def plot_interval_coverage(comparison, level=0.95, band=None, ax=None):
    """Coverage of the ``level`` intervals for ``psi(k_eval)`` (solid) and ``alpha`` (dashed)
    against the samples per point, per estimator with intervals; ``band=(low, high)`` shades
    the range a calibrated estimator's coverage falls in by chance (given by the caller)."""
    fig, ax = _axes(ax, figsize=(6, 4))
    if band is not None:
        ax.axhspan(*band, color="0.85", label="binomial band of a calibrated interval")
    ax.axhline(level, color="k", lw=0.8)
    for measure, ls in (("coverage_psi", "-"), ("coverage_alpha", "--")):
        table = comparison.pivot(measure)
        for name, row in table.iterrows():
            if row.isna().all():
                continue
            what = r"$\psi$" if measure == "coverage_psi" else r"$\alpha$"
            ax.plot(row.index, row.to_numpy(), ls, marker="o", ms=4,
                    color=ESTIMATOR_COLORS.get(name), label=f"{_label(name)}: {what}")
    ax.set_xscale("log")
    ax.set_xticks(table.columns.to_numpy(), [str(n) for n in table.columns])
    ax.set_xlabel("samples per point")
    ax.set_ylabel(f"share of true values inside the {level:.0%} interval")
    ax.set_title("coverage of the intervals (simulated laws)")
    ax.legend(fontsize=7, ncol=2)
    return fig


def plot_population_prior(prior, true_alpha=None, ax=None):
    """The empirical-Bayes population prior of ``alpha`` (density) over a histogram of the
    true exponents when they are known (simulated laws)."""
    fig, ax = _axes(ax, figsize=(6, 4))
    if true_alpha is not None:
        ax.hist(np.asarray(true_alpha, float), bins=20, density=True, color="0.8",
                label="true exponents (simulation)")
    x = np.linspace(0.0, float(np.max(prior.alpha_centres)), 400)
    density = prior.alpha_density(x)
    ax.plot(x, density, color="C0", lw=2, label="prior learned from the samples")
    shown = x[density > 1e-2 * density.max()]
    if true_alpha is not None:
        shown = np.concatenate([shown, np.asarray(true_alpha, float)])
    ax.set_xlim(0.0, float(np.max(shown)) * 1.1)
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel("density")
    ax.set_title("empirical Bayes: the population prior of alpha")
    ax.legend(fontsize=8)
    return fig
