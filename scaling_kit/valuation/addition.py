"""Point addition (docs/math.md §6; Covert et al., ICML 2024, Section 4.4 and Appendix C.4).

**Point addition** (Section 4.4): add ``n_add`` (paper: 20) points from a candidate pool to
a random dataset of size ``k0`` drawn from the rest of the pool and record the test-accuracy
gain; the points are chosen by a score (the law's prediction ``c k^-alpha`` at one size,
"Scaling k", or the Shapley value) or at random. :func:`point_addition` repeats this (paper:
1000 times) with L2 logistic regression solved exactly by Newton's method, the fit on
``D + S`` warm-started from the fit on ``D``.

Differences from the paper's reference code (``experiments/test_point_addition.py`` of
github.com/iancovert/data-scaling), stated so that a reader can match the two: the reference
draws D uniformly from the pool without the candidates (here: class-stratified, as every draw
in the kit); it selects ``n_add // K`` top points of each class and draws the random baseline
the same way (here: ``stratify="equal"`` does exactly that; the default ``"proportional"``
follows the candidates' class shares, and the random baseline is then uniform over the
candidates, proportional in expectation).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._checks import as_problem, check_int, check_random_state, check_sizes, spawn_seeds
from ..backends import get_backend
from ..results import Summary
from ..sampling import StratifiedSampler, stratified_counts
from .shapley import _law_params, _posterior_mean_law

__all__ = ["PointAdditionResults", "point_addition", "select_points", "selection_scores"]


# ------------------------------------------------------------------------------------------
# point addition (Section 4.4, Tables 5-8)
# ------------------------------------------------------------------------------------------
def selection_scores(law, ks, shapley=None) -> dict:
    """Scores of the candidates for :func:`point_addition` (paper, Section 4.4).

    ``"Scaling k"``: the law's predicted contribution ``psi_z(k) = c(z) k^-alpha(z)`` at each
    ``k`` in ``ks`` (paper: Scaling 100 and Scaling 1000); for an empirical-Bayes fit, its
    posterior mean ``E[psi_z(k)]`` (the fit's ``predict``). ``"Shapley"``: the given Shapley
    values (Series by point), if any. Returns a dict ``name -> Series`` indexed by pool index.
    """
    index, c, alpha = _law_params(law)
    ks = check_sizes(ks, "ks")
    posterior = _posterior_mean_law(law, ks)
    if posterior is not None:
        scores = {f"Scaling {k}": pd.Series(posterior[k].to_numpy(), index=index) for k in ks}
    else:
        scores = {f"Scaling {k}": pd.Series(c * float(k) ** (-alpha), index=index) for k in ks}
    if shapley is not None:
        if isinstance(shapley, pd.DataFrame):
            shapley = shapley["value"]
        if not isinstance(shapley, pd.Series):
            raise TypeError("shapley must be a Series of values by point (or the DataFrame of "
                            f"monte_carlo_shapley); got {type(shapley).__name__}.")
        scores["Shapley"] = shapley
    return scores


_STRATIFY = (False, True, "proportional", "equal")


def _check_stratify(stratify):
    if stratify is None:
        return False
    if not any(stratify is v or (isinstance(stratify, str) and stratify == v)
               for v in _STRATIFY):
        raise ValueError(f"stratify must be False, True (= 'proportional') or 'equal'; got "
                         f"{stratify!r}.")
    return "proportional" if stratify is True else stratify


def _class_counts(stratify, n, class_sizes):
    """Selected points per class: proportional (``stratified_counts``) or ``n / K`` each."""
    if stratify == "equal":
        K = len(class_sizes)
        if n % K:
            raise ValueError(f"n_add={n} must be a multiple of the {K} classes for "
                             "stratify='equal' (n_add / K points of each class).")
        return np.full(K, n // K)
    return stratified_counts(class_sizes, n)


def select_points(scores, n_add: int, *, y=None, stratify=False,
                  class_sizes=None) -> np.ndarray:
    """Indices (from ``scores.index``) of the ``n_add`` highest scores.

    ``stratify=False``: the overall top ``n_add``. ``stratify=True`` (or ``"proportional"``):
    the best points of each class in the stratified class counts of size ``n_add``
    (:func:`scaling_kit.sampling.stratified_counts` with ``class_sizes``, default the
    candidates' own). ``stratify="equal"``: the best ``n_add / K`` points of each class, as the
    paper's reference code selects. ``y`` maps a point index to its label (array indexed by
    pool index). Ties are broken by index order (stable sort).
    """
    stratify = _check_stratify(stratify)
    if not isinstance(scores, pd.Series):
        raise TypeError(f"scores must be a Series of scores by point; got {type(scores).__name__}.")
    n = check_int(n_add, "n_add", low=1)
    if n > len(scores):
        raise ValueError(f"n_add={n}: cannot select more points than the {len(scores)} "
                         "candidates.")
    values = scores.to_numpy(dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError("scores must be finite (drop candidates whose law failed to fit).")
    if not scores.index.is_unique:
        raise ValueError("scores has duplicate point indices.")
    idx = scores.index.to_numpy()
    if not stratify:
        return idx[np.argsort(-values, kind="stable")[:n]]
    if y is None:
        raise ValueError(f"stratify={stratify!r} needs the labels y (indexed by pool index).")
    labels = np.asarray(y)[idx]
    K = int(np.asarray(y).max()) + 1
    sizes = np.bincount(labels, minlength=K) if class_sizes is None else np.asarray(class_sizes)
    counts = _class_counts(stratify, n, sizes)
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

    def _statistics(self) -> pd.DataFrame:
        g = self.gains.groupby(["k0", "method"], sort=False)["gain"].agg(["mean", "std", "count"])
        p = self.preceding.groupby("k0")["accuracy"].agg(["mean", "std", "count"])
        p.index = pd.MultiIndex.from_arrays([p.index, ["Preceding"] * len(p)],
                                            names=["k0", "method"])
        out = pd.concat([g, p]).sort_index(level=0, sort_remaining=False)
        out["sem"] = out["std"] / np.sqrt(out["count"])
        return out

    def summary(self) -> Summary:
        """Mean, standard deviation and standard error of the gain by ``(k0, method)``; the
        ``Preceding`` rows give the accuracy of the model fit on D alone (a
        :class:`scaling_kit.results.Summary`; ``summary().table`` is that DataFrame)."""
        return Summary(
            title=f"Point addition: accuracy gain from adding {self.n_add} points (percent)",
            facts={"candidates": len(self.candidates),
                   "repetitions": int(self.gains["repeat"].nunique())},
            tables={"gain by k0 and method": self._statistics(),
                    "paper-style (mean ± std)": self.table("std")},
        )

    def table(self, spread: str = "std", digits: int = 2) -> pd.DataFrame:
        """Paper-style table: methods (rows) by k0 (columns), ``"mean ± spread"`` strings."""
        if spread not in ("std", "sem"):
            raise ValueError(f"spread must be 'std' (the paper's) or 'sem'; got {spread!r}.")
        s = self._statistics()
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

    def differences(self, baseline: str = "Random") -> pd.DataFrame:
        """Paired differences ``method - baseline`` of the gains for every method and ``k0``.

        Each repetition adds every method's selection to the same dataset D, so the
        difference ``d_r = gain_r(method) - gain_r(baseline)`` removes D's variance; its mean
        has the standard error ``sd(d) / sqrt(n_repeats)`` (:meth:`difference`). Returns a tidy
        DataFrame ``k0, method, mean, se, z`` (``z = mean / se``; NaN when ``se`` is 0),
        accuracy points (percent).
        """
        rows = []
        for k0 in sorted(self.gains["k0"].unique()):
            for method in self.gains["method"].unique():
                if method == baseline:
                    continue
                mean, se = self.difference(method, baseline, int(k0))
                rows.append({"k0": int(k0), "method": method, "mean": mean, "se": se,
                             "z": mean / se if se > 0 else np.nan})
        return pd.DataFrame(rows, columns=["k0", "method", "mean", "se", "z"])

    def mean_difference(self, method: str, baseline: str = "Random", k0s=None):
        """Paired difference ``method - baseline`` averaged over the sizes ``k0s`` (default:
        all) and its standard error: ``mean_k d_k`` and ``sqrt(sum_k se_k^2) / K``, the
        repetitions of different sizes being independent draws (:meth:`difference`)."""
        sizes = sorted(self.gains["k0"].unique()) if k0s is None else list(k0s)
        if not sizes:
            raise ValueError("k0s must name at least one size.")
        parts = np.array([self.difference(method, baseline, int(k)) for k in sizes])
        return float(parts[:, 0].mean()), float(np.sqrt((parts[:, 1] ** 2).sum()) / len(sizes))

    def overlap(self) -> pd.DataFrame:
        """Number of points shared by every two fixed selections (methods by methods)."""
        names = list(self.selections)
        return pd.DataFrame([[np.intersect1d(self.selections[a], self.selections[b]).size
                              for b in names] for a in names],
                            index=pd.Index(names, name="method"), columns=names)

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


def point_addition(learner, data, candidates, scores, k0, *, n_add: int = 20,
                   n_repeats: int = 100, include_random: bool = True, stratify=True,
                   random_state=None, keep_sets: bool = False,
                   progress: bool = False) -> PointAdditionResults:
    """Accuracy gain from adding ``n_add`` selected points to random datasets of size ``k0``.

    Protocol (paper, Section 4.4 and Appendix C.4): the candidates are a subset of the pool;
    each repetition draws a class-stratified dataset D of size ``k0`` from the pool *without*
    the candidates, fits the model on D and on ``D + S`` for every method's selection S, and
    records ``accuracy(D + S) - accuracy(D)`` on the test set (percent). Methods: each entry
    of ``scores`` (its top ``n_add`` candidates, one fixed set, see :func:`select_points`) and,
    with ``include_random``, a fresh random set of candidates per repetition. The module
    docstring lists how this differs from the paper's reference code.

    Parameters
    ----------
    learner : :class:`~scaling_kit.learners.ExactLogisticRegression` (fast path: Newton's
        method on the exact objective, D + S warm-started from D) or any scikit-learn
        classifier with ``predict_proba`` (fitted with one seed per repetition, the same for
        D and every D + S).
    data : a :class:`scaling_kit.datasets.Dataset` or a tuple ``(X_pool, y_pool, X_test,
        y_test)``.
    candidates : pool indices of the candidate points (paper: 1000).
    scores : dict ``method -> Series`` of scores indexed by candidate (e.g. from
        :func:`selection_scores`), or ``method -> array`` aligned with ``candidates``.
    k0 : an int or a sequence of preceding-dataset sizes (paper: 100 and 1000; 200 and 2000).
    stratify : ``True`` / ``"proportional"`` (default): the best points of each class in the
        candidates' class proportions; ``"equal"``: the best ``n_add / K`` of each class, and a
        random baseline drawn the same way (the paper's reference code); ``False``: the
        overall top ``n_add``, which may all share one class and then hurt accuracy at small
        ``k0`` (an interaction effect the per-point law does not model).
    random_state : None, int, SeedSequence or Generator; repetition ``r`` at the ``i``-th size
        draws D, the random selection and the learner's seed from child ``(i, r)`` of its
        ``SeedSequence``.
    keep_sets : store every D and random selection (for checks; memory n_repeats * k0).
    """
    problem_data = as_problem(data)
    X_pool, y_pool = problem_data.X_pool, problem_data.y_pool
    X_test, y_test = problem_data.X_test, problem_data.y_test
    n_classes = problem_data.n_classes
    n_pool = len(y_pool)
    candidates = np.asarray(candidates)
    if candidates.ndim != 1 or candidates.size == 0 or candidates.dtype.kind not in "iu":
        raise ValueError("candidates must be a non-empty 1-D array of integer pool indices; "
                         f"got {candidates!r}.")
    if candidates.min() < 0 or candidates.max() >= n_pool:
        raise ValueError(f"candidates must index the pool (0..{n_pool - 1}).")
    if np.unique(candidates).size != candidates.size:
        raise ValueError("candidates must not repeat.")
    candidates = candidates.astype(np.int64)
    n_add = check_int(n_add, "n_add", low=1, high=candidates.size)
    n_repeats = check_int(n_repeats, "n_repeats", low=1)
    stratify = _check_stratify(stratify)
    k0s = check_sizes(k0, "k0")
    if not isinstance(scores, dict):
        raise TypeError(f"scores must be a dict method -> scores; got {type(scores).__name__}.")
    if not scores and not include_random:
        raise ValueError("scores is empty and include_random=False: nothing to compare.")
    rep_seqs = [seq.spawn(n_repeats) for seq in spawn_seeds(random_state, k0s.size)]

    # selections: fixed top-n_add sets, checked against the candidates
    selections = {}
    cand_set = set(candidates.tolist())
    cand_sizes = np.bincount(y_pool[candidates], minlength=n_classes)
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
                                         class_sizes=cand_sizes)
    if include_random and stratify == "equal":
        random_counts = _class_counts("equal", n_add, cand_sizes)
        by_class = [candidates[y_pool[candidates] == c] for c in range(n_classes)]
        short = [c for c in range(n_classes) if by_class[c].size < random_counts[c]]
        if short:
            raise ValueError(f"stratify='equal': classes {short} have fewer than "
                             f"{random_counts[0]} candidates; use more candidates.")
    rest = np.setdiff1d(np.arange(n_pool), candidates)
    sampler = StratifiedSampler(y_pool[rest], n_classes)
    for k in k0s:
        sampler.check_k(int(k), exclude_one=False)

    backend = get_backend(learner)  # exact logistic, batched torch or generic scikit-learn

    def accuracies(sets, seed):
        """Test accuracy (%) of the learner fitted on each of the equal-size index sets."""
        sets = np.asarray(sets)
        logp = backend.fit_log_proba(X_pool[sets], y_pool[sets], X_test, n_classes, seed=seed)
        return [_accuracy(lp, y_test) for lp in logp]

    methods = list(selections) + (["Random"] if include_random else [])
    gain_rows = {"k0": [], "repeat": [], "method": [], "gain": []}
    pre_rows = {"k0": [], "repeat": [], "accuracy": []}
    datasets, random_sets = {}, {}
    total = n_repeats * k0s.size
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="point addition", unit="rep")
    for ki, k in enumerate(k0s):
        k = int(k)
        keep_D = np.empty((n_repeats, k), np.int64) if keep_sets else None
        keep_R = np.empty((n_repeats, n_add), np.int64) if keep_sets and include_random \
            else None
        for r in range(n_repeats):
            rng = check_random_state(rep_seqs[ki][r])
            seed = int(rep_seqs[ki][r].spawn(1)[0].generate_state(1)[0])  # the learner's seed
            D = rest[sampler.draw(rng, k)]
            (acc_D,) = accuracies(D[None], seed)
            pre_rows["k0"].append(k)
            pre_rows["repeat"].append(r)
            pre_rows["accuracy"].append(acc_D)
            added = []
            for name in methods:
                if name == "Random":
                    if stratify == "equal":
                        S = np.concatenate([rng.choice(members, size=m, replace=False)
                                            for members, m in zip(by_class, random_counts)])
                    else:
                        S = rng.choice(candidates, size=n_add, replace=False)
                    if keep_R is not None:
                        keep_R[r] = S
                else:
                    S = selections[name]
                added.append(np.concatenate([D, S]))
            # every D + S of this repetition in one batched fit, with D's seed
            for name, acc in zip(methods, accuracies(added, seed), strict=True):
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
