"""Aggregate (Hestness-style) data scaling: learning curves, power-law forms, economics.

docs/math.md §2; Hestness et al. 2017, "Deep Learning Scaling is Predictable, Empirically".
One job per module:

* :mod:`~scaling_kit.aggregate.curves` - :func:`learning_curve` runs the Hestness protocol
  (nested training shards of a pool, one held-out test set, several seeds);
* :mod:`~scaling_kit.aggregate.forms` - the fitting forms :class:`PowerLaw`,
  :class:`OffsetPowerLaw`, :class:`M4Law`, :class:`BrokenPowerLaw` (scikit-learn style
  estimators fitted by least squares on ``log eps``);
* :mod:`~scaling_kit.aggregate.compare` - judging a form by extrapolation
  (:func:`extrapolation_score`, :func:`compare_forms`, :func:`compare_forms_on_curves`);
* :mod:`~scaling_kit.aggregate.coin` - the counting (coin-flip) model;
* :mod:`~scaling_kit.aggregate.economics` - :func:`data_needed` and the flat zone.

For the aggregate-individual link (docs/math.md §3), every form offers ``predict(k)``,
``derivative(k)`` and ``difference(k) = eps(k) - eps(k+1)``; the link itself is
:mod:`scaling_kit.link`.
"""

from .coin import CoinCurveResult, coin_learning_curve
from .compare import (
    ExtrapolationScore,
    FormComparison,
    compare_forms,
    compare_forms_on_curves,
    extrapolation_score,
)
from .curves import LearningCurveResult, learning_curve, shard_sizes
from .economics import DataNeeded, data_needed
from .forms import FORMS, BrokenPowerLaw, FitError, M4Law, OffsetPowerLaw, PowerLaw, default_forms

__all__ = [
    "BrokenPowerLaw",
    "CoinCurveResult",
    "DataNeeded",
    "ExtrapolationScore",
    "FORMS",
    "FitError",
    "FormComparison",
    "LearningCurveResult",
    "M4Law",
    "OffsetPowerLaw",
    "PowerLaw",
    "coin_learning_curve",
    "compare_forms",
    "compare_forms_on_curves",
    "data_needed",
    "default_forms",
    "extrapolation_score",
    "learning_curve",
    "shard_sizes",
]
