"""The contribution sampler and exact engine: exactness, distributions, the table.

D for a row of ``sample_contributions`` is re-created by ``planned_datasets`` (the same plan,
each round's D redrawn from its seed, as the chunk computation does); Deltas are then recomputed from two independent fits (scikit-learn or a fresh Newton
solve) and compared with the sampler's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.special import log_softmax
from scipy.stats import chisquare, ks_2samp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss
from sklearn.naive_bayes import GaussianNB

from scaling_kit import exact_engine
from scaling_kit.contributions import (
    delta_column,
    exact_contribution,
    planned_datasets,
    sample_contributions,
    summarize_contributions,
)
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.logistic import LogisticProblem, augment
from scaling_kit.metrics import METRICS, losses_from_proba
from scaling_kit.sampling import StratifiedSampler


def _run(learner, p, points, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("random_state", 0)
    return sample_contributions(learner, p, points, **kw)


def _replay(p, points, *, k=None, k_range=None, n_samples, random_state, share=True,
            allow_z_in_D=False):
    """{(point, k, sample): indices of D} for the datasets the sampler draws."""
    plan = planned_datasets(p, points, k=k, k_range=k_range, n_samples=n_samples,
                            share_datasets=share, allow_z_in_D=allow_z_in_D,
                            random_state=random_state)
    out = {}
    for entry in plan:
        for z, s in zip(entry["points"], entry["sample"], strict=True):
            out[(int(z), int(entry["k"]), int(s))] = entry["D"]
    return out


def _sk_metrics(model, X_train, y_train, X_test, y_test, K):
    """All four test losses of a scikit-learn model fit on (X_train, y_train)."""
    P = clone(model).fit(X_train, y_train).predict_proba(X_test)
    labels = np.arange(K)
    brier = (brier_score_loss(y_test, P, labels=labels, scale_by_half=False) if K > 2
             else 2.0 * brier_score_loss(y_test, P[:, 1]))
    return {
        "log_loss": log_loss(y_test, P, labels=labels),
        "brier": brier,
        "error": 1.0 - accuracy_score(y_test, P.argmax(axis=1)),
        "softmax_ce": torch.nn.functional.cross_entropy(torch.tensor(P),
                                                        torch.tensor(y_test)).item(),
    }


SKLEARN_LR = LogisticRegression(C=1.0, tol=1e-10, max_iter=10000)


# ------------------------------------------------------------------------------------------
# 1. exactness of the fast engine
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "k", "n_samples"),
                         [("breast_cancer", 40, 2), ("wine", 40, 2), ("digits_small", 60, 1)])
def test_sampler_matches_sklearn_refits(name, k, n_samples, request, add_outlier):
    p, outlier = add_outlier(request.getfixturevalue(name))
    points = [0, 7, outlier]
    df = _run(ExactLogisticRegression(), p, points, k=k, n_samples=n_samples,
              metric=list(METRICS), random_state=5)
    assert len(df) == 3 * n_samples
    assert list(df.columns[:4]) == ["point", "k", "sample", "delta"]
    datasets = _replay(p, points, k=k, n_samples=n_samples, random_state=5)
    before_cache = {}
    for row in df.itertuples():
        D = datasets[(row.point, row.k, row.sample)]
        assert row.point not in D
        key = tuple(D)
        if key not in before_cache:
            before_cache[key] = _sk_metrics(SKLEARN_LR, p.X_pool[D], p.y_pool[D], p.X_test,
                                            p.y_test, p.n_classes)
        Dz = np.append(D, row.point)
        after = _sk_metrics(SKLEARN_LR, p.X_pool[Dz], p.y_pool[Dz], p.X_test, p.y_test,
                            p.n_classes)
        for metric in METRICS:
            expected = before_cache[key][metric] - after[metric]
            got = getattr(row, delta_column(metric, METRICS))
            assert abs(got - expected) <= 1e-6, (metric, row)
    # one column per metric, none repeated: delta (primary) and delta_<further metric>
    assert list(df.columns) == ["point", "k", "sample", "delta", "delta_softmax_ce",
                                "delta_error", "delta_brier"]
    # the outlier is influential: its Deltas are far from zero (so the check is not vacuous)
    assert df.loc[df.point == outlier, "delta"].abs().min() > 1e-3


@pytest.mark.parametrize(("name", "k"), [("breast_cancer", 50), ("wine", 60), ("digits_small", 60)])
def test_sampler_matches_newton_refits(name, k, request, add_outlier):
    p, outlier = add_outlier(request.getfixturevalue(name), scale=40.0)
    points = [3, outlier]
    df = _run(ExactLogisticRegression(), p, points, k=k, n_samples=2, random_state=11)
    datasets = _replay(p, points, k=k, n_samples=2, random_state=11)
    refit = ExactLogisticRegression(tol=1e-13)
    for row in df.itertuples():
        D = datasets[(row.point, row.k, row.sample)]
        expected = exact_contribution(refit, p.X_pool[D], p.y_pool[D], p.X_pool[row.point],
                                      p.y_pool[row.point], p.X_test, p.y_test,
                                      n_classes=p.n_classes)
        assert abs(row.delta - expected) <= 1e-9, row


@pytest.mark.parametrize("name", ["breast_cancer", "wine", "digits_small"])
@pytest.mark.parametrize("max_iter", [60, 2])
def test_engine_candidates_are_exact_minimizers(name, max_iter, request):
    """solve_candidates vs independent Newton solves of every D + {z}, incl. outliers."""
    p = request.getfixturevalue(name)
    problem = LogisticProblem(p.X_pool.shape[1], p.n_classes, 1.0)
    rng = np.random.default_rng(0)
    D = StratifiedSampler(p.y_pool).draw(rng, 50)
    Xa = augment(p.X_pool)
    theta_D, Hinv = exact_engine.fit_dataset(problem, Xa[D], p.y_pool[D])
    # small problems: the inverse Hessian at theta_D; large ones: at the L-BFGS point near it
    # (a preconditioner, which only needs to be close)
    np.testing.assert_allclose(Hinv @ problem.hessian(Xa[D], theta_D), np.eye(problem.size),
                               atol=1e-8 if problem.size <= 200 else 1e-2)
    # candidates: pool points not in D, and far outliers labelled against theta_D's prediction
    ordinary = np.array([i for i in range(20) if i not in D][:6])
    directions = rng.standard_normal((3, p.X_pool.shape[1]))
    directions *= np.sqrt(p.X_pool.shape[1]) / np.linalg.norm(directions, axis=1, keepdims=True)
    far = augment(directions * np.array([[5.0], [25.0], [100.0]]))
    far_y = np.argmin(problem.proba(far, theta_D), axis=1)
    Xz = np.vstack([Xa[ordinary], far])
    yz = np.concatenate([p.y_pool[ordinary], far_y])
    theta, n_iter, n_fallback = exact_engine.solve_candidates(
        problem, Xa[D], p.y_pool[D], theta_D, Hinv, Xz, yz, max_iter=max_iter)
    assert theta.shape == (len(yz), problem.m, problem.d) and n_iter.shape == (len(yz),)
    if max_iter == 2:
        assert n_fallback > 0  # the Newton fallback path is exercised
    XaDz = [np.vstack([Xa[D], xz]) for xz in Xz]
    yDz = [np.append(p.y_pool[D], c) for c in yz]
    for th, X_, y_ in zip(theta, XaDz, yDz, strict=True):
        ref, info = problem.newton(X_, y_, tol=1e-13, max_iter=200)
        assert info["converged"]
        assert np.abs(th - ref).max() <= 1e-11 * (1.0 + np.abs(ref).max())
        assert np.abs(problem.gradient(X_, y_, th)).max() < 1e-8
        # and the test losses agree
        lp = exact_engine.test_log_proba(problem, augment(p.X_test), np.stack([th, ref]))
        picked = np.take_along_axis(lp, np.broadcast_to(p.y_test[:, None], lp.shape[:-1] + (1,)),
                                    axis=-1)
        ll = -picked.mean(axis=(1, 2))
        assert abs(ll[0] - ll[1]) < 1e-10
    # the outliers move the solution far from theta_D (the warm start is not the answer)
    assert np.all([np.abs(th - theta_D).max() > 1e-2 for th in theta[-3:]])


def test_engine_honours_the_learners_tolerance(wine):
    """ExactLogisticRegression(tol=...) sets the engine's stopping tolerance: a loose one
    changes the Deltas (slightly), the default one agrees with a tighter one to ~1e-12."""
    args = dict(points=[0, 1, 2], k=30, n_samples=3, random_state=4)
    tight = _run(ExactLogisticRegression(tol=1e-14), wine, **args)["delta"].to_numpy()
    default = _run(ExactLogisticRegression(), wine, **args)["delta"].to_numpy()
    loose = _run(ExactLogisticRegression(tol=1e-3), wine, **args)["delta"].to_numpy()
    assert np.abs(default - tight).max() < 1e-11
    assert 1e-11 < np.abs(loose - tight).max() < 1e-2


@pytest.mark.parametrize("scale", [1.0, 500.0])
def test_engine_gradients_match_the_objective(wine, scale):
    """The engine's batched gradients of J_{D+z} equal LogisticProblem.gradient (stable
    log-softmax) on D + {z}, including logits so large that exp overflows (scale 500: the fast
    softmax without max-shift must hand over to the shifted form)."""
    p = wine
    problem = LogisticProblem(p.X_pool.shape[1], 3, 1.0)
    Xa = augment(p.X_pool)
    rng = np.random.default_rng(5)
    D, cand = np.arange(40), np.array([50, 51, 52])
    theta = rng.standard_normal((1, cand.size, 3, Xa.shape[1])) * scale
    XaD, yD = Xa[D][None], p.y_pool[D][None]
    G, _ = exact_engine._gradients(problem, XaD, yD, theta, Xa[cand][None], p.y_pool[cand][None],
                                   exact_engine._label_term(problem, XaD, yD))
    assert np.all(np.isfinite(G))
    for c, z in enumerate(cand):
        ref = problem.gradient(Xa[np.append(D, z)], p.y_pool[np.append(D, z)], theta[0, c])
        np.testing.assert_allclose(G[0, c], ref, rtol=1e-10, atol=1e-9 * scale)


@pytest.mark.parametrize("name", ["digits_small", "breast_cancer"])
def test_single_precision_hessian(name, request):
    """The large-problem preconditioner's Hessian (single precision, upper triangle) equals
    LogisticProblem.hessian to single-precision accuracy."""
    p = request.getfixturevalue(name)
    problem = LogisticProblem(p.X_pool.shape[1], p.n_classes, 0.5)
    Xa = augment(p.X_pool[:80])
    theta = np.random.default_rng(1).standard_normal((problem.m, problem.d)) * 0.2
    H32 = exact_engine._hessian_upper32(problem, Xa, theta)
    assert H32.dtype == np.float32
    H = problem.hessian(Xa, theta)
    upper = np.triu_indices(problem.size)
    np.testing.assert_allclose(H32[upper], H[upper], rtol=1e-4, atol=1e-4 * np.abs(H).max())


@pytest.mark.parametrize("K", [2, 10])
def test_model_logits_solve_the_warm_start_problem(K):
    """The warm start's m-dimensional problem min_s 1/2 (s-s0)' JV^-1 (s-s0) + loss(s; y) is
    solved to stationarity, also for saturated, badly labelled candidates with strong
    curvature coupling (where undamped Newton steps cycle)."""
    problem = LogisticProblem(3, K, 1.0)
    m = problem.m
    rng = np.random.default_rng(0)
    n = 200
    Q = np.linalg.qr(rng.standard_normal((n, m, m)))[0]
    lam = np.exp(rng.uniform(np.log(0.1), np.log(300.0), (n, m)))
    JV = Q @ (lam[..., None] * np.swapaxes(Q, -1, -2))
    s0 = rng.normal(0.0, 15.0, (n, m))
    y = rng.integers(0, K, n)
    s = exact_engine._model_logits(problem, s0, JV, y)
    r, _ = exact_engine._residual_and_curvature(problem, s, y)
    grad = np.linalg.solve(JV, (s - s0)[..., None])[..., 0] + r
    assert np.all(np.isfinite(s))
    assert np.abs(grad).max() < 1e-8


def test_double_precision_fallback_when_single_factorization_fails(digits_small, monkeypatch):
    """If the single-precision Cholesky factorization of D's Hessian fails (not positive
    definite after rounding), the fit falls back to double precision with the same answer."""
    p = digits_small
    problem = LogisticProblem(p.X_pool.shape[1], p.n_classes, 1.0)
    Xa = augment(p.X_pool)
    D = StratifiedSampler(p.y_pool).draw(np.random.default_rng(4), 60)
    theta_ref, _ = exact_engine.fit_dataset(problem, Xa[D], p.y_pool[D])
    monkeypatch.setattr(exact_engine.lapack, "spotrf", lambda a, lower=0: (a, 1))
    theta, Hinv = exact_engine.fit_dataset(problem, Xa[D], p.y_pool[D])
    assert Hinv.dtype == np.float64
    np.testing.assert_allclose(theta, theta_ref, atol=1e-10)
    # the inverse Hessian at the L-BFGS point near theta_D (a preconditioner)
    np.testing.assert_allclose(Hinv @ problem.hessian(Xa[D], theta), np.eye(problem.size),
                               atol=5e-2)


def test_test_log_proba_matches_log_softmax(wine):
    problem = LogisticProblem(p_features := wine.X_pool.shape[1], 3, 1.0)
    Xa_test = augment(wine.X_test)
    theta = np.random.default_rng(0).standard_normal((2, 4, 3, p_features + 1)) * 3.0
    lp = exact_engine.test_log_proba(problem, Xa_test, theta)
    assert lp.shape == (2, 4, Xa_test.shape[0], 3)
    np.testing.assert_allclose(lp, log_softmax(Xa_test @ np.swapaxes(theta, -1, -2), axis=-1),
                               rtol=1e-12, atol=1e-12)


def test_ill_conditioned_problem_converges():
    """Weak regularization on unscaled features (raw digits pixels 0..16, C=100): the Hessian's
    condition number is ~5e6, so rounding noise amplified by H^-1 keeps Newton and chord steps
    above 1e-13 relative. Fits must still stop (gradient at rounding level) and the engine must
    agree with independent Newton refits to the problem's own accuracy (~cond * eps)."""
    X, y = load_digits(return_X_y=True)
    D = StratifiedSampler(y, 10).draw(np.random.default_rng(0), 300)
    problem = LogisticProblem(64, 10, 100.0)
    Xa = augment(X)
    theta_D, Hinv = exact_engine.fit_dataset(problem, Xa[D], y[D])
    assert np.abs(problem.gradient(Xa[D], y[D], theta_D)).max() <= problem.gradient_noise(Xa[D])
    cand = np.setdiff1d(np.arange(len(y)), D)[:6]
    theta, n_iter, n_fallback = exact_engine.solve_candidates(problem, Xa[D], y[D], theta_D, Hinv,
                                                              Xa[cand], y[cand])
    assert n_fallback < cand.size  # the iteration itself stops, not only the fallback
    for th, c in zip(theta, cand, strict=True):
        Dz = np.append(D, c)
        ref, info = problem.newton(Xa[Dz], y[Dz], theta_D, tol=1e-13, max_iter=200)
        assert info["converged"]
        assert np.abs(th - ref).max() <= 1e-8 * (1.0 + np.abs(ref).max())


