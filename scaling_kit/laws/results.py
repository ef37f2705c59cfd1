"""The results object of every per-point estimator of individualized laws (docs/api.md).

:class:`ScalingLawResults` holds the fitted laws ``psi_z(k) = c k^-alpha`` of many points, one
row per point in ``params``, and answers the questions a user asks of them: predictions
``predict(k)`` (the estimate of ``psi(k)``, with standard errors), intervals for the parameters
(``conf_int(alpha=0.05)``) and for ``psi(k)`` (``predict_interval(k, alpha=0.05)``), and a
printable ``summary()``. Where the numbers come from depends on the method (docs/math.md §5):

* ``"empirical_bayes"``: posterior means, posterior standard deviations and posterior
  (equal-tailed) intervals under the population prior;
* ``"newton"``, ``"adam"``: the maximum-likelihood estimate (``predict`` is ``c k^-alpha``, the
  MLE of ``psi(k)`` by invariance), Wald intervals ``estimate +- z se`` from the expected
  Fisher information (unreliable with few samples, where the optimum sits on a bound);
* ``"amortized"``: the network's parameters; no uncertainty (intervals are NaN).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..results import Summary
from ._samples import check_level_alpha, check_positive_sizes

__all__ = ["ScalingLawResults"]


@dataclass
class ScalingLawResults:
    """Fitted individualized scaling laws ``psi_z(k) = c k^-alpha`` for many points.

    Attributes
    ----------
    params : DataFrame indexed by point
        ``c, alpha, sigma, beta`` (variance law ``sigma^2 k^-beta``), their standard errors
        ``c_se, alpha_se, sigma_se, beta_se`` (posterior sds for empirical Bayes; NaN where the
        estimator gives none), ``n_samples``, ``nll`` (mean negative log-likelihood per sample
        of the reported law), ``n_iter``, ``converged`` and ``status`` (``"ok"``, ``"not
        converged"``, ``"at bound"``, ``"degenerate"`` (all contributions zero) or
        ``"unresolved"`` (empirical Bayes: the posterior grid could not be placed)).
    method : ``"empirical_bayes"``, ``"newton"``, ``"adam"`` or ``"amortized"``.
    k_range : ``(k_min, k_max)`` of the samples the laws were fitted on.
    cov : ndarray (n_points, 2, 2) or None
        Covariance of ``(c, alpha)``: inverse Fisher information (MLE) or posterior covariance.
    prior : the population prior (empirical Bayes), else None.
    info : dict of method-specific details.
    """

    params: pd.DataFrame
    method: str = ""
    k_range: tuple = (np.nan, np.nan)
    cov: np.ndarray | None = None
    prior: object = None
    info: dict = field(default_factory=dict)
    posterior: object = field(default=None, repr=False)

    @property
    def points(self) -> pd.Index:
        """The points' ids (the index of ``params``)."""
        return self.params.index

    # ---------------------------------------------------------------- predictions
    def predict(self, k, return_se: bool = False):
        """The estimate of ``psi(k)`` for every point (rows) at each ``k`` (columns).

        Empirical Bayes: the posterior mean of ``psi(k) = c k^-alpha`` (which averages over the
        uncertainty in alpha; close to, but not exactly, ``params.c * k ** -params.alpha``).
        Maximum likelihood and amortized: ``c k^-alpha``. With ``return_se=True`` also the
        standard error: the posterior sd, or the delta-method
        ``se^2 = g^T Cov(c, alpha) g``, ``g = (k^-alpha, -c log(k) k^-alpha)``.
        """
        k = check_positive_sizes(k, "k")
        cols = pd.Index(k, name="k")
        if self.posterior is not None:
            pred = pd.DataFrame(self.posterior.mean(k), index=self.params.index, columns=cols)
            if not return_se:
                return pred
            se = pd.DataFrame(self.posterior.sd(k), index=self.params.index, columns=cols)
            return pred, se
        c = self.params["c"].to_numpy()[:, None]
        a = self.params["alpha"].to_numpy()[:, None]
        kp = k[None, :] ** (-a)
        pred = pd.DataFrame(c * kp, index=self.params.index, columns=cols)
        if not return_se:
            return pred
        if self.cov is None:
            se = np.full(pred.shape, np.nan)
        else:
            g0, g1 = kp, -c * np.log(k)[None, :] * kp
            cov = self.cov
            with np.errstate(invalid="ignore"):
                var = (g0**2 * cov[:, 0, 0, None] + 2 * g0 * g1 * cov[:, 0, 1, None]
                       + g1**2 * cov[:, 1, 1, None])
            se = np.sqrt(var)
        return pred, pd.DataFrame(se, index=self.params.index, columns=cols)

    def predict_interval(self, k, alpha: float = 0.05) -> pd.DataFrame:
        """``1 - alpha`` intervals for ``psi(k)``: columns ``(k, "lower" | "upper")``.

        Empirical Bayes: equal-tailed posterior intervals (posterior quantiles
        ``alpha/2``, ``1 - alpha/2``). Maximum likelihood: Wald ``predict +- z se``.
        """
        alpha = check_level_alpha(alpha)
        k = check_positive_sizes(k, "k")
        probs = [alpha / 2, 1 - alpha / 2]
        out = {}
        if self.posterior is not None:
            for kk in k:
                q = self.posterior.quantiles(kk, probs)
                out[(kk, "lower")], out[(kk, "upper")] = q[:, 0], q[:, 1]
        else:
            pred, se = self.predict(k, return_se=True)
            z = stats.norm.ppf(1 - alpha / 2)
            for kk in k:
                out[(kk, "lower")] = (pred[kk] - z * se[kk]).to_numpy()
                out[(kk, "upper")] = (pred[kk] + z * se[kk]).to_numpy()
        frame = pd.DataFrame(out, index=self.params.index)
        frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["k", "bound"])
        return frame

    # ---------------------------------------------------------------- intervals
    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """``1 - alpha`` intervals for ``c`` and ``alpha`` of every point.

        Columns are ``(parameter, "lower" | "upper")`` (docs/api.md), so ``ci["alpha"]`` has
        columns ``lower, upper``. Empirical Bayes: equal-tailed posterior intervals (``c`` is
        ``psi(1)``). Maximum likelihood: Wald intervals ``estimate +- z se``. Amortized: NaN.
        """
        alpha = check_level_alpha(alpha)
        p = self.params
        if self.posterior is not None:
            probs = [alpha / 2, 1 - alpha / 2]
            qc = self.posterior.quantiles(1.0, probs)
            qa = self.posterior.alpha_quantiles(probs)
            data = {("c", "lower"): qc[:, 0], ("c", "upper"): qc[:, 1],
                    ("alpha", "lower"): qa[:, 0], ("alpha", "upper"): qa[:, 1]}
        else:
            z = stats.norm.ppf(1 - alpha / 2)
            data = {}
            for name in ("c", "alpha"):
                se = p[f"{name}_se"].to_numpy(dtype=float)
                data[(name, "lower")] = p[name].to_numpy() - z * se
                data[(name, "upper")] = p[name].to_numpy() + z * se
        frame = pd.DataFrame(data, index=p.index)
        frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["parameter", "bound"])
        return frame

    # ---------------------------------------------------------------- reports
    def summary(self) -> Summary:
        """Quantiles of the parameters over points, status counts and (empirical Bayes) the
        population prior."""
        p = self.params
        cols = [c for c in ("c", "alpha", "sigma", "beta", "alpha_se") if c in p.columns]
        desc = p[cols].describe(percentiles=[0.05, 0.5, 0.95]).T
        facts = {"method": self.method, "points": len(p),
                 "k range": f"[{self.k_range[0]:g}, {self.k_range[1]:g}]",
                 "converged": int(p["converged"].sum()) if "converged" in p else len(p)}
        tables = {"parameters across points": desc}
        if "status" in p.columns:
            tables["status"] = p["status"].value_counts().rename("points").to_frame()
        notes = []
        if self.prior is not None:
            tables["population prior (empirical Bayes)"] = self.prior.table()
            facts["k_ref"] = round(self.prior.k_ref, 3)
            notes.append("c is reported so that c k^-alpha passes through the posterior mean "
                         "of psi at k_ref; predict(k) is the posterior mean of psi(k).")
        if self.method in ("newton", "adam"):
            notes.append("Standard errors are Wald (Fisher information); with few samples "
                         "points at a bound have unreliable ones.")
        return Summary(f"Individualized scaling laws psi(k) = c k^-alpha ({self.method})",
                       facts, tables, notes)

    def __repr__(self):
        p = self.params
        conv = int(p["converged"].sum()) if "converged" in p else len(p)
        return (
            f"ScalingLawResults(method={self.method!r}, n_points={len(p)}, "
            f"k_range={self.k_range}, converged={conv}/{len(p)}, "
            f"median alpha={np.nanmedian(p['alpha']):.3g})"
        )
