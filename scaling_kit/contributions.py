"""Marginal contributions of training points: the reference definition and the fast sampler.

Definition (Covert et al. 2024, §2; MATH.md §2): for a point z and a dataset D of size k with
z not in D,

    Delta(z, D) = loss(model fit on D) - loss(model fit on D + {z}),

with the loss measured on a held-out test set (default: true log loss; see
:mod:`scaling_kit.metrics`). Positive means z helps. The individualized scaling law is about
psi_z(k) = E_{|D| = k}[Delta(z, D)], estimated from samples of D drawn with proportional
stratification (:mod:`scaling_kit.sampling`).

:func:`exact_contribution` computes one Delta from its definition (two independent fits).
:func:`sample_contributions` draws many and is fast:

* **Shared datasets** (default): each drawn D serves every requested point not in D. For a
  point z, the rounds in which z is not in D are independent draws of D conditioned on
  z not in D, i.e. exactly the per-point distribution "D drawn from the pool without z"
  (class counts use the whole pool's shares in both cases). Each point keeps its first
  ``n_samples`` such rounds. ``share_datasets=False`` draws one D per sample, as the paper's
  code does.
* **Exact fast solver** for :class:`~scaling_kit.learners.ExactLogisticRegression`: D is fit
  once, every D + {z} is solved by warm-started, batched chord/Anderson steps to machine
  precision (:mod:`scaling_kit.exact_engine`). Any other learner goes through the generic path
  (one fit per dataset, or ``fit_predict_proba_batch`` when the learner has it).
* With ``k_range=(k_min, k_max)`` each sample's k is uniform on the range for every point:
  a round draws k uniformly and a point not in D is kept with probability
  ``P_min / P(z not in D | k)`` (rejection), which cancels the bias towards small k that
  conditioning on z not in D would otherwise cause.
* Rounds are planned up front from ``random_state`` and computed in fixed chunks, so every
  ``n_jobs`` computes the same datasets with the same seeds (joblib; switch the backend with
  ``joblib.parallel_config``). Results are identical up to rounding: worker processes may run
  their BLAS with another thread count than the parent, which changes the order of sums
  (measured: at most 1.3e-14 in a Delta on digits); a rerun with the same ``n_jobs`` in one
  process is bitwise identical. ``cache=DIR`` stores each finished chunk atomically and resumes
  an interrupted run. A tqdm bar shows progress.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from tqdm import tqdm

from . import exact_engine
from ._io import atomic_save_npz
from .learners import ExactLogisticRegression, as_learner, call_fit_predict_proba
from .logistic import LogisticProblem, augment
from .metrics import check_metrics, losses_from_logp, losses_from_proba
from .sampling import StratifiedSampler

__all__ = [
    "exact_contribution",
    "sample_contributions",
    "summarize_contributions",
    "check_problem",
    "planned_datasets",
]

_ENGINE_VERSION = "2"  # 2: the verified engine (scaling_kit.engine)
BATCH_ELEMENTS = 3e5


# ------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------
def _as_2d(name, X):
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values; impute or drop them first.")
    return X


def _as_labels(name, y, n):
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must be 1-D with {n} labels; got shape {y.shape}.")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{name} must hold integer class labels 0..K-1 (found NaN or fractions).")
        y = y.astype(np.int64)
    if y.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must hold integer class labels 0..K-1; encode them first, e.g. with "
            "np.unique(y, return_inverse=True)."
        )
    if y.size and y.min() < 0:
        raise ValueError(f"{name} has negative labels; use 0..K-1.")
    return y.astype(np.int64)


def check_problem(X_pool, y_pool, X_test, y_test):
    """Validate a pool and a test set; return arrays and the number of classes K."""
    X_pool = _as_2d("X_pool", X_pool)
    y_pool = _as_labels("y_pool", y_pool, X_pool.shape[0])
    X_test = _as_2d("X_test", X_test)
    y_test = _as_labels("y_test", y_test, X_test.shape[0])
    if X_test.shape[1] != X_pool.shape[1]:
        raise ValueError(
            f"X_test has {X_test.shape[1]} features but X_pool has {X_pool.shape[1]}."
        )
    seen = np.unique(y_pool)
    unseen = np.setdiff1d(np.unique(y_test), seen)
    if unseen.size:
        raise ValueError(
            f"The test set has labels {unseen.tolist()} that never occur in the training pool; "
            "a model cannot predict them. Drop those test points or re-split stratified."
        )
    n_classes = int(seen.max() + 1)
    if seen.size != n_classes:
        missing = np.setdiff1d(np.arange(n_classes), seen).tolist()
        raise ValueError(f"Labels must be 0..K-1 with every class in the pool; missing {missing}.")
    if n_classes < 2:
        raise ValueError("The pool has a single class; contributions need at least two.")
    return X_pool, y_pool, X_test, y_test, n_classes


# ------------------------------------------------------------------------------------------
# the reference definition
# ------------------------------------------------------------------------------------------
def _fit_losses(learner, X_train, y_train, X_test, y_test, n_classes, metrics, random_state=None):
    present = np.unique(y_train)
    if present.size != n_classes:
        missing = np.setdiff1d(np.arange(n_classes), present).tolist()
        raise ValueError(
            f"The training set misses classes {missing}; a stratified D must contain every class."
        )
    if isinstance(learner, ExactLogisticRegression):
        problem = LogisticProblem(X_train.shape[1], n_classes, learner.C)
        theta, info = problem.newton(augment(X_train), y_train, tol=learner.tol, max_iter=200)
        logp = exact_engine.test_log_proba(problem, augment(X_test), theta)
        return losses_from_logp(logp, y_test, metrics)
    adapter = as_learner(learner)
    proba = call_fit_predict_proba(adapter, X_train, y_train, X_test, n_classes, random_state)
    return losses_from_proba(proba, y_test, metrics)


def exact_contribution(learner, X_D, y_D, x_z, y_z, X_test, y_test, *, metric="log_loss",
                       n_classes=None, random_state=None):
    """One marginal contribution from its definition: two independent fits.

    ``Delta(z, D) = loss(fit on D) - loss(fit on D + {z})`` on ``(X_test, y_test)``.
    ``metric`` is a name or a list (then a dict is returned). Labels are integers 0..K-1.
    """
    metrics = check_metrics(metric)
    X_D = _as_2d("X_D", X_D)
    y_D = _as_labels("y_D", y_D, X_D.shape[0])
    x_z = np.asarray(x_z, dtype=float).reshape(1, -1)
    if x_z.shape[1] != X_D.shape[1] or not np.all(np.isfinite(x_z)):
        raise ValueError(f"x_z must be a finite vector with {X_D.shape[1]} features.")
    y_z = _as_labels("y_z", np.atleast_1d(y_z), 1)
    X_test = _as_2d("X_test", X_test)
    y_test = _as_labels("y_test", y_test, X_test.shape[0])
    if n_classes is None:
        n_classes = int(max(y_D.max(), y_z.max()) + 1)
    unseen = np.setdiff1d(y_test, np.arange(n_classes))
    if unseen.size:
        raise ValueError(f"The test set has labels {unseen.tolist()} unseen in training.")
    before = _fit_losses(learner, X_D, y_D, X_test, y_test, n_classes, metrics, random_state)
    after = _fit_losses(learner, np.vstack([X_D, x_z]), np.concatenate([y_D, y_z]), X_test,
                        y_test, n_classes, metrics, random_state)
    deltas = {name: float(before[name] - after[name]) for name in metrics}
    return deltas[metrics[0]] if isinstance(metric, str) else deltas


# ------------------------------------------------------------------------------------------
# planning: rounds (one drawn D each) and chunks
# ------------------------------------------------------------------------------------------
@dataclass
class _Round:
    k: int
    seed: tuple  # spawn key of the round's SeedSequence
    exclude: int  # -1, or the point excluded from the pool (per-point draws)
    points: np.ndarray  # requested points computed in this round
    sample_ids: np.ndarray  # per-point sample index of each


def _round_rng(entropy, key):
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=key))


def _draw_D(sampler, entropy, key, k, exclude):
    """The round's dataset D: its own random stream, so planning and computing agree."""
    return sampler.draw(_round_rng(entropy, key + (1,)), k, exclude=None if exclude < 0 else exclude)


