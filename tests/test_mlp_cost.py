"""Tests of the MLP cost model (scaling_kit.mlp_cost)."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from scaling_kit.mlp import BatchedMLPClassifier
from scaling_kit.mlp_cost import estimate_mlp_cost
from scaling_kit.results import Summary


def test_fit_counts_and_flops_follow_the_protocol():
    ref = BatchedMLPClassifier.reference()
    kw = dict(n_features=10, n_classes=3, n_points=7, n_samples=11, n_test=100, calibrate=False)
    paper = estimate_mlp_cost(ref, ks=[50, 80], share_datasets=False, **kw)
    shared = estimate_mlp_cost(ref, ks=[50, 80], share_datasets=True, **kw)
    assert paper.n_fits == 2 * 7 * 2 * 11  # D and D + {z} per (point, k, sample)
    assert shared.n_fits == 2 * 11 * (7 + 1)  # one D per round, every point added to it
    # flops of one fit on D of size 50 (and D + {z} of 51): 25 epochs of the step's products
    # (forward 2 n sum(fi fo); backward the same for the weights, and for the inputs of all
    # layers but the first) plus the forward pass over the test set
    macs = 10 * 32 + 32 * 32 + 32 * 3

    def step(n):
        return 2 * n * macs * 3 - 2 * n * 10 * 32

    fit_50 = 25 * step(50) + 2 * macs * 100
    fit_51 = 25 * step(51) + 2 * macs * 100
    assert paper.per_size.loc[50, "flops_per_fit"] == pytest.approx((fit_50 + fit_51) / 2)
    assert paper.flops == pytest.approx((paper.per_size["fits"] * paper.per_size["flops_per_fit"]).sum())
    assert np.isnan(paper.seconds) and isinstance(paper.summary(), Summary)


def test_k_range_spreads_the_fits_over_the_range():
    kw = dict(n_features=5, n_classes=2, n_points=3, n_samples=4, calibrate=False)
    cost = estimate_mlp_cost(BatchedMLPClassifier(), k_range=(100, 1000), share_datasets=False, **kw)
    assert cost.n_fits == 2 * 3 * 4
    assert cost.per_size.index.min() == 100 and cost.per_size.index.max() <= 1000
    # the mean size of the weighted grid is close to the mean of the uniform range (550)
    mean_k = np.average(cost.per_size.index, weights=cost.per_size["fits"])
    assert 450 < mean_k < 650


def test_calibrated_seconds_are_positive_and_consistent():
    # (no assertion on how large: timings depend on the machine and its load)
    cost = estimate_mlp_cost(BatchedMLPClassifier.reference(n_epochs=2), n_features=8,
                             n_classes=2, n_points=2, n_samples=2, ks=[20, 40, 400])
    seconds = cost.per_size["seconds_per_fit"]
    assert cost.calibrated and np.all(np.isfinite(seconds)) and np.all(seconds > 0)
    assert cost.seconds == pytest.approx((cost.per_size["fits"] * seconds).sum())
    assert cost.wall_seconds(4) == pytest.approx(cost.seconds / 4)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(learner=LogisticRegression()), TypeError, "BatchedMLPClassifier"),
    (dict(ks=None), ValueError, "exactly one"),
    (dict(k_range=(10, 20)), ValueError, "exactly one"),
    (dict(n_points=0), ValueError, "n_points"),
    (dict(n_samples=2.5), TypeError, "n_samples"),
])
def test_bad_input(kwargs, error, message):
    args = dict(learner=BatchedMLPClassifier(), n_features=5, n_classes=2, n_points=3,
                n_samples=4, ks=[10, 20], calibrate=False)
    args.update(kwargs)
    learner = args.pop("learner")
    with pytest.raises(error, match=message):
        estimate_mlp_cost(learner, **args)