def test_engine_batch_with_padding(wine):
    """solve_candidates_batch: several rounds, padded candidate lists, equals one-by-one."""
    p = wine
    problem = LogisticProblem(p.X_pool.shape[1], 3, 1.0)
    Xa = augment(p.X_pool)
    sampler = StratifiedSampler(p.y_pool)
    rng = np.random.default_rng(3)
    Ds = np.stack([sampler.draw(rng, 40) for _ in range(3)])
    theta_D, Hinv = exact_engine.fit_datasets(problem, Xa[Ds], p.y_pool[Ds])
    cands = [np.setdiff1d(np.arange(30), D)[:n] for D, n in zip(Ds, (5, 2, 4), strict=True)]
    cands[1] = np.append(cands[1], p.X_pool.shape[0] - 1)
    M = max(c.size for c in cands)
    cand = np.stack([np.resize(c, M) for c in cands])
    valid = np.arange(M)[None, :] < np.array([c.size for c in cands])[:, None]
    theta, _, _ = exact_engine.solve_candidates_batch(
        problem, Xa[Ds], p.y_pool[Ds], theta_D, Hinv, Xa[cand], p.y_pool[cand], valid)
    for r, D in enumerate(Ds):
        single, _ = exact_engine.fit_dataset(problem, Xa[D], p.y_pool[D])
        np.testing.assert_allclose(theta_D[r], single, atol=1e-10)
        for j, c in enumerate(cands[r]):
            Dz = np.append(D, c)
            ref, _ = problem.newton(Xa[Dz], p.y_pool[Dz], tol=1e-13, max_iter=200)
            np.testing.assert_allclose(theta[r, j], ref, atol=1e-9)