def _plan(sampler, points, ks, k_range, n_samples, share, allow_z_in_D, entropy):
    rounds = []
    n_points = points.size
    if not share:
        # one D per sample (the paper's protocol): D drawn from the pool without z
        if k_range is not None:
            for j, z in enumerate(points):
                for s in range(n_samples):
                    key = (2, j, s)
                    k = int(_round_rng(entropy, key + (0,)).integers(k_range[0], k_range[1] + 1))
                    rounds.append(_Round(k, key, -1 if allow_z_in_D else int(z),
                                         np.array([z]), np.array([s])))
        else:
            for ki, k in enumerate(ks):
                for j, z in enumerate(points):
                    for s in range(n_samples):
                        rounds.append(_Round(int(k), (0, ki, j, s), -1 if allow_z_in_D else int(z),
                                             np.array([z]), np.array([s])))
        return rounds
    point_class = sampler.y[points]
    if k_range is None:
        for ki, k in enumerate(ks):
            need = np.full(n_points, n_samples)
            r = 0
            while need.max() > 0:
                key = (1, ki, r)
                D = _draw_D(sampler, entropy, key, k, -1)
                take = need > 0
                if not allow_z_in_D:
                    take &= ~np.isin(points, D)
                if take.any():
                    rounds.append(_Round(int(k), key, -1, points[take], n_samples - need[take]))
                    need[take] -= 1
                r += 1
        return rounds
    k_lo, k_hi = k_range
    p_excl = np.array([sampler.prob_excluded(k) for k in range(k_lo, k_hi + 1)])  # (nk, K)
    p_min = p_excl.min(axis=0)
    need = np.full(n_points, n_samples)
    r = 0
    while need.max() > 0:
        key = (3, r)
        k = int(_round_rng(entropy, key + (0,)).integers(k_lo, k_hi + 1))
        D = _draw_D(sampler, entropy, key, k, -1)
        u = _round_rng(entropy, key + (2,)).random(n_points)
        take = need > 0
        if not allow_z_in_D:
            accept = p_min[point_class] / p_excl[k - k_lo, point_class]
            take &= ~np.isin(points, D) & (u < accept)
        if take.any():
            rounds.append(_Round(k, key, -1, points[take], n_samples - need[take]))
            need[take] -= 1
        r += 1
    return rounds


