"""Test losses against scikit-learn and torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss

from scaling_kit.metrics import METRICS, check_metrics, losses_from_logp, losses_from_proba


def _random_proba(n, K, seed):
    rng = np.random.default_rng(seed)
    logits = 2.0 * rng.standard_normal((n, K))
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = rng.integers(0, K, n)
    y[:K] = np.arange(K)  # every class present (sklearn infers labels from y)
    return P, y


@pytest.mark.parametrize("K", [2, 3, 10])
def test_metrics_match_references(K):
    P, y = _random_proba(200, K, seed=K)
    got = losses_from_proba(P, y, METRICS)
    assert set(got) == set(METRICS)
    np.testing.assert_allclose(got["log_loss"], log_loss(y, P), rtol=1e-12)
    np.testing.assert_allclose(got["error"], 1.0 - accuracy_score(y, P.argmax(axis=1)), rtol=1e-12)
    brier = np.mean(np.sum((P - np.eye(K)[y]) ** 2, axis=1))
    np.testing.assert_allclose(got["brier"], brier, rtol=1e-12)
    if K > 2:
        ref = brier_score_loss(y, P, scale_by_half=False)
    else:  # binary: sklearn scores the positive-class column; both columns count twice
        ref = 2.0 * brier_score_loss(y, P[:, 1])
    np.testing.assert_allclose(got["brier"], ref, rtol=1e-12)
    ce = torch.nn.functional.cross_entropy(torch.tensor(P), torch.tensor(y)).item()
    np.testing.assert_allclose(got["softmax_ce"], ce, rtol=1e-12)


def test_logp_and_proba_agree_and_batch():
    P, y = _random_proba(50, 4, seed=0)
    batch = np.stack([P, P[:, ::-1], np.full_like(P, 0.25)])  # (3, n, K)
    from_p = losses_from_proba(batch, y, list(METRICS))
    from_logp = losses_from_logp(np.log(batch), y, list(METRICS))
    for name in METRICS:
        assert from_p[name].shape == (3,)
        np.testing.assert_allclose(from_p[name], from_logp[name], rtol=1e-13)
        single = losses_from_proba(batch[1], y, name)[name]
        np.testing.assert_allclose(from_p[name][1], single, rtol=1e-13)
    np.testing.assert_allclose(from_p["log_loss"][2], np.log(4.0), rtol=1e-13)


def test_extreme_probabilities_stay_finite():
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array([1, 1])
    out = losses_from_proba(P, y, "log_loss")["log_loss"]
    # clipped to [eps, 1 - eps] like sklearn.metrics.log_loss: -log(eps) / 2 ~ 18
    np.testing.assert_allclose(out, -np.log(np.finfo(float).eps) / 2, rtol=1e-10)
    assert losses_from_proba(P, y, "error")["error"] == 0.5


def test_error_ties_go_to_lower_index():
    P = np.array([[0.5, 0.5], [0.5, 0.5]])
    assert losses_from_proba(P, np.array([0, 1]), "error")["error"] == 0.5


def test_check_metrics_normalizes():
    assert check_metrics("brier") == ("brier",)
    assert check_metrics(["log_loss", "error"]) == ("log_loss", "error")


def test_log_loss_matches_sklearn_for_extreme_probabilities():
    # e.g. a random forest or naive Bayes predicting probability 0 for the true class
    P = np.array([[1.0, 0.0], [0.3, 0.7], [1.0 - 1e-20, 1e-20]])
    y = np.array([1, 1, 1])
    got = losses_from_proba(P, y, "log_loss")["log_loss"]
    np.testing.assert_allclose(got, log_loss(y, P, labels=[0, 1]), rtol=1e-12)
