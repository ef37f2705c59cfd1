"""The exact contribution engine's guard: every answer verified, or an independent fallback, or a
clear error; the reliability findings reproduced; the exact standardized coordinates.

Tolerances. The engine and the references (:func:`exact_contribution`, Newton refits) each solve
to ~1e-12 relative in the parameters; parameters of size <= 30 (weakly regularized separable
data) move a test log loss by at most ~|grad of the test loss| * 30e-12 ~ 1e-10. Where the
reliability report fixed a bound for a finding (1e-6 for the badly scaled feature) we use it;
elsewhere 1e-9, the engine's documented exactness against Newton refits.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import make_toy

from scaling_kit import engine
from scaling_kit.contributions import exact_contribution, planned_datasets, sample_contributions
from scaling_kit.engine import candidates as engine_candidates
from scaling_kit.engine import datasets as engine_datasets
from scaling_kit.exceptions import ConvergenceError, IllConditionedWarning
from scaling_kit.learners import ExactLogisticRegression
from scaling_kit.logistic import (
    LogisticProblem,
    augment,
    from_standard_params,
    standardization,
    to_standard_features,
)
from scaling_kit.metrics import losses_from_logp
from scaling_kit.sampling import StratifiedSampler


def _separable(scale=1.0, seed=0, constant=False, n_pool=40):
    """A toy problem whose labels are a linear function's sign (separable), feature 0 scaled."""
    p = make_toy(n_pool=n_pool, seed=seed)
    w = np.random.default_rng(seed).standard_normal(p.X_pool.shape[1])
    y_pool = (p.X_pool @ w > 0).astype(np.int64)
    y_test = (p.X_test @ w > 0).astype(np.int64)
    X_pool, X_test = p.X_pool.copy(), p.X_test.copy()
    X_pool[:, 0] *= scale
    X_test[:, 0] *= scale
    if constant:
        X_pool[:, 1] = 3.0
        X_test[:, 1] = 3.0
    return X_pool, y_pool, X_test, y_test


def _worst_vs_exact_contribution(C, data, *, k=20, n_samples=3, points=range(10)):
    """Largest |Delta engine - Delta exact_contribution| over a sample_contributions run."""
    X_pool, y_pool, X_test, y_test = data
    points = np.asarray(list(points))
    df = sample_contributions(ExactLogisticRegression(C=C), (X_pool, y_pool, X_test, y_test),
                              points, k=k, n_samples=n_samples, random_state=0, progress=False)
    ours = df.set_index(["point", "k", "sample"])["delta"]
    reference = ExactLogisticRegression(C=C, tol=1e-13)
    worst = 0.0
    for entry in planned_datasets((X_pool, y_pool, X_test, y_test), points, k=k, n_samples=n_samples, random_state=0):
        D = entry["D"]
        for z, s in zip(entry["points"], entry["sample"], strict=True):
            expected = exact_contribution(reference, X_pool[D], y_pool[D], X_pool[z], y_pool[z],
                                          X_test, y_test, n_classes=2)
            worst = max(worst, abs(ours.loc[(z, k, s)] - expected))
    return worst


# ------------------------------------------------------------------------------------------
# the reliability findings
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e8, 1e6, 1e4])
def test_badly_scaled_separable_feature_matches_exact_contribution(scale):
    """Separable labels, one feature scaled by 1e8 and C = 1e6: the old engine returned Delta =
    -1e22-scale numbers (its rounding-level rule accepted unconverged candidates); scaled by
    1e6 or 1e4 it raised a raw LinAlgError. Now every Delta agrees with two independent Newton
    fits (bound 1e-6 from the report; measured ~1e-12)."""
    assert _worst_vs_exact_contribution(1e6, _separable(scale)) <= 1e-6


@pytest.mark.parametrize(("C", "constant"), [(1e12, False), (1e9, True)])
def test_weak_regularization_on_separable_data_works(C, constant):
    """Separable data with C = 1e12, or a constant feature with C = 1e9: the old chord finish
    failed with numpy's "Singular matrix". Now the engine's Deltas agree with exact_contribution
    (parameters of size ~30 at probabilities ~1e-12: see the module docstring, 1e-9)."""
    assert _worst_vs_exact_contribution(C, _separable(constant=constant)) <= 1e-9


