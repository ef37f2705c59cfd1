"""Marginal contributions of training points: the reference definition and the fast sampler.

Definition (Covert et al. 2024, §2; docs/math.md §3): for a point z and a dataset D of size k
with z not in D,

    Delta(z, D) = loss(model fit on D) - loss(model fit on D + {z}),

with the loss measured on a held-out test set (default: true log loss; see
:mod:`scaling_kit.metrics`). Positive means z helps. The individualized scaling law is about
psi_z(k) = E_{|D| = k}[Delta(z, D)], estimated from samples of D drawn with proportional
stratification (:mod:`scaling_kit.sampling`).

* :func:`exact_contribution` computes one Delta from its definition (two independent fits).
* :func:`sample_contributions` draws many and is fast: each drawn D serves every requested
  point not in D (the same per-point distribution, :mod:`.plan`), and
  :class:`~scaling_kit.learners.ExactLogisticRegression` uses the exact engine (D fit once,
  every D + {z} solved to machine precision from it, :mod:`.compute`); any other learner goes
  through its backend (:mod:`scaling_kit.backends`).
* :func:`planned_datasets` lists the datasets a run draws; :func:`summarize_contributions`
  averages a table per (point, k); :func:`delta_column` names a metric's column.
* Scale-out (docs/scale-out.md): ``n_jobs`` with any joblib backend, a dask cluster included;
  ``sample_contributions(..., cache=DIR, shard=(i, n))`` computes one of n shards of a run into
  a shared directory; :func:`plan_contributions` counts rounds, fits and chunks and estimates
  the time from a short calibration; :func:`open_contributions` reads a cached run lazily
  (streamed per-(point, k) summaries, per-point tables).

Modules: :mod:`.plan` (rounds, seeds, chunks, shards), :mod:`.run` (one planned run and its
key), :mod:`.compute` (one chunk), :mod:`.cache` (self-verifying chunk files, npz or parquet),
:mod:`.store` (lazy reading of a cached run), :mod:`.estimate` (the plan and its cost),
:mod:`.table` (the tidy table), :mod:`.definition`, :mod:`.sampler` (the public sampler),
:mod:`.command` (the command line: ``python -m scaling_kit.contributions``).

Reproducibility: the plan is fixed from ``random_state`` before any work starts and each chunk
runs with one BLAS thread, so the same arguments give bitwise identical tables for any
``n_jobs``, joblib backend or caller thread setting on one machine; another ``chunk_size`` or
set of points agrees up to rounding (see :func:`sample_contributions`).
"""

from .definition import check_problem, exact_contribution
from .estimate import ContributionPlan, plan_contributions
from .sampler import planned_datasets, sample_contributions
from .store import ContributionStore, open_contributions
from .table import delta_column, summarize_contributions

__all__ = [
    "ContributionPlan",
    "ContributionStore",
    "check_problem",
    "delta_column",
    "exact_contribution",
    "open_contributions",
    "plan_contributions",
    "planned_datasets",
    "sample_contributions",
    "summarize_contributions",
]