def test_engine_candidates_with_no_candidate(toy):
    problem = LogisticProblem(toy.X_pool.shape[1], 2, 1.0)
    Xa = augment(toy.X_pool)
    theta_D, Hinv = exact_engine.fit_dataset(problem, Xa, toy.y_pool)
    theta, n_iter, n_fb = exact_engine.solve_candidates(problem, Xa, toy.y_pool, theta_D, Hinv,
                                                        Xa[:0], toy.y_pool[:0])
    assert theta.shape == (0, 1, Xa.shape[1]) and n_fb == 0


def test_exact_contribution_matches_sklearn(wine):
    D = np.arange(60)
    expected = {}
    before = _sk_metrics(SKLEARN_LR, wine.X_pool[D], wine.y_pool[D], wine.X_test, wine.y_test, 3)
    after = _sk_metrics(SKLEARN_LR, wine.X_pool[:61], wine.y_pool[:61], wine.X_test,
                        wine.y_test, 3)
    expected = {m: before[m] - after[m] for m in METRICS}
    got = exact_contribution(ExactLogisticRegression(), wine.X_pool[D], wine.y_pool[D],
                             wine.X_pool[60], wine.y_pool[60], wine.X_test, wine.y_test,
                             metric=list(METRICS))
    assert set(got) == set(METRICS)
    for m in METRICS:
        assert abs(got[m] - expected[m]) <= 1e-6
    single = exact_contribution(ExactLogisticRegression(), wine.X_pool[D], wine.y_pool[D],
                                wine.X_pool[60], wine.y_pool[60], wine.X_test, wine.y_test)
    assert single == pytest.approx(got["log_loss"], abs=1e-12)
    # the generic path with the same sklearn model is the same computation
    generic = exact_contribution(SKLEARN_LR, wine.X_pool[D], wine.y_pool[D], wine.X_pool[60],
                                 wine.y_pool[60], wine.X_test, wine.y_test)
    assert abs(generic - expected["log_loss"]) <= 1e-12