def _wine_round(wine, k=40, n_cand=8, seed=3):
    problem = LogisticProblem(wine.X_pool.shape[1], 3, 1.0)
    Xa = augment(wine.X_pool)
    D = StratifiedSampler(wine.y_pool).draw(np.random.default_rng(seed), k)
    cand = np.setdiff1d(np.arange(len(wine.y_pool)), D)[:n_cand]
    theta_D, Hinv = engine.fit_dataset(problem, Xa[D], wine.y_pool[D])
    refs = np.stack([problem.newton(Xa[np.append(D, c)], wine.y_pool[np.append(D, c)],
                                    tol=1e-13)[0] for c in cand])
    return problem, Xa, D, cand, theta_D, Hinv, refs


@pytest.mark.parametrize("broken", ["tiny steps", "zero steps", "nan steps"])
def test_a_broken_iteration_falls_back_to_newton(wine, monkeypatch, broken):
    """The guard at work: with the chord steps sabotaged (a preconditioner that lost its scale,
    one that returns nothing, one that returns NaN) no wrong answer gets through: the candidates
    are handed to the independent Newton solve and are exact minimizers (1e-10 relative:
    two solves to ~1e-13)."""
    problem, Xa, D, cand, theta_D, Hinv, refs = _wine_round(wine)
    real = engine_candidates._chord_steps

    def sabotaged(*args):
        f = real(*args)
        if broken == "tiny steps":
            return f * np.float32(1e-3)
        if broken == "zero steps":
            return np.zeros_like(f)
        return np.full_like(f, np.nan)

    monkeypatch.setattr(engine_candidates, "_chord_steps", sabotaged)
    theta, n_iter, n_fallback = engine.solve_candidates(problem, Xa[D], wine.y_pool[D], theta_D,
                                                        Hinv, Xa[cand], wine.y_pool[cand])
    assert n_fallback == cand.size
    scale = 1.0 + np.abs(refs).max(axis=(1, 2))
    assert np.all(np.abs(theta - refs).max(axis=(1, 2)) <= 1e-10 * scale)


def test_the_iteration_itself_is_exact_without_sabotage(wine):
    """The same round without sabotage: no fallback, the same minimizers (1e-11 relative)."""
    problem, Xa, D, cand, theta_D, Hinv, refs = _wine_round(wine)
    theta, _, n_fallback = engine.solve_candidates(problem, Xa[D], wine.y_pool[D], theta_D, Hinv,
                                                   Xa[cand], wine.y_pool[cand])
    assert n_fallback == 0
    scale = 1.0 + np.abs(refs).max(axis=(1, 2))
    assert np.all(np.abs(theta - refs).max(axis=(1, 2)) <= 1e-11 * scale)


def test_a_broken_factorization_of_D_falls_back_to_newton(digits_small, monkeypatch):
    """D's chord finish with a factorization that lost its scale (steps 1000x too small, which
    the step-size test alone would accept) falls back to Newton: theta_D is still exact."""
    p = digits_small
    problem = LogisticProblem(p.X_pool.shape[1], p.n_classes, 1.0)
    Xa = augment(p.X_pool)
    D = StratifiedSampler(p.y_pool).draw(np.random.default_rng(4), 60)
    reference, _ = problem.newton(Xa[D], p.y_pool[D], tol=1e-13)
    real = engine_datasets._single_precision_factor

    def scaled(*args):
        return real(*args) * np.float32(np.sqrt(1e3))  # factor of 1000 H

    monkeypatch.setattr(engine_datasets, "_single_precision_factor", scaled)
    theta, _ = engine.fit_dataset(problem, Xa[D], p.y_pool[D])
    assert np.abs(theta - reference).max() <= 1e-10 * (1.0 + np.abs(reference).max())


def test_unverifiable_fit_raises_a_clear_error(wine, monkeypatch):
    """A fit that cannot be verified within max_iter raises ConvergenceError naming the dataset
    (D, or the point, k and sample of D + {z}) and the remedy: never a silent number, never a
    raw LinAlgError."""
    args = (wine, [0, 1])
    kwargs = dict(k=30, n_samples=1, random_state=0, progress=False)
    with pytest.raises(ConvergenceError, match=r"fit of D \(k=30\).*smaller C"):
        sample_contributions(ExactLogisticRegression(max_iter=1), *args, **kwargs)
    # D fits fine; every candidate's iteration is broken and its fallback gets 1 iteration
    real = engine_candidates.newton_fallback
    monkeypatch.setattr(engine_candidates, "_chord_steps",
                        lambda G, *rest: np.full(G.shape, np.nan, dtype=np.float32))
    monkeypatch.setattr(engine_candidates, "newton_fallback",
                        lambda *a, **kw: real(*a, **{**kw, "max_iter": 1}))
    with pytest.raises(ConvergenceError, match=r"point \d+, k=30, sample 0.*smaller C"):
        sample_contributions(ExactLogisticRegression(), *args, **kwargs)


