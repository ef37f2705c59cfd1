"""What sampling MLP contributions costs: fits, floating-point operations, seconds on this machine.

A contribution ``Delta(z, D)`` needs a fit on D and one on D + {z} (docs/math.md §3). With one D
per sample (the paper's protocol, ``share_datasets=False``) that is ``2 * points * sizes *
samples`` fits; with each D shared by all points (the kit's default) about ``sizes * samples *
(points + 1)``. A full-batch fit of ``k`` rows costs ``n_epochs`` times the matrix products of
one step (:func:`scaling_kit._mlp_train.flops_per_step`: forward, weight gradients, input
gradients but the first layer's) plus one forward pass over the test set; minibatches change
the number of steps, not the products per epoch.

Seconds come from a short calibration run of the fused trainer on this machine (one thread,
random data of the right shape, the estimator's own chunking) at up to six sizes, interpolated
in ``log k``: the time per network and epoch, which includes everything the trainer does besides
the products. They are single-core seconds: divide by the number of workers (``n_jobs``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from . import _mlp_train
from ._checks import check_int, check_sizes
from ._torch import torch_threads
from .results import Summary

__all__ = ["MLPCost", "estimate_mlp_cost"]


@dataclass(frozen=True)
class MLPCost:
    """Estimated cost of sampling MLP contributions.

    ``n_fits``, ``flops`` (matrix products), ``seconds`` (one core); ``per_size``: one row per
    dataset size k with ``fits``, ``flops_per_fit``, ``seconds_per_fit``.
    """

    n_fits: int
    flops: float
    seconds: float
    per_size: pd.DataFrame
    calibrated: bool

    def wall_seconds(self, n_jobs: int = 1) -> float:
        """Seconds with ``n_jobs`` workers on as many cores (perfect scaling)."""
        return self.seconds / check_int(n_jobs, "n_jobs", low=1)

    def summary(self) -> Summary:
        """The estimated fits, flops and single-core seconds, per dataset size and in total."""
        hours = self.seconds / 3600
        return Summary(
            title="Estimated cost of MLP contributions",
            facts={"fits": self.n_fits, "Tflop": self.flops / 1e12,
                   "core-hours": hours if self.calibrated else float("nan")},
            tables={"Per dataset size": self.per_size},
            notes=["Seconds are single-core, from a calibration run on this machine."
                   if self.calibrated else "Not calibrated: seconds are NaN."],
        )


def _fits_per_size(ks, n_points, n_samples, share_datasets):
    """Fits of sizes k (on D) and k + 1 (on D + {z}) per size."""
    if share_datasets:  # one D per round, all points added to it
        return {int(k): (n_samples, n_samples * n_points) for k in ks}
    return {int(k): (n_samples * n_points, n_samples * n_points) for k in ks}


def _seconds_per_epoch(learner, n_features, n_classes, sizes, n_networks=16, n_epochs=3):
    """Calibration: seconds per network and epoch of the fused trainer at each size."""
    probe = clone(learner).set_params(n_epochs=n_epochs, backend="fused", device="cpu")
    rng = np.random.default_rng(0)
    X_eval = rng.normal(size=(8, n_features))
    out = []
    with torch_threads(1):
        for n in sizes:
            X = rng.normal(size=(n_networks, n, n_features))
            y = np.tile(np.arange(n) % n_classes, (n_networks, 1))
            best = np.inf
            for _ in range(3):
                t0 = time.perf_counter()
                probe.fit_predict_proba_batch(X, y, X_eval, n_classes, random_state=0)
                best = min(best, time.perf_counter() - t0)
            out.append(best / (n_networks * n_epochs))
    return np.array(out)


def estimate_mlp_cost(learner, *, n_features, n_classes, n_points, n_samples, ks=None,
                      k_range=None, share_datasets=True, n_test=1000,
                      calibrate=True) -> MLPCost:
    """Fits, flops and single-core seconds of sampling contributions with ``learner``.

    Parameters
    ----------
    learner : a :class:`scaling_kit.mlp.BatchedMLPClassifier` (its recipe sets the cost).
    n_features, n_classes, n_test : shape of the problem.
    n_points, n_samples : points z and samples per (point, k) (``k_range``: per point).
    ks : dataset sizes, or ``k_range=(k_min, k_max)`` (k uniform on the range: the estimate
        averages over it).
    share_datasets : the engine option (True: one D per round shared by every point).
    calibrate : time the trainer on this machine (about a second); False leaves seconds NaN.

    Example (the paper profile of notebook 02: MiniBooNE, 200 points, 5000 samples, 10 sizes)::

        estimate_mlp_cost(BatchedMLPClassifier.reference(), n_features=50, n_classes=2,
                          n_points=200, n_samples=5000,
                          ks=np.geomspace(100, 1000, 10).astype(int))
    """
    from .mlp import BatchedMLPClassifier

    if not isinstance(learner, BatchedMLPClassifier):
        raise TypeError(f"learner must be a BatchedMLPClassifier; got {type(learner).__name__}.")
    n_features = check_int(n_features, "n_features", low=1)
    n_classes = check_int(n_classes, "n_classes", low=2)
    n_points = check_int(n_points, "n_points", low=1)
    n_samples = check_int(n_samples, "n_samples", low=1)
    n_test = check_int(n_test, "n_test", low=1)
    if (ks is None) == (k_range is None):
        raise ValueError("Give exactly one of ks (sizes) and k_range=(k_min, k_max).")
    if ks is not None:
        sizes = check_sizes(ks, "ks", sort=True)
        weights = np.ones(len(sizes))
    else:
        lo, hi = check_sizes(k_range, "k_range", sort=True, unique=True)
        sizes = np.unique(np.geomspace(lo, hi, min(hi - lo + 1, 25)).astype(np.int64))
        counts = np.histogram(np.arange(lo, hi + 1), bins=np.append(sizes, hi + 1))[0]
        weights = counts / counts.sum()  # k uniform on [lo, hi], binned at the grid sizes
    shapes = _mlp_train.layer_shapes(n_features, int(learner.hidden),
                                     int(learner.n_hidden_layers), n_classes)
    forward_per_row = 2 * sum(fi * fo for fi, fo in shapes)
    fits = _fits_per_size(sizes, n_points, n_samples, share_datasets)
    rows = []
    for k, w in zip(sizes.tolist(), weights.tolist(), strict=True):
        n_D, n_Dz = (w * f for f in fits[k])
        flops_D = learner.n_epochs * _mlp_train.flops_per_step(k, shapes) + forward_per_row * n_test
        flops_Dz = learner.n_epochs * _mlp_train.flops_per_step(k + 1, shapes) + forward_per_row * n_test
        rows.append({"k": k, "fits": n_D + n_Dz,
                     "flops_per_fit": (n_D * flops_D + n_Dz * flops_Dz) / (n_D + n_Dz)})
    per_size = pd.DataFrame(rows).set_index("k")
    if calibrate:
        grid = np.unique(np.geomspace(sizes.min(), sizes.max(), min(len(sizes), 6)).astype(int))
        measured = _seconds_per_epoch(learner, n_features, n_classes, grid)
        per_epoch = np.exp(np.interp(np.log(per_size.index), np.log(grid), np.log(measured)))
        # the test pass, in epochs of the same rate: forward over n_test rows / one step's flops
        eval_epochs = forward_per_row * n_test / np.array(
            [_mlp_train.flops_per_step(k, shapes) for k in per_size.index])
        per_size["seconds_per_fit"] = per_epoch * (learner.n_epochs + eval_epochs)
    else:
        per_size["seconds_per_fit"] = np.nan
    n_fits = float(per_size["fits"].sum())
    flops = float((per_size["fits"] * per_size["flops_per_fit"]).sum())
    seconds = (float((per_size["fits"] * per_size["seconds_per_fit"]).sum()) if calibrate
               else float("nan"))
    return MLPCost(n_fits=int(round(n_fits)), flops=flops, seconds=seconds, per_size=per_size,
                   calibrated=bool(calibrate))
