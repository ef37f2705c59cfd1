"""plan_contributions: the counts of a run (checked against running it) and its time estimate
(checked against the formula it states: fits per round times the calibrated seconds per fit,
interpolated in k). Wall-clock values themselves are never asserted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scaling_kit.contributions import (
    ContributionPlan,
    plan_contributions,
    planned_datasets,
    sample_contributions,
)
from scaling_kit.contributions.estimate import learner_device
from scaling_kit.contributions.plan import shard_chunk_ids
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.results import Summary

POINTS = [0, 1, 5, 9, 14]


class CountingLearner:
    """Counts fitted networks (one per dataset of each call)."""

    cache_key = "counting"

    def __init__(self):
        self.fits = 0

    def fit_predict_proba_batch(self, Xs, ys, X_eval, n_classes, random_state=None):
        self.fits += Xs.shape[0]
        return np.full((Xs.shape[0], X_eval.shape[0], n_classes), 1.0 / n_classes)


@pytest.mark.parametrize("sizes", [dict(k=[10, 20, 30]), dict(k_range=(10, 30))])
@pytest.mark.parametrize("share", [True, False])
def test_counts_match_the_run(toy, tmp_path, sizes, share):
    kw = dict(n_samples=4, share_datasets=share, random_state=2, chunk_size=6, **sizes)
    plan = plan_contributions(CountingLearner(), toy, POINTS, calibrate=0, **kw)
    learner = CountingLearner()
    table = sample_contributions(learner, toy, POINTS, cache=tmp_path, progress=False, **kw)
    assert isinstance(plan, ContributionPlan)
    assert plan.n_contributions == len(table)
    assert plan.n_fits == learner.fits
    assert plan.n_rounds == len(planned_datasets(toy, POINTS, share_datasets=share,
                                                 n_samples=4, random_state=2, **sizes))
    assert plan.n_chunks == len(list(Path(tmp_path).glob("contributions-*/chunk-*.npz")))
    assert plan.n_points == len(POINTS) and plan.n_samples == 4
    assert plan.n_sizes == table["k"].nunique()
    assert plan.estimated_seconds is None and plan.seconds_on(4) is None


def test_estimate_follows_its_formula(toy):
    kw = dict(k=[10, 20, 30, 35], n_samples=3, random_state=4)
    plan = plan_contributions(ExactLogisticRegression(), toy, POINTS, calibrate=8, **kw)
    per_fit = plan.seconds_per_fit
    assert list(per_fit.index) == [10, 20, 35]  # smallest, middle, largest size
    assert (per_fit > 0).all() and plan.calibration_seconds > 0
    expected = sum((1 + len(r["points"])) * np.interp(r["k"], per_fit.index, per_fit.values)
                   for r in planned_datasets(toy, POINTS, **kw))
    assert plan.estimated_seconds == pytest.approx(expected, rel=1e-12)
    assert plan.shard_estimated_seconds == pytest.approx(expected, rel=1e-12)
    assert plan.seconds_on(4, efficiency=0.5) == pytest.approx(expected / 2, rel=1e-12)
    text = str(plan)
    assert f"{plan.n_fits:,} fits" in text and "estimated wall time" in text
    summary = plan.summary()
    assert isinstance(summary, Summary) and summary.facts["fits"] == plan.n_fits
    assert list(summary.tables["estimated wall time (100% efficiency)"].index) == [1, 10, 100]


def test_plan_of_a_shard_with_a_cache_writes_nothing(toy, tmp_path):
    kw = dict(k=[10, 20], n_samples=3, random_state=4, chunk_size=5)
    cache = tmp_path / "cache"
    plan = plan_contributions(ExactLogisticRegression(), toy, POINTS, shard=(1, 3), cache=cache,
                              calibrate=4, **kw)
    assert not cache.exists()  # planning never writes
    assert plan.shard == (1, 3)
    assert list(plan.shard_chunks) == shard_chunk_ids(plan.n_chunks, (1, 3))
    assert plan.missing == plan.shard_chunks
    assert 0 < plan.shard_estimated_seconds < plan.estimated_seconds
    sample_contributions(ExactLogisticRegression(), toy, POINTS, shard=(1, 3), cache=cache,
                         progress=False, **kw)
    after = plan_contributions(ExactLogisticRegression(), toy, POINTS, shard=(1, 3),
                               cache=cache, calibrate=0, **kw)
    assert after.missing == ()
    whole = plan_contributions(ExactLogisticRegression(), toy, POINTS, cache=cache, calibrate=0,
                               **kw)
    assert set(whole.missing) == set(range(whole.n_chunks)) - set(plan.shard_chunks)


def test_calibration_changes_nothing(toy, tmp_path):
    kw = dict(k=[10, 20], n_samples=2, random_state=4)
    before = sample_contributions(ExactLogisticRegression(), toy, POINTS, progress=False, **kw)
    plan_contributions(ExactLogisticRegression(), toy, POINTS, calibrate=5, **kw)
    after = sample_contributions(ExactLogisticRegression(), toy, POINTS, progress=False, **kw)
    assert before.equals(after)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(calibrate=-1), ValueError, "calibrate"),
    (dict(calibrate=1.5), TypeError, "calibrate"),
    (dict(shard=(3, 3)), ValueError, "0..2"),
])
def test_bad_plan_arguments(toy, kwargs, error, match):
    with pytest.raises(error, match=match):
        plan_contributions(ExactLogisticRegression(), toy, POINTS, k=10, random_state=0,
                           **kwargs)


def test_bad_seconds_on_arguments(toy):
    plan = plan_contributions(ExactLogisticRegression(), toy, POINTS, k=10, n_samples=1,
                              random_state=0, calibrate=1)
    with pytest.raises(ValueError, match="n_workers"):
        plan.seconds_on(0)
    with pytest.raises(ValueError, match="efficiency"):
        plan.seconds_on(2, efficiency=0)
    with pytest.raises(ValueError, match="efficiency"):
        plan.seconds_on(2, efficiency=1.5)


def test_learner_device():
    import torch

    class WithDevice:
        def __init__(self, device):
            self.device = device

    assert learner_device(ExactLogisticRegression()) == "cpu"
    assert learner_device(WithDevice("cuda:1")) == "cuda:1"
    assert learner_device(WithDevice("auto")) == ("cuda" if torch.cuda.is_available() else "cpu")