def test_max_iter_bounds_the_shared_iteration_and_the_fallback(wine, monkeypatch):
    """ExactLogisticRegression.max_iter reaches the engine: the shared chord/Anderson steps stop
    at max_iter and the fallback's Newton gets max_iter iterations."""
    problem, Xa, D, cand, theta_D, Hinv, refs = _wine_round(wine)
    seen = []
    real = LogisticProblem.solve_batch

    def spy(self, *args, **kwargs):
        seen.append(kwargs["max_iter"])
        return real(self, *args, **kwargs)

    monkeypatch.setattr(LogisticProblem, "solve_batch", spy)
    theta, n_iter, n_fallback = engine.solve_candidates(
        problem, Xa[D], wine.y_pool[D], theta_D, Hinv, Xa[cand], wine.y_pool[cand],
        max_iter=2, fallback_max_iter=12)
    assert n_iter.max() <= 2 and n_fallback > 0 and seen == [12]
    scale = 1.0 + np.abs(refs).max(axis=(1, 2))
    assert np.all(np.abs(theta - refs).max(axis=(1, 2)) <= 1e-10 * scale)
    # the learner's max_iter also caps the shared steps; 2 Newton steps cannot verify: an error
    with pytest.raises(ConvergenceError, match="at most 2 iterations"):
        engine.solve_candidates(problem, Xa[D], wine.y_pool[D], theta_D, Hinv, Xa[cand],
                                wine.y_pool[cand], fallback_max_iter=2)
    # through the sampler: the learner's max_iter is what the engine receives
    seen.clear()
    sample_contributions(ExactLogisticRegression(max_iter=25), wine, [0, 1, 2], k=30, n_samples=1, random_state=0,
                         progress=False)
    assert seen and set(seen) == {25}  # the D fits (Newton) and any fallback


def _near_collinear(eps, seed=1):
    p = make_toy(n_pool=60, seed=seed, n_features=3)
    rng = np.random.default_rng(seed)
    X_pool = np.column_stack([p.X_pool, p.X_pool[:, 0] + eps * rng.standard_normal(60)])
    X_test = np.column_stack([p.X_test, p.X_test[:, 0] + eps * rng.standard_normal(len(p.X_test))])
    return X_pool, p.y_pool, X_test, p.y_test


def test_ill_conditioning_warns_or_raises():
    """Near-duplicate features with weak regularization: no solver reaches tol in double
    precision. Mildly (features 1e-7 apart, C = 1e8): the answers are returned with one IllConditionedWarning that
    states their accuracy and the remedy; beyond the accuracy limit: ConvergenceError."""
    X_pool, y_pool, X_test, y_test = _near_collinear(1e-7)
    with pytest.warns(IllConditionedWarning, match="accurate to about .* smaller C"):
        sample_contributions(ExactLogisticRegression(C=1e8), (X_pool, y_pool, X_test, y_test),
                             np.arange(6), k=30, n_samples=2, random_state=0, progress=False)
    X_pool, y_pool, X_test, y_test = _near_collinear(1e-9)
    with pytest.raises(ConvergenceError, match="accuracy .* above the limit"):
        sample_contributions(ExactLogisticRegression(C=1e12), (X_pool, y_pool, X_test, y_test),
                             np.arange(6), k=30, n_samples=2, random_state=0, progress=False)


def test_well_conditioned_runs_do_not_warn(breast_cancer):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sample_contributions(ExactLogisticRegression(), breast_cancer, [0, 1, 2], k=40, n_samples=2, random_state=0, progress=False)


