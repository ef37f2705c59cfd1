"""Point addition (MATH.md section 5; Covert et al., ICML 2024, Section 4.4 and Appendix C.4).

**Point addition** (Section 4.4): add ``n_add`` (paper: 20) points from a candidate pool to
a random stratified dataset of size ``k0`` drawn from the rest of the pool and record the
test-accuracy gain; the points are chosen by a score (the law's prediction ``c k^-alpha`` at
one size, "Scaling k", or the Shapley value) or at random. :func:`point_addition` repeats
this (paper: 1000 times) with L2 logistic regression solved exactly by Newton's method, the
fit on ``D + S`` warm-started from the fit on ``D``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..contributions import check_problem
from ..learners import ExactLogisticRegression, as_learner
from ..logistic import LogisticProblem, augment
from ..sampling import StratifiedSampler, stratified_counts
from .shapley import _law_params

__all__ = ["PointAdditionResults", "point_addition", "select_points", "selection_scores"]


# ------------------------------------------------------------------------------------------
# point addition (Section 4.4, Tables 5-8)
# ------------------------------------------------------------------------------------------
def selection_scores(law, ks, shapley=None) -> dict:
    """Scores of the candidates for :func:`point_addition`.

    ``"Scaling k"``: the law's predicted contribution ``c k^-alpha`` at each ``k`` in ``ks``
    (paper: Scaling 100 and Scaling 1000); ``"Shapley"``: the given Shapley values (Series
    by point), if any. Returns a dict ``name -> Series`` indexed by pool index.
    """
    _, c, alpha = _law_params(law)
    index = getattr(law, "params_", law).index
    ks = np.atleast_1d(np.asarray(ks, dtype=float))
    if ks.ndim != 1 or ks.size == 0 or np.any(~np.isfinite(ks)) or np.any(ks <= 0):
        raise ValueError("ks must be positive dataset sizes.")
    scores = {f"Scaling {int(k) if k == int(k) else k}": pd.Series(c * k ** (-alpha), index=index)
              for k in ks}
    if shapley is not None:
        if isinstance(shapley, pd.DataFrame):
            shapley = shapley["value"]
        scores["Shapley"] = pd.Series(shapley)
    return scores


def select_points(scores, n_add: int, *, y=None, stratify: bool = False,
                  class_sizes=None) -> np.ndarray:
    """Indices (from ``scores.index``) of the ``n_add`` highest scores.

    With ``stratify=True`` the selection has the stratified class counts of size ``n_add``
    (:func:`scaling_kit.sampling.stratified_counts` with ``class_sizes``, default the
    candidates' own), the best points of each class; ``y`` maps a point index to its label
    (array indexed by pool index). Ties are broken by index order (stable sort).
    """
    scores = pd.Series(scores)
    n = int(n_add)
    if n != n_add or n < 1:
        raise ValueError(f"n_add must be a positive integer; got {n_add!r}.")
    if n > len(scores):
        raise ValueError(f"Cannot select n_add={n} points from {len(scores)} candidates.")
    values = scores.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("scores must be finite (drop candidates whose law failed to fit).")
    if not scores.index.is_unique:
        raise ValueError("scores has duplicate point indices.")
    idx = scores.index.to_numpy()
    if not stratify:
        return idx[np.argsort(-values, kind="stable")[:n]]
    if y is None:
        raise ValueError("stratify=True needs the labels y (indexed by pool index).")
    labels = np.asarray(y)[idx]
    K = int(np.asarray(y).max()) + 1
    sizes = np.bincount(labels, minlength=K) if class_sizes is None else np.asarray(class_sizes)
    counts = stratified_counts(sizes, n)
    out = []
    for c_, m in enumerate(counts):
        members = np.flatnonzero(labels == c_)
        if m > members.size:
            raise ValueError(f"Class {c_} needs {m} selected points but has {members.size} "
                             "candidates; use more candidates or stratify=False.")
        out.append(idx[members[np.argsort(-values[members], kind="stable")[:m]]])
    return np.concatenate(out)


@dataclass
class PointAdditionResults:
    """Accuracy gains from adding selected points to random datasets (Tables 5-8).

    Attributes
    ----------
    gains : long DataFrame ``k0, repeat, method, gain`` (accuracy points, i.e. percent).
    preceding : DataFrame ``k0, repeat, accuracy`` (percent) of the model fit on D alone.
    selections : dict ``method -> selected pool indices`` (fixed sets; random ones vary).
    datasets : dict ``k0 -> (n_repeats, k0)`` array of the drawn D's, when ``keep_sets``.
    random_sets : dict ``k0 -> (n_repeats, n_add)`` random selections, when ``keep_sets``.
    """

    gains: pd.DataFrame
    preceding: pd.DataFrame
    selections: dict
    candidates: np.ndarray
    n_add: int
    datasets: dict = field(default_factory=dict)
    random_sets: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean, standard deviation and standard error of the gain by ``(k0, method)``; the
        ``Preceding`` rows give the accuracy of the model fit on D alone."""
        g = self.gains.groupby(["k0", "method"], sort=False)["gain"].agg(["mean", "std", "count"])
        p = self.preceding.groupby("k0")["accuracy"].agg(["mean", "std", "count"])
        p.index = pd.MultiIndex.from_arrays([p.index, ["Preceding"] * len(p)],
                                            names=["k0", "method"])
        out = pd.concat([g, p]).sort_index(level=0, sort_remaining=False)
        out["sem"] = out["std"] / np.sqrt(out["count"])
        return out

    def table(self, spread: str = "std", digits: int = 2) -> pd.DataFrame:
        """Paper-style table: methods (rows) by k0 (columns), ``"mean ± spread"`` strings."""
        if spread not in ("std", "sem"):
            raise ValueError("spread must be 'std' (the paper's) or 'sem'.")
        s = self.summary()
        text = s.apply(lambda r: f"{r['mean']:.{digits}f} ± {r[spread]:.{digits}f}", axis=1)
        out = text.unstack("k0")
        order = [m for m in self.gains["method"].unique()] + ["Preceding"]
        out = out.reindex(order)
        out.columns = [f"k0 = {k}" for k in out.columns]
        return out

    def beside_paper(self, dataset: str = "MiniBooNE", spread: str = "std") -> pd.DataFrame:
        """Our ``mean ± spread`` beside the paper's Tables 5-8 (mean ± std over 1000
        repetitions) for every ``k0`` the paper reports (100, 1000, 200, 2000)."""
        from ..paper import POINT_ADDITION_TABLES

        ours = self.table(spread)
        ours.columns = [f"ours, {c}" for c in ours.columns]
        cols = {}
        for k in sorted(self.gains["k0"].unique()):
            if int(k) in POINT_ADDITION_TABLES:
                t = POINT_ADDITION_TABLES[int(k)][dataset]
                cols[f"paper ({dataset}), k0 = {k}"] = t.apply(
                    lambda r: f"{r['mean']:.2f} ± {r['std']:.2f}", axis=1)
        if not cols:
            return ours
        return ours.join(pd.DataFrame(cols), how="outer").reindex(
            list(ours.index) + [m for m in pd.DataFrame(cols).index if m not in ours.index])

    def difference(self, method: str, baseline: str, k0: int):
        """Mean paired difference of gains ``method - baseline`` at ``k0`` and its standard
        error (same D in each repetition, so the pairing removes D's variance)."""
        g = self.gains[self.gains["k0"] == k0].pivot(index="repeat", columns="method",
                                                     values="gain")
        for m in (method, baseline):
            if m not in g.columns:
                raise ValueError(f"No method {m!r} at k0={k0}; have {list(g.columns)}.")
        d = g[method] - g[baseline]
        return float(d.mean()), float(d.std() / np.sqrt(len(d)))


def _accuracy(proba, y):
    return 100.0 * float(np.mean(np.argmax(proba, axis=1) == y))


def point_addition(learner, X_pool, y_pool, X_test, y_test, candidates, scores, k0, *,
                   n_add: int = 20, n_repeats: int = 100, include_random: bool = True,
                   stratify: bool = True, random_state=0, keep_sets: bool = False,
                   progress: bool = False) -> PointAdditionResults:
    """Accuracy gain from adding ``n_add`` selected points to random datasets of size ``k0``.

    Protocol (paper, Section 4.4 and Appendix C.4): the candidates are a subset of the pool;
    each repetition draws a stratified dataset D of size ``k0`` from the pool *without* the
    candidates, fits the model on D and on ``D + S`` for every method's selection S, and records
    ``accuracy(D + S) - accuracy(D)`` on the test set (percent). Methods: each entry of
    ``scores`` (its top ``n_add`` candidates, one fixed set, see :func:`select_points`) and,
    with ``include_random``, a fresh random set of candidates per repetition.

    Parameters
    ----------
    learner : :class:`~scaling_kit.learners.ExactLogisticRegression` (fast path: Newton's
        method on the exact objective, D + S warm-started from D) or any scikit-learn
        classifier with ``predict_proba``.
    candidates : pool indices of the candidate points (paper: 1000).
    scores : dict ``method -> Series`` of scores indexed by candidate (e.g. from
        :func:`selection_scores`), or ``method -> array`` aligned with ``candidates``.
    k0 : an int or a sequence of preceding-dataset sizes (paper: 100 and 1000; 200 and 2000).
    stratify : select the best points of each class in stratified proportions (the
        candidates' class shares). ``False`` takes the overall top ``n_add`` as the paper
        does; the selected points may then all share one class, which can hurt accuracy at
        small ``k0`` (an interaction effect the per-point law does not model).
    random_state : int; every draw (D, random selections) flows from it.
    keep_sets : store every D and random selection (for checks; memory n_repeats * k0).
    """
    X_pool, y_pool, X_test, y_test, n_classes = check_problem(X_pool, y_pool, X_test, y_test)
    n_pool = len(y_pool)
    candidates = np.asarray(candidates)
    if candidates.ndim != 1 or candidates.size == 0 or candidates.dtype.kind not in "iu":
        raise ValueError("candidates must be a non-empty 1-D array of integer pool indices.")
    if candidates.min() < 0 or candidates.max() >= n_pool:
        raise ValueError(f"candidates must index the pool (0..{n_pool - 1}).")
    if np.unique(candidates).size != candidates.size:
        raise ValueError("candidates must not repeat.")
    candidates = candidates.astype(np.int64)
    if not isinstance(n_add, (int, np.integer)) or not 1 <= n_add <= candidates.size:
        raise ValueError(f"n_add must be an integer in 1..{candidates.size} (the candidates).")
    n_add = int(n_add)
    if not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer; got {n_repeats!r}.")
    if not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise ValueError("random_state must be a non-negative int.")
    k0s = np.atleast_1d(np.asarray(k0))
    if k0s.ndim != 1 or k0s.size == 0 or k0s.dtype.kind not in "iu" or np.any(k0s < 1):
        raise ValueError(f"k0 must be a positive integer or a sequence of them; got {k0!r}.")
    if np.unique(k0s).size != k0s.size:
        raise ValueError("k0 values must not repeat.")
    if not isinstance(scores, dict) or (not scores and not include_random):
        raise ValueError("scores must be a dict method -> scores (or include_random=True).")

    # selections: fixed top-n_add sets, checked against the candidates
    selections = {}
    cand_set = set(candidates.tolist())
    for name, s in scores.items():
        if name == "Random":
            raise ValueError("'Random' is reserved for the random baseline; rename the method.")
        if not isinstance(s, pd.Series):
            s = np.asarray(s, dtype=float)
            if s.shape != candidates.shape:
                raise ValueError(f"scores[{name!r}] must be a Series indexed by candidate or an "
                                 f"array of {candidates.size} scores aligned with candidates.")
            s = pd.Series(s, index=candidates)
        extra = set(s.index.tolist()) - cand_set
        if extra:
            raise ValueError(f"scores[{name!r}] scores {len(extra)} point(s) that are not "
                             f"candidates, e.g. {sorted(extra)[0]!r}.")
        selections[name] = select_points(s, n_add, y=y_pool, stratify=stratify,
                                         class_sizes=np.bincount(y_pool[candidates],
                                                                 minlength=n_classes))
    rest = np.setdiff1d(np.arange(n_pool), candidates)
    sampler = StratifiedSampler(y_pool[rest], n_classes)
    for k in k0s:
        sampler.check_k(int(k), exclude_one=False)

    exact = isinstance(learner, ExactLogisticRegression)
    if exact:
        problem = LogisticProblem(X_pool.shape[1], n_classes, learner.C)
        Xa_pool, Xa_test = augment(X_pool), augment(X_test)

        def fit(idx, theta0=None):
            theta, _ = problem.newton(Xa_pool[idx], y_pool[idx], theta0, tol=learner.tol,
                                      max_iter=200)
            return theta, _accuracy(problem.proba(Xa_test, theta), y_test)
    else:
        adapter = as_learner(learner)

        def fit(idx, theta0=None):
            proba = adapter.fit_predict_proba(X_pool[idx], y_pool[idx], X_test, n_classes)
            return None, _accuracy(proba, y_test)

    methods = list(selections) + (["Random"] if include_random else [])
    gain_rows = {"k0": [], "repeat": [], "method": [], "gain": []}
    pre_rows = {"k0": [], "repeat": [], "accuracy": []}
    datasets, random_sets = {}, {}
    total = int(n_repeats) * k0s.size
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, desc="point addition", unit="rep")
    for ki, k in enumerate(k0s):
        k = int(k)
        keep_D = np.empty((int(n_repeats), k), np.int64) if keep_sets else None
        keep_R = np.empty((int(n_repeats), n_add), np.int64) if keep_sets and include_random \
            else None
        for r in range(int(n_repeats)):
            rng = np.random.default_rng(np.random.SeedSequence(int(random_state),
                                                               spawn_key=(ki, r)))
            D = rest[sampler.draw(rng, k)]
            theta_D, acc_D = fit(D)
            pre_rows["k0"].append(k)
            pre_rows["repeat"].append(r)
            pre_rows["accuracy"].append(acc_D)
            for name in methods:
                if name == "Random":
                    S = rng.choice(candidates, size=n_add, replace=False)
                    if keep_R is not None:
                        keep_R[r] = S
                else:
                    S = selections[name]
                _, acc = fit(np.concatenate([D, S]), theta_D)
                gain_rows["k0"].append(k)
                gain_rows["repeat"].append(r)
                gain_rows["method"].append(name)
                gain_rows["gain"].append(acc - acc_D)
            if keep_D is not None:
                keep_D[r] = D
            if bar is not None:
                bar.update(1)
        if keep_sets:
            datasets[k] = keep_D
            if keep_R is not None:
                random_sets[k] = keep_R
    if bar is not None:
        bar.close()
    return PointAdditionResults(pd.DataFrame(gain_rows), pd.DataFrame(pre_rows), selections,
                                candidates, n_add, datasets, random_sets)