# ------------------------------------------------------------------------------------------
# 2. generic adapter (any scikit-learn classifier)
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model", [GaussianNB(), LogisticRegression(C=0.5), RandomForestClassifier(5, random_state=0)],
    ids=["nb", "lr", "rf"],
)
@pytest.mark.parametrize("share", [True, False])
def test_generic_adapter_equals_direct_fits(model, share, toy3):
    p = toy3
    points = [0, 4, 9]
    df = _run(model, p, points, k=[15, 30], n_samples=2, share_datasets=share,
              metric=["log_loss", "brier"], random_state=2)
    assert len(df) == 12
    datasets = _replay(p, points, k=[15, 30], n_samples=2, random_state=2, share=share)
    for row in df.itertuples():
        D = datasets[(row.point, row.k, row.sample)]
        assert row.point not in D
        Dz = np.append(D, row.point)
        # the metric itself is tested in test_metrics.py; here: same D, same fits
        P_before = clone(model).fit(p.X_pool[D], p.y_pool[D]).predict_proba(p.X_test)
        P_after = clone(model).fit(p.X_pool[Dz], p.y_pool[Dz]).predict_proba(p.X_test)
        before = losses_from_proba(P_before, p.y_test, ["log_loss", "brier"])
        after = losses_from_proba(P_after, p.y_test, ["log_loss", "brier"])
        assert abs(row.delta - (before["log_loss"] - after["log_loss"])) <= 1e-12
        assert abs(row.delta_brier - (before["brier"] - after["brier"])) <= 1e-12
        brier = 2 * brier_score_loss(p.y_test == 0, P_before[:, 0])  # an sklearn reference
        assert brier <= 2 * before["brier"] + 1e-12