# ------------------------------------------------------------------------------------------
# exact pieces
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["breast_cancer", "wine"])
def test_standardized_coordinates_give_the_same_minimizer(name, request):
    """Solving with x~ = (x - mu) / s and penalty w~^2 / (2 C s^2) and mapping back
    (w = w~ / s, b = b~ - w . mu) gives the original problem's minimizer: the gradient of the
    original objective vanishes there (to its rounding level) and it equals a raw-coordinate
    Newton solve (1e-10 relative)."""
    p = request.getfixturevalue(name)
    X = p.X_pool * np.linspace(0.5, 40.0, p.X_pool.shape[1]) + 3.0  # scales and offsets
    Xa = augment(X)
    problem = LogisticProblem(X.shape[1], p.n_classes, 0.7)
    shift, scale = standardization(Xa)
    standard = problem.rescaled(scale)
    theta_s, info = standard.newton(to_standard_features(Xa, shift, scale), p.y_pool,
                                    tol=1e-13, standardize=False)
    theta = from_standard_params(theta_s, shift, scale)
    raw, _ = problem.newton(Xa, p.y_pool, tol=1e-13, standardize=False)
    assert info["converged"]
    np.testing.assert_allclose(theta, raw, rtol=0, atol=1e-10 * (1.0 + np.abs(raw).max()))
    R = problem.residual(Xa, p.y_pool, theta)
    assert np.all(np.abs(problem.gradient(Xa, p.y_pool, theta))
                  <= 10 * problem.rounding_level(Xa, R, theta) + 1e-10)


def test_residual_and_loss_keep_relative_precision_when_saturated():
    """p - y for a confidently right point is -sigmoid(-z) = -exp(-40) (relative precision,
    not 0 after cancellation); its loss softplus(-40) likewise; multinomial: the true class's
    residual is minus the others' probabilities."""
    binary = LogisticProblem(1, 2, 1.0)
    Xa = np.array([[40.0, 0.0]])
    theta = np.array([[1.0, 0.0]])
    r = binary.residual(Xa, np.array([1]), theta)[0, 0]
    assert r == pytest.approx(-np.exp(-40.0), rel=1e-14)
    assert binary.loss_sum(Xa, np.array([1]), theta) == pytest.approx(np.exp(-40.0), rel=1e-14)
    multi = LogisticProblem(1, 3, 1.0)
    theta3 = np.array([[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]])
    R = multi.residual(Xa, np.array([0]), theta3)[0]
    others = np.exp(-40.0) + np.exp(-80.0)
    assert R[0] == pytest.approx(-others / (1 + others), rel=1e-13)


@pytest.mark.parametrize("name", ["breast_cancer", "wine"])
def test_test_losses_match_log_probabilities(name, request):
    """The direct log loss equals the one from all class log-probabilities (1e-13), also for
    logits so large that exp overflows (the stable path)."""
    p = request.getfixturevalue(name)
    problem = LogisticProblem(p.X_pool.shape[1], p.n_classes, 1.0)
    Xa_test = augment(p.X_test)
    rng = np.random.default_rng(0)
    for scale in (0.3, 300.0):
        theta = rng.standard_normal((2, 3, problem.m, problem.d)) * scale
        direct = engine.test_losses(problem, Xa_test, p.y_test, theta, ["log_loss", "error"])
        via = losses_from_logp(engine.test_log_proba(problem, Xa_test, theta), p.y_test,
                               ["log_loss", "error"])
        assert direct["log_loss"].shape == (2, 3)
        np.testing.assert_allclose(direct["log_loss"], via["log_loss"], rtol=1e-13)
        np.testing.assert_array_equal(direct["error"], via["error"])


