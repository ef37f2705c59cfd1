"""The engine's guard: verified answers, an independent fallback, clear failures.

Every solve of the engine ends in one of three ways (docs/engine.md, "The guard"):

1. **verified**: the step computed from a double-precision gradient at the last iterate bounds
   the distance of the returned parameters to the exact minimizer by ``tol`` (relative to the
   parameters), and the step is consistent with the gradient (``-g.f >= |g|^2 / trace``, which
   every sane preconditioner satisfies: a broken one cannot pass);
2. **at the rounding level**: the gradient is zero to double precision in every coordinate
   (:meth:`scaling_kit.logistic.LogisticProblem.rounding_level`) but the step is still above
   ``tol`` (an ill-conditioned problem): the answer is returned when its attained accuracy is
   at most ``max(tol, ACCEPT_LIMIT)``, with one
   :class:`~scaling_kit.exceptions.IllConditionedWarning` per call stating the worst one
   (when it is above :data:`WARN_FLOOR`);
3. **failed**: anything else (no verified stop within the iteration budget, no progress,
   non-finite values, an inconsistent step, an attained accuracy above the limit) hands the
   dataset to an independent damped Newton solve in standardized coordinates (its own
   Hessian, double precision, verified the same way; from theta_D, then from scratch); if
   even that cannot verify its answer within ``max_iter`` iterations, :class:`~scaling_kit.exceptions.ConvergenceError` names the
   dataset (point, k and sample, or the round's D) and the remedy.

The engine never returns a number that did not pass 1 or 2.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import ConvergenceError, IllConditionedWarning

__all__ = ["ACCEPT_LIMIT", "Guard"]

#: Largest attained relative accuracy of the parameters accepted (with a warning) when the
#: requested ``tol`` is below what double precision allows for the problem.
ACCEPT_LIMIT = 1e-8
#: Attained accuracies at or below this are not worth a warning (contributions then carry
#: errors of at most ~1e-10 times the parameters' size).
WARN_FLOOR = 1e-10

REMEDY = ("Use a smaller C (stronger regularization), or standardize the features and drop "
          "near-duplicate ones.")


def _default_describe(r, c=None):
    return f"round {r} of the batch" if c is None else f"candidate {c} of round {r} of the batch"


class Guard:
    """Collects the outcome of one engine call: attained accuracies above ``tol`` (one
    warning at the end) and failures (an error naming the dataset).

    ``describe(r, c=None)`` names round r's dataset D (``c is None``) or candidate c's
    D + {z} in messages; the caller passes one that names the point, k and sample.
    """

    def __init__(self, tol, describe=None):
        self.tol = tol
        self.describe = describe or _default_describe
        self.worst = 0.0
        self.count = 0

    def acceptable(self, accuracy):
        """True where an attained relative accuracy is acceptable (nothing recorded)."""
        accuracy = np.atleast_1d(np.asarray(accuracy, dtype=float))
        return np.isfinite(accuracy) & (accuracy <= max(self.tol, ACCEPT_LIMIT))

    def accept(self, accuracy, where="candidate"):
        """Record attained accuracies (relative) of returned answers; True where acceptable."""
        accuracy = np.atleast_1d(np.asarray(accuracy, dtype=float))
        ok = self.acceptable(accuracy)
        above = ok & (accuracy > max(self.tol, WARN_FLOOR))
        if above.any():
            self.count += int(above.sum())
            self.worst = max(self.worst, float(accuracy[above].max()))
        return ok

    def fail(self, r, c, why, max_iter):
        """Raise :class:`~scaling_kit.exceptions.ConvergenceError` naming the dataset (round
        ``r``, candidate ``c``), the reason and the remedy."""
        raise ConvergenceError(
            f"The exact engine could not verify the fit of {self.describe(r, c)}: {why} "
            f"(damped Newton, at most {max_iter} iterations, accuracy limit "
            f"{ACCEPT_LIMIT:g}). {REMEDY} A larger max_iter helps only if the fit was still "
            "improving."
        )

    def warn(self):
        """Emit one :class:`~scaling_kit.exceptions.IllConditionedWarning` for the fits that
        stopped at rounding level above the accuracy limit (if any)."""
        if self.count:
            warnings.warn(
                f"{self.count} fit(s) reached the rounding level of double precision before the "
                f"requested tol={self.tol:g}: their parameters are accurate to about "
                f"{self.worst:.1e} (relative) at worst, so contributions carry errors of that "
                f"order. {REMEDY}",
                IllConditionedWarning,
                stacklevel=3,
            )
            self.count, self.worst = 0, 0.0


def newton_fallback(problem, XaD, yD, theta_D, Xz, yz, pairs, *, tol, max_iter, guard):
    """Independent exact solves of D + {z} for the (round, candidate) ``pairs``: damped Newton
    in standardized coordinates (:meth:`LogisticProblem.solve_batch`) from theta_D, and from
    scratch for those it cannot verify. Returns theta (n, m, d); raises
    :class:`ConvergenceError` for a solve it cannot verify either way."""
    rr, cc = pairs
    XaDz = np.concatenate([XaD[rr], Xz[rr, cc][:, None, :]], axis=1)
    yDz = np.concatenate([yD[rr], yz[rr, cc][:, None]], axis=1)
    res = problem.solve_batch(XaDz, yDz, theta_D[rr], tol=tol, max_iter=max_iter)
    retry = np.flatnonzero(~(res.converged & guard.acceptable(res.accuracy)))
    if retry.size:  # from scratch
        again = problem.solve_batch(XaDz[retry], yDz[retry], None, tol=tol, max_iter=max_iter)
        res.theta[retry], res.converged[retry], res.accuracy[retry] = \
            again.theta, again.converged, again.accuracy
    ok = res.converged & guard.accept(res.accuracy)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        why = ("Newton did not converge" if not res.converged[i] else
               f"its attained accuracy {res.accuracy[i]:.1e} is above the limit")
        guard.fail(int(rr[i]), int(cc[i]), why, max_iter)
    return res.theta