def test_generic_adapter_seeds_random_estimators(toy):
    model = RandomForestClassifier(n_estimators=5)  # random_state=None
    a = _run(model, toy, [0, 1], k=20, n_samples=2, random_state=0)
    b = _run(model, toy, [0, 1], k=20, n_samples=2, random_state=0)
    pd.testing.assert_frame_equal(a, b)


# ------------------------------------------------------------------------------------------
# 3. shared datasets give the per-point distribution
# ------------------------------------------------------------------------------------------
def test_shared_datasets_same_distribution_as_per_point_draws(make_problem, add_outlier):
    p, outlier = add_outlier(make_problem(n_pool=40, n_features=3, noise=1.5), scale=3.0)
    points = [1, outlier]
    kw = dict(k=30, n_samples=250)  # z is in a random D of size 30 (of 41) with prob. ~3/4
    shared = _run(ExactLogisticRegression(), p, points, random_state=1, **kw)
    per_point = _run(ExactLogisticRegression(), p, points, share_datasets=False,
                     random_state=2, **kw)
    z_in_pool = _run(ExactLogisticRegression(), p, points, share_datasets=False,
                     allow_z_in_D=True, random_state=3, **kw)
    for z in points:
        a = shared.loc[shared.point == z, "delta"]
        b = per_point.loc[per_point.point == z, "delta"]
        c = z_in_pool.loc[z_in_pool.point == z, "delta"]
        assert len(a) == len(b) == len(c) == 250
        # same distribution: not rejected at level 1e-3 (fixed seeds: deterministic)
        assert ks_2samp(a, b).pvalue > 1e-3
        # the biased scheme (D may contain z) is rejected overwhelmingly: the test has power
        assert ks_2samp(a, c).pvalue < 1e-6