def _chunks(rounds, budget):
    """Split rounds into chunks of about ``budget`` contributions (keeps k-order)."""
    chunks, current, size = [], [], 0
    for rnd in rounds:
        current.append(rnd)
        size += rnd.points.size
        if size >= budget:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks


# ------------------------------------------------------------------------------------------
# computing a chunk
# ------------------------------------------------------------------------------------------
def _compute_chunk(chunk, learner, X_pool, y_pool, X_test, y_test, n_classes, metrics, entropy):
    sampler = StratifiedSampler(y_pool, n_classes)
    exact = isinstance(learner, ExactLogisticRegression)
    if exact:  # standardized coordinates: same minimizers and losses (exact_engine docs)
        problem, Xa_pool, Xa_test = exact_engine.standardized_problem(X_pool, X_test, n_classes,
                                                                      learner.C)
    else:
        adapter = as_learner(learner)
    cols = {"point": [], "k": [], "sample": []}
    deltas = {name: [] for name in metrics}
    if exact:
        # rounds of equal k are solved together (fewer, larger array operations)
        by_k = {}
        for rnd in chunk:
            by_k.setdefault(rnd.k, []).append(rnd)
        # rounds per batch: keep the per-iteration arrays (rounds x k x candidates x classes)
        # around BATCH_ELEMENTS entries, large enough to amortize Python overhead and small
        # enough to stay in cache
        per_round = max(rnd.k for rnd in chunk) * max(
            max(rnd.points.size for rnd in chunk) * problem.m, problem.size)
        batch = max(1, int(BATCH_ELEMENTS // per_round))
        for group in by_k.values():
            theta_prev = None
            for start in range(0, len(group), batch):
                rounds = group[start:start + batch]
                Ds = np.stack([_draw_D(sampler, entropy, rnd.seed, rnd.k, rnd.exclude)
                               for rnd in rounds])
                XaD, yD = Xa_pool[Ds], y_pool[Ds]

                def describe(r, c=None, rounds=rounds):  # names a dataset in error messages
                    rnd = rounds[r]
                    return (f"D (k={rnd.k}) of the round for points {rnd.points[:5].tolist()}"
                            if c is None else
                            f"D + {{z}} for point {rnd.points[c]}, k={rnd.k}, sample "
                            f"{rnd.sample_ids[c]}")

                theta_D, Hinv = exact_engine.fit_datasets(problem, XaD, yD, theta_prev,
                                                          tol=learner.tol / 10,
                                                          max_iter=learner.max_iter,
                                                          describe=describe)
                theta_prev = theta_D[-1]  # warm start for the next batch of this k
                M = max(rnd.points.size for rnd in rounds)
                cand = np.stack([np.resize(rnd.points, M) for rnd in rounds])  # pad by repeating
                valid = np.arange(M)[None, :] < np.array([rnd.points.size for rnd in rounds])[:, None]
                theta_z, _, _ = exact_engine.solve_candidates_batch(
                    problem, XaD, yD, theta_D, Hinv, Xa_pool[cand], y_pool[cand], valid,
                    tol=learner.tol, fallback_max_iter=learner.max_iter, describe=describe)
                before = exact_engine.test_losses(problem, Xa_test, y_test, theta_D, metrics)
                after = exact_engine.test_losses(problem, Xa_test, y_test, theta_z, metrics)
                for i, rnd in enumerate(rounds):
                    n_i = rnd.points.size
                    cols["point"].append(rnd.points)
                    cols["k"].append(np.full(n_i, rnd.k))
                    cols["sample"].append(rnd.sample_ids)
                    for name in metrics:
                        deltas[name].append(before[name][i] - after[name][i, :n_i])
        chunk = []  # all rounds done
    for rnd in chunk:
        D = _draw_D(sampler, entropy, rnd.seed, rnd.k, rnd.exclude)
        seed = int(np.random.SeedSequence(entropy, spawn_key=rnd.seed + (7,)).generate_state(1)[0])
        XD, yD = X_pool[D], y_pool[D]
        before = losses_from_proba(
            call_fit_predict_proba(adapter, XD, yD, X_test, n_classes, seed), y_test, metrics)
        XDz = np.concatenate([np.broadcast_to(XD, (rnd.points.size,) + XD.shape),
                              X_pool[rnd.points][:, None, :]], axis=1)
        yDz = np.concatenate([np.broadcast_to(yD, (rnd.points.size, yD.size)),
                              y_pool[rnd.points][:, None]], axis=1)
        if hasattr(adapter, "fit_predict_proba_batch"):
            proba = adapter.fit_predict_proba_batch(XDz, yDz, X_test, n_classes, random_state=seed)
        else:
            proba = np.stack([call_fit_predict_proba(adapter, XDz[i], yDz[i], X_test, n_classes, seed)
                              for i in range(rnd.points.size)])
        after = losses_from_proba(proba, y_test, metrics)
        cols["point"].append(rnd.points)
        cols["k"].append(np.full(rnd.points.size, rnd.k))
        cols["sample"].append(rnd.sample_ids)
        for name in metrics:
            deltas[name].append(before[name] - after[name])
    out = {key: np.concatenate(val) for key, val in cols.items()}
    for name in metrics:
        out["delta_" + name] = np.concatenate(deltas[name])
    return out


# ------------------------------------------------------------------------------------------
# cache
# ------------------------------------------------------------------------------------------
def _fingerprint(learner, arrays, options):
    h = hashlib.sha256()
    h.update(_ENGINE_VERSION.encode())
    h.update(repr(learner).encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode() + str(a.dtype).encode())
        h.update(a.tobytes())
    h.update(json.dumps(options, sort_keys=True, default=str).encode())
    return h.hexdigest()[:20]


def _load(path: Path):
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


# ------------------------------------------------------------------------------------------
# the sampler
# ------------------------------------------------------------------------------------------
def _check_sizes(sampler, ks, k_range, allow_z_in_D):
    if (ks is None) == (k_range is None):
        raise ValueError("Give exactly one of k (sizes) or k_range=(k_min, k_max).")
    if k_range is not None:
        if len(k_range) != 2:
            raise ValueError("k_range must be a pair (k_min, k_max).")
        k_lo, k_hi = (int(v) for v in k_range)
        if not 1 <= k_lo <= k_hi:
            raise ValueError(f"k_range must satisfy 1 <= k_min <= k_max; got {k_range}.")
        for k in (k_lo, k_hi):
            sampler.check_k(k, exclude_one=not allow_z_in_D)
        if not allow_z_in_D:
            excl = np.array([sampler.prob_excluded(k) for k in (k_lo, k_hi)])
            if np.any(excl <= 0):
                raise ValueError(f"k_max={k_hi} leaves no room for z outside D; lower k_max.")
        return None, (k_lo, k_hi)
    ks = np.atleast_1d(np.asarray(ks))
    if ks.ndim != 1 or ks.size == 0 or ks.dtype.kind not in "iuf" or np.any(ks != np.round(ks)):
        raise ValueError(f"k must be a positive integer or a sequence of them; got {ks}.")
    ks = ks.astype(np.int64)
    if np.any(ks < 1):
        raise ValueError(f"Dataset sizes k must be positive; got {ks.tolist()}.")
    if np.unique(ks).size != ks.size:
        raise ValueError(f"Dataset sizes k must not repeat; got {ks.tolist()}.")
    for k in ks:
        sampler.check_k(int(k), exclude_one=not allow_z_in_D)
    return ks, None


def sample_contributions(learner, X_pool, y_pool, X_test, y_test, points, *, k=None,
                         k_range=None, n_samples=100, metric="log_loss", share_datasets=True,
                         allow_z_in_D=False, random_state=0, n_jobs=1, cache=None,
                         progress=True, chunk_size=2000):
    """Sample marginal contributions Delta(z, D) for many points and dataset sizes.

    Parameters
    ----------
    learner : :class:`~scaling_kit.learners.ExactLogisticRegression` (exact fast path), any
        scikit-learn classifier with ``predict_proba``, or an object with
        ``fit_predict_proba(X, y, X_eval, n_classes, random_state)`` (optionally
        ``fit_predict_proba_batch``). The same ``random_state`` is passed for D and D + {z}.
    X_pool, y_pool : pool of candidate points and of dataset draws; labels 0..K-1.
    X_test, y_test : held-out test set on which the loss is measured.
    points : indices into the pool of the points z whose contributions are wanted.
    k : dataset size or sizes; ``n_samples`` per (point, k). Or
    k_range : ``(k_min, k_max)``; ``n_samples`` per point with k uniform on the range.
    metric : a name or list among ``log_loss`` (default), ``softmax_ce`` (reference code),
        ``error``, ``brier``; one fit serves every metric.
    share_datasets : share each drawn D across points (fast, same per-point distribution);
        False draws one D per sample as the paper's code does.
    allow_z_in_D : reproduce the reference code's quirk: D drawn from the whole pool, so z may
        already be in D (then D + {z} holds it twice). Off by default.
    random_state : int or None; all randomness flows from it.
    n_jobs : joblib workers; results do not depend on it.
    cache : directory; finished chunks are stored atomically and reused on a rerun.
    progress : show a tqdm progress bar.
    chunk_size : contributions per chunk (the unit of parallel work and of caching).

    Returns
    -------
    pandas.DataFrame with one row per sample: ``point, k, sample, delta`` (the first metric)
    and ``delta_<metric>`` for each metric when ``metric`` is a list.
    """
    metrics = check_metrics(metric)
    X_pool, y_pool, X_test, y_test, n_classes = check_problem(X_pool, y_pool, X_test, y_test)
    points = np.atleast_1d(np.asarray(points))
    if points.ndim != 1 or points.size == 0 or points.dtype.kind not in "iu":
        raise ValueError("points must be a non-empty 1-D array of integer pool indices.")
    if points.min() < 0 or points.max() >= X_pool.shape[0]:
        raise ValueError(f"points must index the pool (0..{X_pool.shape[0] - 1}).")
    if np.unique(points).size != points.size:
        raise ValueError("points must not repeat.")
    points = points.astype(np.int64)
    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer; got {n_samples}.")
    n_samples = int(n_samples)
    if random_state is None:
        entropy = int(np.random.SeedSequence().entropy)
    elif isinstance(random_state, (int, np.integer)) and random_state >= 0:
        entropy = int(random_state)
    else:
        raise ValueError("random_state must be a non-negative int or None.")
    if not isinstance(learner, ExactLogisticRegression):
        as_learner(learner)  # validates predict_proba early
    sampler = StratifiedSampler(y_pool, n_classes)
    ks, k_range = _check_sizes(sampler, k, k_range, allow_z_in_D)

    rounds = _plan(sampler, points, ks, k_range, n_samples, share_datasets, allow_z_in_D, entropy)
    chunks = _chunks(rounds, max(1, int(chunk_size)))
    args = (learner, X_pool, y_pool, X_test, y_test, n_classes, metrics, entropy)

    results = [None] * len(chunks)
    cache_path = None
    if cache is not None:
        options = dict(points=points.tolist(), ks=None if ks is None else ks.tolist(),
                       k_range=k_range, n_samples=n_samples, metrics=metrics,
                       share=share_datasets, allow_z_in_D=allow_z_in_D, entropy=entropy,
                       chunk_size=int(chunk_size))
        key = _fingerprint(learner, (X_pool, y_pool, X_test, y_test), options)
        cache_path = Path(cache) / f"contributions-{key}"
        cache_path.mkdir(parents=True, exist_ok=True)
        for i in range(len(chunks)):
            f = cache_path / f"chunk-{i:06d}.npz"
            if f.is_file():
                results[i] = _load(f)
    todo = [i for i in range(len(chunks)) if results[i] is None]
    total = sum(r.points.size for r in rounds)
    bar = tqdm(total=total, desc="contributions", unit="Δ", disable=not progress)
    bar.update(sum(results[i]["point"].size for i in range(len(chunks)) if results[i] is not None))
    jobs = (joblib.delayed(_compute_chunk)(chunks[i], *args) for i in todo)
    parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator")
    for i, res in zip(todo, parallel(jobs)):
        results[i] = res
        if cache_path is not None:
            atomic_save_npz(cache_path / f"chunk-{i:06d}.npz", res)
        bar.update(res["point"].size)
    bar.close()

    table = {key: np.concatenate([r[key] for r in results]) for key in results[0]}
    df = pd.DataFrame({"point": table["point"], "k": table["k"], "sample": table["sample"]})
    df["delta"] = table["delta_" + metrics[0]]
    if not isinstance(metric, str):
        for name in metrics:
            df["delta_" + name] = table["delta_" + name]
    df = df.sort_values(["point", "k", "sample"], kind="stable").reset_index(drop=True)
    df.attrs.update(metrics=list(metrics), n_classes=n_classes, share_datasets=share_datasets,
                    allow_z_in_D=allow_z_in_D)
    return df


def planned_datasets(y_pool, points, *, k=None, k_range=None, n_samples=100,
                     share_datasets=True, allow_z_in_D=False, random_state=0):
    """The datasets D that :func:`sample_contributions` would draw, in order.

    Returns a list of dicts with keys ``k``, ``D`` (pool indices), ``points`` and ``sample``
    (the per-point sample index of each point computed on that D). Useful to recompute a
    contribution independently (tests, benchmarks) or to inspect the sampling.
    """
    y_pool = _as_labels("y_pool", y_pool, np.asarray(y_pool).shape[0])
    sampler = StratifiedSampler(y_pool)
    points = np.asarray(points, dtype=np.int64)
    ks, k_range = _check_sizes(sampler, k, k_range, allow_z_in_D)
    out = []
    for rnd in _plan(sampler, points, ks, k_range, int(n_samples), share_datasets, allow_z_in_D,
                     int(random_state)):
        D = _draw_D(sampler, int(random_state), rnd.seed, rnd.k, rnd.exclude)
        out.append({"k": rnd.k, "D": D, "points": rnd.points, "sample": rnd.sample_ids})
    return out


def summarize_contributions(df, delta_col="delta"):
    """Per-(point, k) mean, standard deviation, count and standard error of ``delta_col``."""
    if not {"point", "k", delta_col} <= set(df.columns):
        raise ValueError(f"Expected columns point, k and {delta_col!r}; got {list(df.columns)}.")
    g = df.groupby(["point", "k"])[delta_col]
    out = g.agg(["mean", "std", "count"])
    out["sem"] = out["std"] / np.sqrt(out["count"])
    return out
