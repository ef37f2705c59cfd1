"""Exceptions and warnings of the kit (scikit-learn's where one exists).

* :class:`NotFittedError` and :class:`ConvergenceWarning` are scikit-learn's own, re-exported so
  that ``except NotFittedError`` catches the kit's and scikit-learn's alike;
* :class:`IllConditionedWarning`: a problem is solvable but close to the limit of double
  precision (the message names the remedy: standardize features, lower ``C``);
* :class:`CacheWarning` / :class:`CacheError`: an on-disk cache entry is missing, damaged or
  foreign (a warning when it is recomputed, an error under ``strict=True``);
* :class:`ConvergenceError`: a solver that must not return an unverified number (the exact
  contribution engine) could not reach a verified answer; the message names what failed.
"""

from sklearn.exceptions import ConvergenceWarning, NotFittedError

__all__ = [
    "CacheError",
    "CacheWarning",
    "ConvergenceError",
    "ConvergenceWarning",
    "IllConditionedWarning",
    "NotFittedError",
]


class IllConditionedWarning(UserWarning):
    """A fit is close to the limit of double precision; its message says what to change."""


class CacheWarning(UserWarning):
    """A cache entry could not be used and is being recomputed; the message names the file."""


class CacheError(RuntimeError):
    """A cache entry is missing, damaged or foreign and ``strict=True`` forbids recomputing."""


class ConvergenceError(RuntimeError):
    """A solve could not be verified within its iteration budget; the message names the
    dataset (point, k, sample or round) and the remedy."""