def test_points_never_in_their_dataset_fixed_k(toy3):
    """A recording learner sees every D + {z}: z appears exactly once (at the end)."""
    for share in (True, False):
        learner = _RecordingLearner()
        _run(learner, toy3, [0, 1, 2, 3], k=[20, 40], n_samples=5, share_datasets=share)
        assert learner.n_after > 0 and learner.duplicates == 0
    learner = _RecordingLearner()
    _run(learner, toy3, [0, 1, 2, 3], k=40, n_samples=5, allow_z_in_D=True)
    assert learner.duplicates > 0  # the reference code's quirk really puts z in D


# ------------------------------------------------------------------------------------------
# 4. k_range: k uniform on the range for every point
# ------------------------------------------------------------------------------------------
class _RecordingLearner:
    """Predicts smoothed training class frequencies; counts fits in which z is duplicated.

    The sampler's fit on D + {z} passes z as the last training row; if D already holds z,
    that row occurs twice.
    """

    def __init__(self):
        self.n_after = 0
        self.duplicates = 0
        self._last_size = None

    def fit_predict_proba(self, X, y, X_eval, n_classes, random_state=None):
        if self._last_size is not None and X.shape[0] == self._last_size + 1:
            self.n_after += 1
            self.duplicates += int(np.sum(np.all(X == X[-1], axis=1)) > 1)
        else:
            self._last_size = X.shape[0]
        freq = (np.bincount(y, minlength=n_classes) + 1.0) / (y.size + n_classes)
        return np.tile(freq, (np.asarray(X_eval).shape[0], 1))


K_RANGE = (4, 30)


def test_k_range_uniform_per_point(toy):
    df = _run(_RecordingLearner(), toy, [0, 1, 2], k_range=K_RANGE, n_samples=300,
              random_state=4)
    ks = np.arange(K_RANGE[0], K_RANGE[1] + 1)
    for _, g in df.groupby("point"):
        assert len(g) == 300 and sorted(g["sample"]) == list(range(300))
        counts = np.array([(g["k"] == k).sum() for k in ks])
        assert counts.sum() == 300
        assert chisquare(counts).pvalue > 1e-3


def test_k_range_naive_scheme_would_fail_the_test(toy):
    """Keeping every round with z not in D biases k downwards: the chi-square test sees it."""
    sampler = StratifiedSampler(toy.y_pool)
    rng = np.random.default_rng(0)
    ks = np.arange(K_RANGE[0], K_RANGE[1] + 1)
    kept = []
    while len(kept) < 300:
        k = int(rng.integers(K_RANGE[0], K_RANGE[1] + 1))
        if 0 not in sampler.draw(rng, k):
            kept.append(k)
    counts = np.array([kept.count(k) for k in ks])
    assert chisquare(counts).pvalue < 1e-6


