"""Report section for the theory part of `scaling-kit reproduce` (MATH.md Section 3)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..config import get_profile, save_figure
from ..plots.theory import (
    plot_logistic_regimes,
    plot_ols_leverage,
    plot_ols_rates,
    plot_ols_sign_flip,
)
from ..theory import (
    GaussianLinearModel,
    GaussianLogisticModel,
    simulate_logistic_contributions,
    simulate_ols_contributions,
)

__all__ = ["run", "settings", "run_experiments"]


def settings(profile: str) -> dict:
    """Simulation sizes per profile (quick: seconds; paper: larger Monte Carlo)."""
    profile = get_profile(profile)
    if profile == "quick":
        return dict(ols_datasets=4000, ols_ks=2 ** np.arange(7, 15), cross_k=1000,
                    logit_datasets=1500, logit_ks=[100, 200, 400, 800, 1600], n_pool=2000)
    return dict(ols_datasets=50_000, ols_ks=2 ** np.arange(6, 17), cross_k=1000,
                logit_datasets=10_000, logit_ks=[100, 200, 400, 800, 1600, 3200, 6400], n_pool=5000)


def run_experiments(profile: str, random_state: int = 0) -> dict:
    """The four experiments of notebook 03; returns their results objects by name."""
    s = settings(profile)
    lin = GaussianLinearModel(cov=np.diag([1.0, 2.0, 0.5]), noise_std=1.0, coef=[1.0, -1.0, 0.5])
    p = lin.n_features
    rates = simulate_ols_contributions(
        lin, lin.point([p, p, p]), [0.0, 1.0, np.sqrt(5.0)], ks=s["ols_ks"],
        n_datasets=s["ols_datasets"], random_state=random_state,
    )
    r2 = np.linspace(0.0, 4.0, 9)
    flip = simulate_ols_contributions(
        lin, lin.point([p] * r2.size), np.sqrt(r2 * lin.noise_var), ks=[s["cross_k"]],
        n_datasets=s["ols_datasets"], random_state=random_state + 1,
    )
    levs = 2.0 ** np.arange(-2, 5)
    leverage = simulate_ols_contributions(
        lin, lin.point(levs, direction=[1.0, 1.0, 1.0]), np.zeros(levs.size), ks=[s["cross_k"]],
        n_datasets=s["ols_datasets"], random_state=random_state + 2,
    )
    logit = GaussianLogisticModel(coef=[1.5, -1.0], intercept=0.3)
    logistic = simulate_logistic_contributions(
        logit, np.array([0.5, 0.5]), 1, ks=s["logit_ks"], n_datasets=s["logit_datasets"],
        validation_sizes=(100, 1000), n_pool=s["n_pool"], random_state=random_state + 3,
    )
    return dict(rates=rates, flip=flip, leverage=leverage, logistic=logistic, model=lin)


def run(profile: str, figdir: Path) -> str:
    """Run the theory checks, save four figures, return the markdown section."""
    res = run_experiments(profile)
    figs = {
        "theory_ols_rates": plot_ols_rates(res["rates"]),
        "theory_ols_sign_flip": plot_ols_sign_flip(res["flip"]),
        "theory_ols_leverage": plot_ols_leverage(res["leverage"]),
        "theory_logistic_regimes": plot_logistic_regimes(res["logistic"]),
    }
    for name, fig in figs.items():
        save_figure(fig, name, figdir)
        plt.close(fig)
    rates, lg = res["rates"], res["logistic"]
    lines = [
        "## Theory checks (MATH.md §3, paper Appendix A)",
        "",
        "| quantity | ours | theory |",
        "|---|---|---|",
    ]
    for j in range(rates.mean.shape[1]):
        fit = rates.slope(j)
        lines.append(
            f"| OLS slope, e²/σ² = {rates.e_z[j] ** 2:.0f} | {fit.slope:.3f} ± {fit.se:.3f} | -2 |"
        )
    flip = res["flip"].sign_flip()
    lines.append(f"| OLS sign flip at e²/σ² (k = {flip.k}) | {flip.ratio:.3f} ± {flip.se:.3f} | 2 (+O(1/k)) |")
    lv = res["leverage"]
    lev_slope = np.polyfit(np.log(lv.leverage), np.log(lv.mean[0]), 1)[0]
    lines.append(f"| OLS contribution vs leverage, log-log slope | {lev_slope:.3f} | 1 |")
    pop = lg.slope("population")
    lines.append(f"| logistic, population loss: slope | {pop.slope:.2f} ± {pop.se:.2f} | -2 |")
    for n in lg.validation_sizes:
        try:
            fit = lg.slope(int(n))
            val = f"{fit.slope:.3f} ± {fit.se:.3f}"
        except ValueError:
            val = "changes sign"
        lines.append(f"| logistic, fixed validation set of {n}: slope | {val} | -1 (large k) |")
    tm = lg.typical_magnitude(lg.ks)
    lines.append(
        f"| logistic, RMS over validation sets as large as D: slope | "
        f"{np.polyfit(np.log(lg.ks), np.log(tm), 1)[0]:.2f} | between (paper's alpha mode 1-1.5) |"
    )
    lines += ["", "Figures: " + ", ".join(f"`{n}.png`" for n in figs)]
    return "\n".join(lines) + "\n"
