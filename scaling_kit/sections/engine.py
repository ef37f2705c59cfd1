"""Report section: mean contributions of a few points against k (the engine's showcase)."""

from __future__ import annotations

import time

import matplotlib.pyplot as plt
import numpy as np

from ..config import save_figure
from ..contributions import sample_contributions, summarize_contributions
from ..datasets import load_dataset
from ..learners import ExactLogisticRegression
from ..plots import plot_contribution_curves


def run(profile: str, figdir) -> str:
    quick = profile == "quick"
    ds = load_dataset("breast_cancer" if quick else "fair", random_state=0)
    ks = np.unique(np.geomspace(20, 300, 8).astype(int)) if quick else \
        np.unique(np.geomspace(100, 1000, 10).astype(int))
    n_samples = 200 if quick else 1000
    rng = np.random.default_rng(0)
    points = np.sort(rng.choice(ds.X_pool.shape[0], size=6, replace=False))
    t0 = time.perf_counter()
    df = sample_contributions(ExactLogisticRegression(C=1.0), ds, points, k=ks, n_samples=n_samples, random_state=0,
                              progress=False)
    elapsed = time.perf_counter() - t0
    summary = summarize_contributions(df)
    fig = plot_contribution_curves(summary, title=f"{ds.name}: mean Delta vs k (log loss)")
    path = save_figure(fig, "engine_contribution_curves", figdir)
    plt.close(fig)
    table = summary["mean"].unstack("k")
    lines = [
        "## Marginal contributions (exact engine)",
        "",
        f"{ds.name}, L2 logistic regression (C=1), true log loss on {ds.X_test.shape[0]} test "
        f"points; {len(points)} points, k in {ks.tolist()}, {n_samples} samples per (point, k): "
        f"{len(df):,} contributions in {elapsed:.1f} s.",
        "",
        f"![mean contribution vs k]({path.name})",
        "",
        "Mean contribution by point (rows) and k (columns):",
        "",
        table.to_markdown(floatfmt=".2e") if _has_tabulate() else "```\n" + table.to_string(
            float_format=lambda v: f"{v:.2e}") + "\n```",
        "",
    ]
    return "\n".join(lines)


def _has_tabulate():
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True
