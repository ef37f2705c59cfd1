"""One-dimensional quadrature behind the exact OLS expectation over Gaussian designs.

docs/math.md §4: with ``A ~ Wishart(k, Sigma)`` the exact ``E[Delta | X]`` depends on the
design through ``h = lev / s`` and ``q = lev (1 + |beta|^2) / s^2`` with ``s`` chi-square, so its
mean over designs is one integral against a chi-square density
(:meth:`scaling_kit.theory.GaussianLinearModel.expected_contribution`).
"""

from __future__ import annotations

import math

from scipy.integrate import quad


def _mean_q(lev, k, p):
    """``E[x_z^T A^-1 Sigma A^-1 x_z] = lev (k-1) / ((k-p)(k-p-1)(k-p-3))``, ``A ~ W(k, Sigma)``."""
    return lev * (k - 1) / ((k - p) * (k - p - 1) * (k - p - 3))


def _chi2_mean(fun, lev, df, scale):
    """``E[fun(lev / s)]`` for ``s ~ chi2(df)`` by adaptive quadrature; ``fun`` is bounded by
    ``scale`` on ``h >= 0`` (the absolute accuracy, ``1e-13 scale``, holds also where the mean
    is near zero, e.g. at the sign flip).

    The density is taken relative to its value at ``m = max(df - 2, 1)`` and normalized by its
    own quadrature, so no large logarithms cancel; beyond 60 standard deviations it is below
    double precision.
    """
    if lev == 0:
        return float(fun(0.0))
    a, m = 0.5 * df - 1.0, max(df - 2.0, 1.0)

    def weight(s):  # chi2(df) density / density at m
        if s <= 0.0:
            return 0.0
        return math.exp(a * math.log1p((s - m) / m) - 0.5 * (s - m))

    hi = df + 60.0 * math.sqrt(2.0 * df) + 60.0
    kw = dict(points=[m], epsrel=1e-13, limit=500)
    norm = quad(weight, 0.0, hi, epsabs=0.0, **kw)[0]
    total = quad(lambda s: fun(lev / s) * weight(s) if s > 0.0 else 0.0, 0.0, hi,
                 epsabs=1e-13 * scale * norm, **kw)[0]
    return float(total / norm)
