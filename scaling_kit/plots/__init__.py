"""Every figure of the kit lives here (one submodule per part; all re-exported).

Functions take results objects or tidy tables, draw on a given or new matplotlib Axes, and
return the Figure; they draw, they do not fit or simulate (the results carry what is drawn).
Notebooks and ``scaling-kit reproduce`` save them with :func:`scaling_kit.save_figure`.

* :mod:`~scaling_kit.plots.aggregate` - learning curves, fitted forms, extrapolation, coin model;
* :mod:`~scaling_kit.plots.comparison` - contributions under several metrics, the
  aggregate-individual link;
* :mod:`~scaling_kit.plots.engine` - mean contribution against k;
* :mod:`~scaling_kit.plots.estimators` - likelihood fits, profiles, estimator accuracy;
* :mod:`~scaling_kit.plots.individual` - validation of individualized laws (Figure 1);
* :mod:`~scaling_kit.plots.theory` - OLS and logistic-regression theory checks;
* :mod:`~scaling_kit.plots.valuation` - Shapley estimators and point addition.
"""

from . import aggregate, comparison, engine, estimators, individual, theory, valuation
from .aggregate import *  # noqa: F401,F403
from .comparison import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .estimators import *  # noqa: F401,F403
from .individual import *  # noqa: F401,F403
from .theory import *  # noqa: F401,F403
from .valuation import *  # noqa: F401,F403

__all__ = [
    name
    for module in (aggregate, comparison, engine, estimators, individual, theory, valuation)
    for name in module.__all__
]
