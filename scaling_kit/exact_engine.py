"""The exact contribution engine under its first name; it lives in :mod:`scaling_kit.engine`.

The private aliases below keep existing callers and tests working.
"""

from scipy.linalg import lapack  # noqa: F401  (tests patch lapack.spotrf)

from .engine import (  # noqa: F401
    ACCEPT_LIMIT,
    fit_dataset,
    fit_datasets,
    solve_candidates,
    solve_candidates_batch,
    standardized_problem,
    test_log_proba,
    test_losses,
)
from .engine import __all__ as __all__
from .engine.candidates import model_logits as _model_logits  # noqa: F401
from .engine.passes import candidate_gradients
from .engine.passes import candidate_residual_and_curvature as _residual_and_curvature  # noqa: F401
from .engine.passes import hessian_upper32 as _hessian_upper32  # noqa: F401


def _label_term(problem, XaD, yD):
    """Unused by the engine now (P - Y is formed directly); kept for old callers."""
    return None


def _gradients(problem, XaD, yD, theta, Xz, yz, YX=None):
    """Gradients of J_{D+z} (R, A, m*d) and S_z: :func:`scaling_kit.engine.passes.candidate_gradients`."""
    return candidate_gradients(problem, XaD, yD, theta, Xz, yz)
