"""Report section for the aggregate part of `scaling-kit reproduce` (MATH.md Section 1).

Computes a Hestness learning curve (digits, logistic regression), fits the pure power law to
cross-entropy and error rate, the coin-flip counting model, and the "is it really a power law?"
comparison on the real NMT curves; saves figures ``aggregate_learning_curves``,
``aggregate_nmt_extrapolation`` and ``aggregate_coin_model``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from .. import save_figure
from ..aggregate import (
    OffsetPowerLaw,
    PowerLaw,
    coin_learning_curve,
    compare_forms_on_curves,
    data_needed,
    learning_curve,
)
from ..datasets import load_dataset, load_nmt_curves
from ..paper import HESTNESS_EXPONENTS
from ..plots.aggregate import (
    plot_coin_curves,
    plot_extrapolation_comparison,
    plot_extrapolation_fits,
    plot_learning_curve,
)


def run(profile: str, figdir: Path) -> str:
    """Compute the aggregate results, save the figures in ``figdir``, return markdown."""
    from sklearn.linear_model import LogisticRegression

    quick = profile == "quick"
    lines = ["## Aggregate scaling (Hestness protocol)", ""]

    # 1. learning curve on digits
    ds = load_dataset("digits", random_state=0)
    res = learning_curve(LogisticRegression(max_iter=1000), ds, n_seeds=2 if quick else 5,
                         random_state=0)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    exps = {}
    for ax, metric in zip(axes, ("cross_entropy", "error_rate"), strict=True):
        x, y = res.curve(metric)
        fits = {"power law": PowerLaw().fit(x, y), "power law + offset": OffsetPowerLaw().fit(x, y)}
        exps[metric] = fits["power law"]
        plot_learning_curve(res, metric, fits, ax=ax)
    save_figure(fig, "aggregate_learning_curves", figdir)
    plt.close(fig)
    paper = ", ".join(
        f"{k} {lo:g}" if lo == hi else f"{k} {lo:g}..{hi:g}"
        for k, (lo, hi) in HESTNESS_EXPONENTS.items()
    )
    lines += [
        f"Digits + logistic regression, sizes {res.sizes.tolist()}, "
        f"{res.table['seed'].nunique()} seeds.",
        "",
        "| measure | exponent b (95% CI) |",
        "|---|---|",
    ]
    for metric, f in exps.items():
        ci = f.conf_int().loc["b"]
        lines.append(f"| {metric} | {f.params_['b']:.3f} ({ci['lower']:.3f}, {ci['upper']:.3f}) |")
    lines += ["", f"Hestness et al. (paper): {paper}.", ""]

    # 2. NMT: is it really a power law?
    comp = compare_forms_on_curves(load_nmt_curves())
    rel = comp.pivot("holdout_rel_error") * 100
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    plot_extrapolation_comparison(comp, ax=axes[0])
    plot_extrapolation_fits(comp, rel.index[0], ax=axes[1])
    save_figure(fig, "aggregate_nmt_extrapolation", figdir)
    plt.close(fig)
    lines += [
        "NMT curves (Alabdulmohsin et al.): fit on <= 256M examples, predict 512M; "
        "prediction error in % (negative = under-prediction; MATH.md: the pure power law "
        "under-predicts by roughly 15-25%):",
        "",
        "| curve | " + " | ".join(rel.columns) + " |",
        "|---|" + "---|" * len(rel.columns),
    ]
    for curve, row in rel.iterrows():
        lines.append(f"| {curve} | " + " | ".join(f"{v:+.1f}" for v in row) + " |")
    best = comp.best_form().value_counts()
    lines += ["", "Best form by held-out log-RMSE: "
              + ", ".join(f"{k} ({v} curves)" for k, v in best.items()) + ".", ""]
    off = comp.scores[(rel.index[0], "power law + offset")].form
    if off is not None:
        floor = off.irreducible_error
        lines += [f"Economics ({rel.index[0]}, offset form, irreducible error {floor:.3f}):", ""]
        for target in (1.05 * floor, 0.98 * floor):
            lines.append(f"- target {target:.3f}: {data_needed(off, target).message}")
        lines.append("")

    # 3. coin model
    coin = coin_learning_curve(n_trials=5000 if quick else 50000, random_state=0)
    fig = plot_coin_curves(coin)
    save_figure(fig, "aggregate_coin_model", figdir)
    plt.close(fig)
    lines += [
        f"Coin model (p = {coin.p}): squared-error slope {coin.slopes['squared_error']:.3f} "
        f"(theory -1), absolute-error slope {coin.slopes['absolute_error']:.3f} (theory -0.5).",
        "",
    ]
    return "\n".join(lines)


__all__ = ["run"]
