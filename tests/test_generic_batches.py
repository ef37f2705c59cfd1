"""The generic (non-exact) path batches rounds of equal k: one learner call for their D's and
one for their D + {z}'s, each network with its round's seed.

A probe learner records every call and computes each network's probabilities from its own
data and seed alone, so the batched result must equal fitting every D and D + {z} one by one
with the round's seed (scaling_kit.contributions.plan.learner_seed). The batched MLP trains the
same networks with other matrix kernels: equal up to rounding (tests/test_mlp.py bounds the
probabilities to 1e-12; a log loss difference is then below 1e-12 / min p, and min p > 1e-2 on
these blobs: 1e-10).
"""

from __future__ import annotations

import numpy as np
import pytest

from scaling_kit.contributions import compute, sample_contributions
from scaling_kit.contributions.plan import draw_dataset, learner_seed
from scaling_kit.contributions.run import prepare_run
from scaling_kit.metrics import losses_from_proba
from scaling_kit.mlp import BatchedMLPClassifier


class ProbeLearner:
    """Probabilities from the class frequencies of the training set, tilted by the seed and
    the training features; records the batch size and seeds of each call."""

    cache_key = "probe"

    def __init__(self):
        self.calls = []

    def fit_predict_proba_batch(self, Xs, ys, X_eval, n_classes, random_state=None):
        seeds = np.broadcast_to(np.asarray(random_state, dtype=np.int64), (Xs.shape[0],))
        self.calls.append((Xs.shape[0], Xs.shape[1], seeds.copy()))
        return np.stack([self._one(X, y, X_eval, n_classes, s) for X, y, s in zip(Xs, ys, seeds)])

    @staticmethod
    def _one(X, y, X_eval, n_classes, seed):
        counts = np.bincount(y, minlength=n_classes) + 1.0
        tilt = np.random.default_rng(int(seed)).normal(size=n_classes)
        logits = np.log(counts)[None, :] + 0.1 * tilt + 0.01 * X.mean() * X_eval[:, :1]
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)


def _one_by_one(learner_fit, run):
    """Deltas from fitting every D and D + {z} separately with the round's seed."""
    p = run.problem
    out = {}
    for rnd in run.rounds:
        D = draw_dataset(run.sampler, run.seq, rnd)
        seed = learner_seed(run.seq, rnd.key)
        before = losses_from_proba(learner_fit(p.X_pool[D], p.y_pool[D], seed)[None],
                                   p.y_test, ["log_loss"])["log_loss"][0]
        for z, s in zip(rnd.points, rnd.sample_ids):
            Dz = np.append(D, z)
            after = losses_from_proba(learner_fit(p.X_pool[Dz], p.y_pool[Dz], seed)[None],
                                      p.y_test, ["log_loss"])["log_loss"][0]
            out[(int(z), rnd.k, int(s))] = before - after
    return out


@pytest.mark.parametrize("share", [True, False])
def test_batched_rounds_equal_fits_one_by_one(toy3, share):
    probe = ProbeLearner()
    kw = dict(k=[12, 24], n_samples=3, share_datasets=share, random_state=5, chunk_size=40)
    table = sample_contributions(probe, toy3, [0, 3, 8, 20], progress=False, **kw)
    run = prepare_run(probe, toy3, [0, 3, 8, 20], **kw)
    expected = _one_by_one(lambda X, y, s: ProbeLearner._one(X, y, toy3.X_test, 3, s), run)
    got = {(r.point, r.k, r.sample): r.delta for r in table.itertuples()}
    assert got.keys() == expected.keys()
    np.testing.assert_allclose([got[key] for key in expected], list(expected.values()),
                               rtol=0, atol=1e-12)  # same arithmetic per network
    # one call for the D's and one for the D + {z}'s per run of equal k in a chunk
    sizes = [(B, n) for B, n, _ in probe.calls]
    for chunk in run.chunks:
        for k in sorted({rnd.k for rnd in chunk}):
            rounds = [rnd for rnd in chunk if rnd.k == k]
            assert (len(rounds), k) in sizes
            assert (sum(rnd.points.size for rnd in rounds), k + 1) in sizes
    assert len(probe.calls) == 2 * sum(len({rnd.k for rnd in c}) for c in run.chunks)


def test_element_budget_splits_calls(toy3, monkeypatch):
    monkeypatch.setattr(compute, "GENERIC_BATCH_ELEMENTS", 2 * 25 * 3)  # two D + {z} of k=24
    probe = ProbeLearner()
    sample_contributions(probe, toy3, [0, 3, 8, 20], k=24, n_samples=2, share_datasets=False,
                         random_state=5, chunk_size=100, progress=False)
    dz_calls = [B for B, n, _ in probe.calls if n == 25]
    assert dz_calls == [2, 2, 2, 2]  # 8 rounds of one point, two per call


def test_batched_mlp_rounds_equal_single_network_fits(toy3):
    mlp = BatchedMLPClassifier(hidden=5, n_epochs=12, lr=0.05)
    kw = dict(k=[15, 25], n_samples=2, random_state=3, chunk_size=12)
    table = sample_contributions(mlp, toy3, [1, 4, 9], progress=False, **kw)
    run = prepare_run(mlp, toy3, [1, 4, 9], **kw)
    expected = _one_by_one(lambda X, y, s: mlp.fit_predict_proba(X, y, toy3.X_test, 3,
                                                                 random_state=s), run)
    got = {(r.point, r.k, r.sample): r.delta for r in table.itertuples()}
    np.testing.assert_allclose([got[key] for key in expected], list(expected.values()),
                               rtol=0, atol=1e-10)