def test_standardized_problem_gives_the_same_contributions(wine):
    """sample_contributions works in standardized coordinates: its Deltas equal Newton refits
    in the raw coordinates of features with wildly different scales and offsets (1e-9)."""
    X_pool = wine.X_pool * np.logspace(-3, 4, wine.X_pool.shape[1]) + 50.0
    X_test = wine.X_test * np.logspace(-3, 4, wine.X_pool.shape[1]) + 50.0
    df = sample_contributions(ExactLogisticRegression(), (X_pool, wine.y_pool, X_test, wine.y_test),
                              [0, 5], k=40, n_samples=2, random_state=2, progress=False)
    ours = df.set_index(["point", "k", "sample"])["delta"]
    for entry in planned_datasets((X_pool, wine.y_pool, X_test, wine.y_test), [0, 5], k=40, n_samples=2, random_state=2):
        D = entry["D"]
        for z, s in zip(entry["points"], entry["sample"], strict=True):
            expected = exact_contribution(ExactLogisticRegression(tol=1e-13), X_pool[D],
                                          wine.y_pool[D], X_pool[z], wine.y_pool[z], X_test,
                                          wine.y_test, n_classes=3)
            assert abs(ours.loc[(z, 40, s)] - expected) <= 1e-9


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_lean_lbfgs_objective_matches_the_problem(n_classes):
    """The engine's L-BFGS callback equals LogisticProblem.objective_and_gradient (1e-12
    relative: the same sums in another order)."""
    rng = np.random.default_rng(n_classes)
    problem = LogisticProblem(5, n_classes, 0.7, feature_scale=rng.uniform(0.5, 2.0, 5))
    Xa = augment(rng.standard_normal((60, 5)))
    y = np.arange(60) % n_classes
    theta = rng.standard_normal((problem.m, problem.d))
    value, grad = problem.objective_and_gradient(Xa, y, theta)
    lean_value, lean_grad = engine_datasets._objective_and_gradient(problem, Xa, y)(theta.ravel())
    assert lean_value == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(lean_grad, grad, rtol=1e-12, atol=1e-12)


def test_rounding_level_separates_converged_from_unconverged(wine):
    """At a Newton solution every gradient entry is below its rounding level (the level is an
    upper bound of the floating-point error); one step away it is far above."""
    problem = LogisticProblem(wine.X_pool.shape[1], 3, 1.0)
    Xa = augment(wine.X_pool)
    theta, info = problem.newton(Xa, wine.y_pool, tol=1e-14)
    level = problem.rounding_level(Xa, problem.residual(Xa, wine.y_pool, theta), theta)
    assert np.all(np.abs(problem.gradient(Xa, wine.y_pool, theta)) <= level)
    moved = theta + 1e-6
    level = problem.rounding_level(Xa, problem.residual(Xa, wine.y_pool, moved), moved)
    assert np.abs(problem.gradient(Xa, wine.y_pool, moved)).max() > 1e3 * level.max()


def test_anderson_accelerates_a_linear_fixed_point_iteration():
    """On T(x) = A x + b with A's spectral radius 0.9, Anderson (memory 5) reaches 1e-10 in far
    fewer steps than the plain iteration (which needs ~220: 0.9^220 ~ 1e-10); a non-finite mix
    falls back to T(x)."""
    from scaling_kit.engine.anderson import Anderson

    rng = np.random.default_rng(0)
    Q = np.linalg.qr(rng.standard_normal((20, 20)))[0]
    A = Q @ np.diag(np.linspace(-0.9, 0.9, 20)) @ Q.T
    b = rng.standard_normal(20)
    fixed = np.linalg.solve(np.eye(20) - A, b)
    acc, x, steps = Anderson((1, 20), memory=5), np.zeros((1, 20)), 0
    while np.abs(x - fixed).max() >= 1e-10 and steps < 200:
        x, _ = acc.mix(x, (A @ x[0] + b - x[0])[None])
        steps += 1
    assert steps < 100
    x_new, image = Anderson((1, 3), 2).mix(np.zeros((1, 3)), np.full((1, 3), np.nan))
    assert np.array_equal(np.isnan(x_new), np.isnan(image))


def test_cold_batch_of_datasets_matches_individual_fits(breast_cancer):
    """fit_datasets on a cold batch (its first fit starts the others) gives each D's own
    minimizer and H_D^{-1} (1e-10)."""
    p = breast_cancer
    problem = LogisticProblem(p.X_pool.shape[1], 2, 1.0)
    Xa = augment(p.X_pool)
    sampler = StratifiedSampler(p.y_pool)
    rng = np.random.default_rng(1)
    Ds = np.stack([sampler.draw(rng, 60) for _ in range(4)])
    theta, Hinv = engine.fit_datasets(problem, Xa[Ds], p.y_pool[Ds])
    for r, D in enumerate(Ds):
        reference, _ = problem.newton(Xa[D], p.y_pool[D], tol=1e-14)
        np.testing.assert_allclose(theta[r], reference, atol=1e-10)
        np.testing.assert_allclose(Hinv[r] @ problem.hessian(Xa[D], theta[r]), np.eye(problem.size),
                                   atol=1e-8)