def test_k_range_points_never_in_their_dataset(toy):
    # regression: the computed D must be the planned D (z was found in D when computing
    # re-derived D from a stream advanced differently from the planning one)
    learner = _RecordingLearner()
    _run(learner, toy, [0, 1, 2], k_range=K_RANGE, n_samples=40, random_state=4)
    assert learner.n_after == 120
    assert learner.duplicates == 0


def test_k_range_per_point_draws(toy):
    learner = _RecordingLearner()
    df = _run(learner, toy, [0, 1], k_range=K_RANGE, n_samples=150, share_datasets=False,
              random_state=6)
    assert learner.duplicates == 0 and learner.n_after == 300
    for _, g in df.groupby("point"):
        counts = np.bincount(g["k"] - K_RANGE[0], minlength=K_RANGE[1] - K_RANGE[0] + 1)
        assert chisquare(counts).pvalue > 1e-3


# ------------------------------------------------------------------------------------------
# 5. the table and its summaries
# ------------------------------------------------------------------------------------------
def test_table_is_compact_sorted_and_unique(toy3):
    df = _run(ExactLogisticRegression(), toy3, [0, 1, 2, 5, 8], k=[10, 25], n_samples=4,
              chunk_size=5, metric=["log_loss", "error"], random_state=7)
    assert len(df) == 5 * 2 * 4
    assert list(df.columns) == ["point", "k", "sample", "delta", "delta_error"]
    # the smallest signed integer types: pool of 45, 4 samples -> int8; k at least int32, whose
    # log numpy computes in float64 (int8 -> float16, int16 -> float32)
    assert [df[c].dtype for c in ("point", "k", "sample")] == [np.int8, np.int32, np.int8]
    assert np.log(df["k"]).dtype == np.log(df["k"].to_numpy()).dtype == np.float64
    assert df["delta"].dtype == df["delta_error"].dtype == np.float64
    assert not df.duplicated(["point", "k", "sample"]).any()
    assert df.equals(df.sort_values(["point", "k", "sample"]).reset_index(drop=True))
    assert df.attrs["metrics"] == ["log_loss", "error"] and df.attrs["n_classes"] == 3
    other = _run(ExactLogisticRegression(), toy3, [0, 1, 2, 5, 8], k=[10, 25], n_samples=4,
                 chunk_size=5, metric=["log_loss", "error"], random_state=8)
    assert not np.array_equal(df["delta"].to_numpy(), other["delta"].to_numpy())


def test_compact_types_grow_with_the_values():
    from scaling_kit.contributions.table import compact_int_dtype

    assert compact_int_dtype(127) == np.int8 and compact_int_dtype(128) == np.int16
    assert compact_int_dtype(32767) == np.int16 and compact_int_dtype(130_064) == np.int32
    assert compact_int_dtype(2**31) == np.int64
    assert compact_int_dtype(10, at_least=np.int32) == np.int32


def test_delta_column():
    assert delta_column("log_loss", ["log_loss", "error"]) == "delta"
    assert delta_column("error", ["log_loss", "error"]) == "delta_error"
    assert delta_column("error", ["error"]) == "delta"
    with pytest.raises(ValueError, match="metric 'brier' was not sampled"):
        delta_column("brier", ["log_loss", "error"])


def test_summarize_contributions(toy):
    df = _run(ExactLogisticRegression(), toy, [0, 1], k=[10, 20], n_samples=5)
    summary = summarize_contributions(df)
    assert len(summary) == 4
    g = df[(df.point == 1) & (df.k == 20)]["delta"]
    row = summary.loc[(1, 20)]
    assert row["mean"] == pytest.approx(g.mean()) and row["std"] == pytest.approx(g.std(ddof=1))
    assert row["count"] == 5 and row["sem"] == pytest.approx(g.std(ddof=1) / np.sqrt(5))
    with pytest.raises(ValueError, match="delta_brier"):
        summarize_contributions(df, delta_col="delta_brier")
