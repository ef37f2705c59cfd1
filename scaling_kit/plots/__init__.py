"""Every figure of the kit lives here (one submodule per part; all re-exported).

Functions take results objects or tidy tables, draw on a given or new matplotlib Axes, and
return the Figure; notebooks and ``scaling-kit reproduce`` save them with
:func:`scaling_kit.save_figure`.
"""

from .aggregate import *  # noqa: F401,F403
from .comparison import *  # noqa: F401,F403
from .engine import *  # noqa: F401,F403
from .estimators import *  # noqa: F401,F403
from .individual import *  # noqa: F401,F403
from .theory import *  # noqa: F401,F403
from .valuation import *  # noqa: F401,F403
