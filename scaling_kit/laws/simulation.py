"""Simulated individualized laws with known parameters (test beds for the estimators).

* :func:`simulate_contributions` draws sampled contributions from the paper's model
  ``Delta ~ Normal(c k^-alpha, sigma^2 k^-beta)`` (Section 3.1, Eq. 6; docs/math.md §5) for
  given parameters, in the engine's tidy layout;
* :func:`simulate_laws` draws realistic parameters: exponents spread over 0.5..2.5, helpful and
  harmful points, a wide range of signal-to-noise ratios, partly predictable from features;
* :func:`simulate_feature_laws` draws parameters that are smooth functions of the features
  (the amortized estimator's easy case).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._checks import check_int, check_number, check_random_state, check_sizes

__all__ = ["SimulatedLaws", "simulate_contributions", "simulate_laws", "simulate_feature_laws"]


@dataclass(frozen=True)
class SimulatedLaws:
    """Points with known laws: features ``X`` (n, p), labels ``y`` (n,), and ``params`` (a
    DataFrame indexed by point with ``c, alpha, sigma, beta`` and, for :func:`simulate_laws`,
    ``noise_ratio``). Unpacks as ``X, y, params = simulate_...(...)``."""

    X: np.ndarray
    y: np.ndarray
    params: pd.DataFrame

    def __iter__(self):
        return iter((self.X, self.y, self.params))

    def psi(self, k) -> pd.DataFrame:
        """True mean contributions ``c k^-alpha``: points (rows) x sizes (columns)."""
        k = np.atleast_1d(np.asarray(k, float))
        c, a = self.params["c"].to_numpy(), self.params["alpha"].to_numpy()
        return pd.DataFrame(c[:, None] * k[None, :] ** -a[:, None], index=self.params.index,
                            columns=pd.Index(k, name="k"))

    def contributions(self, n_samples, *, k_range=(100, 1000), random_state=None):
        """Sampled contributions of every point (:func:`simulate_contributions`)."""
        p = self.params
        return simulate_contributions(p["c"], p["alpha"], p["sigma"], p["beta"],
                                      k_range=k_range, n_samples=n_samples,
                                      random_state=random_state)


def simulate_contributions(c, alpha, sigma, beta, k_range=None, ks=None, n_samples=100,
                           random_state=None) -> pd.DataFrame:
    """Draw ``Delta ~ Normal(c k^-alpha, sigma^2 k^-beta)`` for each point (docs/math.md §5).

    ``c, alpha, sigma, beta`` are scalars or arrays (broadcast to the number of points).
    Sizes: ``k_range=(k_min, k_max)`` draws each sample's ``k`` uniformly among the integers
    of the range (``n_samples`` per point); ``ks=[...]`` uses ``n_samples`` per point and size.
    Returns the engine's tidy table: columns ``point, k, sample, delta``.
    """
    try:
        arrays = [np.atleast_1d(np.asarray(v, float)) for v in (c, alpha, sigma, beta)]
    except (TypeError, ValueError):
        raise TypeError("c, alpha, sigma, beta must be numbers or 1-D numeric arrays.") from None
    try:
        c, alpha, sigma, beta = np.broadcast_arrays(*arrays)
    except ValueError:
        raise ValueError("c, alpha, sigma, beta must broadcast to one length (one value per "
                         f"point); got shapes {[a.shape for a in arrays]}.") from None
    if c.ndim != 1:
        raise ValueError("c, alpha, sigma, beta must be scalars or 1-D arrays.")
    for name, v in (("c", c), ("alpha", alpha), ("sigma", sigma), ("beta", beta)):
        if not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must be finite; got {v[~np.isfinite(v)][:3].tolist()}.")
    if np.any(sigma < 0):
        raise ValueError("sigma must be non-negative (the noise sd at k = 1).")
    n = check_int(n_samples, "n_samples", low=1)
    if (k_range is None) == (ks is None):
        raise ValueError("Give exactly one of k_range=(k_min, k_max) or ks=[...].")
    rng = check_random_state(random_state)
    P = len(c)
    if k_range is not None:
        try:
            lo, hi = k_range
        except (TypeError, ValueError):
            raise ValueError(f"k_range must be a pair (k_min, k_max); got {k_range!r}.") from None
        lo, hi = check_int(lo, "k_range[0]", low=1), check_int(hi, "k_range[1]", low=1)
        if lo > hi:
            raise ValueError(f"k_range must satisfy k_min <= k_max; got {k_range}.")
        k = rng.integers(lo, hi + 1, size=(P, n)).astype(float)
        sample = np.tile(np.arange(n), (P, 1))
    else:
        ks = check_sizes(ks, "ks").astype(float)
        k = np.tile(np.repeat(ks, n), (P, 1))
        sample = np.tile(np.tile(np.arange(n), len(ks)), (P, 1))
    mean = c[:, None] * k ** (-alpha[:, None])
    sd = sigma[:, None] * k ** (-beta[:, None] / 2)
    delta = mean + sd * rng.standard_normal(k.shape)
    return pd.DataFrame(
        {
            "point": np.repeat(np.arange(P), k.shape[1]),
            "k": k.ravel().astype(int),
            "sample": sample.ravel(),
            "delta": delta.ravel(),
        }
    )


def _uniform_from(z, lo, hi):
    return lo + (hi - lo) * stats.norm.cdf(z)


def simulate_laws(n_points=300, *, n_features=5, n_classes=2, alpha_range=(0.5, 2.5),
                  beta_range=(1.5, 3.5), noise_ratio_range=(0.2, 20.0), harmful_fraction=0.25,
                  psi_median=0.005, feature_weight=0.8, k_ref=300.0, random_state=None
                  ) -> SimulatedLaws:
    """Realistic individualized laws with known parameters (docs/math.md §5).

    The generator (every parameter independent of the others, each partly predictable from
    one feature; ``Phi`` is the standard normal CDF, ``e_j`` independent standard normals)::

        x ~ N(0, I_p),  y uniform on 0..K-1,  z_j = rho x_j + sqrt(1 - rho^2) e_j,  rho = feature_weight
        alpha       = a_lo + (a_hi - a_lo) Phi((z_0 + 0.4 s_y) / sqrt(1.16))   (about uniform on
                      alpha_range; s_y = 2y/(K-1) - 1 shifts alpha by class; with K = 1 no shift)
        sign(c)     = -1 if Phi(z_1) < harmful_fraction else +1
        |psi(k_ref)| = psi_median exp(0.7 z_2)                         (log-normal magnitudes)
        noise_ratio = r_lo (r_hi / r_lo)^Phi(z_3)                      (log-uniform: sd / |mean| at k_ref)
        beta        = b_lo + (b_hi - b_lo) Phi(z_4)                    (uniform on beta_range)
        c = sign |psi(k_ref)| k_ref^alpha,   sigma = noise_ratio |psi(k_ref)| k_ref^(beta/2)

    so that ``psi(k) = c k^-alpha`` and a sample's noise sd ``sigma k^(-beta/2)`` is
    ``noise_ratio`` times ``|psi|`` at ``k_ref``. Returns a :class:`SimulatedLaws` (unpacks as
    ``X, y, params``); ``.contributions(n_samples, k_range=(100, 1000))`` samples from it.
    """
    n_points = check_int(n_points, "n_points", low=1)
    n_features = check_int(n_features, "n_features", low=5)
    n_classes = check_int(n_classes, "n_classes", low=1)
    rho = check_number(feature_weight, "feature_weight", low=0.0, high=1.0)
    harmful_fraction = check_number(harmful_fraction, "harmful_fraction", low=0.0, high=1.0)
    psi_median = check_number(psi_median, "psi_median", low=0.0, low_open=True)
    k_ref = check_number(k_ref, "k_ref", low=0.0, low_open=True)
    ranges = {}
    for name, (lo, hi), positive in (("alpha_range", alpha_range, False),
                                     ("beta_range", beta_range, False),
                                     ("noise_ratio_range", noise_ratio_range, True)):
        lo = check_number(lo, f"{name}[0]", low=0.0, low_open=positive)
        hi = check_number(hi, f"{name}[1]", low=lo)
        ranges[name] = (lo, hi)
    rng = check_random_state(random_state)
    X = rng.standard_normal((n_points, n_features))
    y = rng.integers(0, n_classes, n_points)
    e = rng.standard_normal((n_points, 5))
    z = rho * X[:, :5] + np.sqrt(1 - rho**2) * e
    s_y = 2.0 * y / (n_classes - 1) - 1.0 if n_classes > 1 else np.zeros(n_points)
    z0 = (z[:, 0] + 0.4 * s_y) / np.sqrt(1 + 0.16 * (n_classes > 1))
    alpha = _uniform_from(z0, *ranges["alpha_range"])
    sign = np.where(stats.norm.cdf(z[:, 1]) < harmful_fraction, -1.0, 1.0)
    magnitude = psi_median * np.exp(0.7 * z[:, 2])
    r_lo, r_hi = ranges["noise_ratio_range"]
    ratio = r_lo * (r_hi / r_lo) ** stats.norm.cdf(z[:, 3])
    beta = _uniform_from(z[:, 4], *ranges["beta_range"])
    c = sign * magnitude * k_ref**alpha
    sigma = ratio * magnitude * k_ref ** (beta / 2)
    params = pd.DataFrame({"c": c, "alpha": alpha, "sigma": sigma, "beta": beta,
                           "noise_ratio": ratio}, index=pd.RangeIndex(n_points, name="point"))
    return SimulatedLaws(X, y.astype(np.int64), params)


def simulate_feature_laws(n_points=500, n_features=5, n_classes=2, noise_ratio=1.0,
                          random_state=None) -> SimulatedLaws:
    """Points whose law parameters are smooth functions of features and label (a test bed
    for the amortized estimator; docs/math.md §5).

    ``x ~ N(0, I)``, ``y`` uniform; ``alpha = 1.2 + 0.4 tanh(x0 + 0.5 (2y/(K-1) - 1))``,
    ``log|c| = -1 + 0.5 x1``, ``sign(c) = sign(x2 + 1)`` (mostly helpful, some harmful),
    ``beta = 2.5 + 0.5 tanh(x3)`` and ``sigma`` such that the noise standard deviation at
    ``k = 100`` is ``noise_ratio`` times ``|c| 100^-alpha``.
    Returns a :class:`SimulatedLaws` (unpacks as ``X, y, params``).
    """
    n_points = check_int(n_points, "n_points", low=1)
    n_features = check_int(n_features, "n_features", low=4)
    n_classes = check_int(n_classes, "n_classes", low=1)
    noise_ratio = check_number(noise_ratio, "noise_ratio", low=0.0, low_open=True)
    rng = check_random_state(random_state)
    X = rng.standard_normal((n_points, n_features))
    y = rng.integers(0, n_classes, n_points)
    shift = 0.5 * (2 * y / max(n_classes - 1, 1) - 1) if n_classes > 1 else 0.0
    alpha = 1.2 + 0.4 * np.tanh(X[:, 0] + shift)
    c = np.where(X[:, 2] + 1 >= 0, 1.0, -1.0) * np.exp(-1 + 0.5 * X[:, 1])
    beta = 2.5 + 0.5 * np.tanh(X[:, 3])
    sigma = noise_ratio * np.abs(c) * 100.0 ** (beta / 2 - alpha)
    params = pd.DataFrame({"c": c, "alpha": alpha, "sigma": sigma, "beta": beta},
                          index=pd.RangeIndex(n_points, name="point"))
    return SimulatedLaws(X, y.astype(np.int64), params)
