"""How much of a marginal contribution is optimization noise, and what a shared initialization does.

A network's fit depends on its initialization as well as on its data, so a sampled contribution
``Delta(z, D, s) = loss(D; s) - loss(D + {z}; s)`` (docs/math.md §3) carries the noise of the
seed ``s`` on top of the noise of the draw of D. Two measurements:

* :func:`seed_noise`: one fixed (D, z), refitted with many seeds. ``delta_crn`` uses the same
  seed for D and D + {z} (common random numbers, what the contribution engine does);
  ``delta_independent`` pairs the fit on D with seed s and the fit on D + {z} with another seed.
* :func:`init_noise`: many draws of D (size k) crossed with many seeds, ``Delta[d, s]``, and the
  two-way variance decomposition (balanced random-effects ANOVA) that compares the two ways of
  seeding the fits of a contribution estimate ``mean over samples of Delta``:

  - one initialization per sampled dataset (the kit's default: the engine passes a seed per
    round): a sample's variance is the total variance ``Var[Delta]`` over (D, s), and the mean
    of n samples has variance ``Var[Delta] / n``;
  - one initialization shared by every fit (the paper's reference code, ``init="shared"``): a
    sample's variance is the within-seed variance over D, ``V_D = E_s Var_D[Delta | s]``,
    usually far smaller, but every sample uses the same seed, so the estimate converges to the
    law *of that initialization*, which differs from the seed-averaged law by a seed effect of
    variance ``V_s = Var_s(E_D[Delta | s])`` that no number of samples averages away:
    ``Var[mean] = V_D / n + V_s``.

  ``V_s`` is estimated by ``Var_s(row means) - V_D / n_datasets`` (clipped at 0), ``V_D`` by the
  mean within-seed variance, the pure optimization noise by ``E_D Var_s[Delta | D]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone

from ._checks import as_problem, check_array, check_int, check_labels, spawn_seeds
from .metrics import check_metrics, losses_from_proba
from .results import Summary
from .sampling import StratifiedSampler

__all__ = ["InitNoiseResult", "SeedNoiseResult", "init_noise", "seed_noise"]


def _per_call(learner):
    """The learner with one initialization per call (seeds must matter to measure their noise)."""
    if getattr(learner, "init", None) == "shared":
        return clone(learner).set_params(init="per_call")
    return learner


def _fit_many(learner, Xs, ys, X_test, n_classes, seeds):
    """Probabilities (B, n_test, K) of B fits with one seed each, batched when the learner can;
    scikit-learn estimators (and the exact logistic regression) are cloned and fitted."""
    if hasattr(learner, "fit_predict_proba_batch"):
        return learner.fit_predict_proba_batch(Xs, ys, X_test, n_classes,
                                               random_state=[int(s) for s in seeds])
    from .learners import SklearnClassifier

    adapter = learner if hasattr(learner, "fit_predict_proba") else SklearnClassifier(learner)
    return np.stack([adapter.fit_predict_proba(X, y, X_test, n_classes, random_state=int(s))
                     for X, y, s in zip(Xs, ys, seeds, strict=True)])


def _seed_list(seeds, name="seeds"):
    seeds = np.array([check_int(s, f"{name}[i]", low=0) for s in seeds], dtype=np.int64)
    if len(seeds) < 2:
        raise ValueError(f"{name} must hold at least two seeds; got {len(seeds)}.")
    if np.unique(seeds).size != seeds.size:
        raise ValueError(f"{name} must not repeat; got {seeds.tolist()}.")
    return seeds


# ------------------------------------------------------------------------------------------
# one (D, z), many seeds
# ------------------------------------------------------------------------------------------
@dataclass
class SeedNoiseResult:
    """Optimization noise of one marginal contribution, measured by refitting with many seeds.

    ``loss_D[s]``, ``loss_Dz[s]``: test loss of the fits on D and D + {z} with seed s;
    ``delta_crn[s] = loss_D[s] - loss_Dz[s]`` (same seed for both fits: common random numbers);
    ``delta_independent[s] = loss_D[s] - loss_Dz[s+1 mod S]`` (different seeds).
    """

    seeds: np.ndarray
    loss_D: np.ndarray
    loss_Dz: np.ndarray
    delta_crn: np.ndarray
    delta_independent: np.ndarray
    metric: str = "log_loss"

    @property
    def mean_delta(self) -> float:
        """Mean contribution with a common seed for D and D + {z}."""
        return float(np.mean(self.delta_crn))

    @property
    def std_loss(self) -> float:
        """Standard deviation over seeds of the test loss of the fit on D."""
        return float(np.std(self.loss_D, ddof=1))

    @property
    def std_delta_crn(self) -> float:
        """Standard deviation over seeds of Delta with one seed shared by D and D + {z}."""
        return float(np.std(self.delta_crn, ddof=1))

    @property
    def std_delta_independent(self) -> float:
        """Standard deviation over seeds of Delta with independent seeds for D and D + {z}."""
        return float(np.std(self.delta_independent, ddof=1))

    def summary(self) -> Summary:
        """Loss and contribution noise over seeds, with and without common random numbers."""
        crn = self.std_delta_crn
        snr = abs(self.mean_delta) / crn if crn > 0 else np.inf
        table = pd.DataFrame(
            {"value": [self.mean_delta, self.std_loss, crn, self.std_delta_independent, snr]},
            index=["mean contribution (same seed)", "std of test loss on D",
                   "std of contribution, same seed", "std of contribution, other seeds",
                   "|mean| / std (same seed)"],
        )
        return Summary(
            title=f"Optimization noise of one contribution over {len(self.seeds)} seeds",
            facts={"metric": self.metric, "seeds": len(self.seeds)},
            tables={"": table},
            notes=["Same D and z refitted with each seed; 'same seed' uses one seed for the "
                   "fits on D and D + {z} (common random numbers)."],
        )


def seed_noise(learner, X_D, y_D, x_z, y_z, X_test, y_test, n_classes, *, seeds=range(20),
               metric="log_loss"):
    """Refit the same D and D + {z} with several seeds and measure the spread of the contribution.

    The paper (Sections 2.1 and 4.1) attributes poorly fitting log-linear laws to noise in the
    estimated means; this isolates the part due to optimization (initialization, shuffling), with
    the data held fixed. ``learner`` follows the learner protocol with a ``random_state``
    argument (e.g. :class:`scaling_kit.mlp.BatchedMLPClassifier`, batched when it can; one with
    ``init="shared"`` is measured with ``init="per_call"``, since its seeds are what varies).
    ``metric``: a test loss of :mod:`scaling_kit.metrics`.
    """
    seeds = _seed_list(seeds)
    (metric,) = check_metrics(metric)
    X_D = check_array(X_D, "X_D")
    y_D = check_labels(y_D, "y_D", X_D.shape[0])
    x_z = check_array(np.asarray(x_z, dtype=float).reshape(1, -1), "x_z")
    X_test = check_array(X_test, "X_test")
    y_test = check_labels(y_test, "y_test", X_test.shape[0])
    if x_z.shape[1] != X_D.shape[1] or X_test.shape[1] != X_D.shape[1]:
        raise ValueError(f"x_z and X_test must have {X_D.shape[1]} features like X_D; got "
                         f"{x_z.shape[1]} and {X_test.shape[1]}.")
    y_z = check_int(y_z, "y_z", low=0, high=n_classes - 1)
    learner = _per_call(learner)
    X_Dz = np.concatenate([X_D, x_z])
    y_Dz = np.append(y_D, y_z)
    S = len(seeds)
    P_D = _fit_many(learner, np.broadcast_to(X_D, (S,) + X_D.shape),
                    np.broadcast_to(y_D, (S,) + y_D.shape), X_test, n_classes, seeds)
    P_Dz = _fit_many(learner, np.broadcast_to(X_Dz, (S,) + X_Dz.shape),
                     np.broadcast_to(y_Dz, (S,) + y_Dz.shape), X_test, n_classes, seeds)
    loss_D = losses_from_proba(P_D, y_test, metric)[metric]
    loss_Dz = losses_from_proba(P_Dz, y_test, metric)[metric]
    return SeedNoiseResult(seeds=seeds, loss_D=loss_D, loss_Dz=loss_Dz,
                           delta_crn=loss_D - loss_Dz,
                           delta_independent=loss_D - np.roll(loss_Dz, -1), metric=metric)


# ------------------------------------------------------------------------------------------
# many D crossed with many seeds
# ------------------------------------------------------------------------------------------
@dataclass
class InitNoiseResult:
    """Contributions of one point over draws of D crossed with initialization seeds.

    ``deltas[d, s]``: contribution with the d-th dataset and seed s (same seed for D and
    D + {z}); ``deltas_independent[d, s]``: the fit on D with seed s against the fit on
    D + {z} with the next seed (no common random numbers). Variance components (module
    docstring): ``var_total``, ``var_data`` (``V_D``, within seed), ``var_seed_effect``
    (``V_s``), ``var_optimization`` (within dataset), ``var_independent``. ``datasets[d]``:
    the pool indices of the d-th D.
    """

    point: int
    k: int
    seeds: np.ndarray
    deltas: np.ndarray
    deltas_independent: np.ndarray
    datasets: np.ndarray
    metric: str = "log_loss"

    @property
    def mean(self) -> float:
        """Mean contribution over every (dataset, seed) pair."""
        return float(self.deltas.mean())

    @property
    def var_total(self) -> float:
        """Variance of a sample when every sampled dataset gets its own seed."""
        return float(np.var(self.deltas, ddof=1))

    @property
    def var_independent(self) -> float:
        """Variance of a sample when D and D + {z} are fitted with different seeds."""
        return float(np.var(self.deltas_independent, ddof=1))

    @property
    def var_data(self) -> float:
        """``V_D``: mean over seeds of the variance over datasets (a shared seed's samples)."""
        return float(np.mean(np.var(self.deltas, axis=0, ddof=1)))

    @property
    def var_optimization(self) -> float:
        """Mean over datasets of the variance over seeds (pure optimization noise)."""
        return float(np.mean(np.var(self.deltas, axis=1, ddof=1)))

    @property
    def var_seed_effect(self) -> float:
        """``V_s``: variance over seeds of the seed's own expected contribution (clipped at 0)."""
        n_datasets = self.deltas.shape[0]
        raw = np.var(self.deltas.mean(axis=0), ddof=1) - self.var_data / n_datasets
        return float(max(raw, 0.0))

    @property
    def variance_reduction(self) -> float:
        """``var_total / var_data``: how much smaller a shared seed's per-sample variance is."""
        return self.var_total / self.var_data if self.var_data > 0 else np.inf

    def std_of_mean(self, n_samples) -> pd.DataFrame:
        """Standard deviation of the mean of ``n_samples`` contributions, per seeding scheme.

        ``per_dataset_seed = sqrt(var_total / n)``; ``shared_seed = sqrt(var_data / n + V_s)``
        (around the seed-averaged law; the V_s part is a fixed offset of the shared seed).
        """
        n = np.atleast_1d(np.asarray(n_samples, dtype=float))
        return pd.DataFrame({
            "per_dataset_seed": np.sqrt(self.var_total / n),
            "shared_seed": np.sqrt(self.var_data / n + self.var_seed_effect),
        }, index=pd.Index(n.astype(int), name="n_samples"))

    def summary(self) -> Summary:
        """The variance components (datasets, seeds, interaction) and the effect of seed sharing."""
        table = pd.DataFrame({"variance": [self.var_independent, self.var_total, self.var_data,
                                           self.var_optimization, self.var_seed_effect]},
                             index=["other seed for D + {z} (no common random numbers)",
                                    "one seed per dataset, shared by D and D + {z}",
                                    "one seed for every dataset (over datasets, seed fixed)",
                                    "over seeds, dataset fixed", "seed effect on the mean"])
        table["std"] = np.sqrt(table["variance"])
        return Summary(
            title=f"Initialization noise of the contribution of point {self.point} at k = {self.k}",
            facts={"metric": self.metric, "datasets": self.deltas.shape[0],
                   "seeds": self.deltas.shape[1], "mean contribution": self.mean,
                   "variance reduction of common random numbers":
                       self.var_independent / self.var_total if self.var_total > 0 else np.inf,
                   "variance reduction of a shared seed": self.variance_reduction},
            tables={"Variance components": table,
                    "Std of a mean of n samples": self.std_of_mean([100, 1000, 5000])},
            notes=["A shared initialization (the paper's reference code) removes the seed "
                   "noise from every sample, but its estimates converge to the law of that one "
                   "initialization: 'seed effect on the mean' is the variance of that offset."],
        )


def init_noise(learner, data, point, k, *, n_datasets=20, n_seeds=10, metric="log_loss",
               allow_z_in_D=False, random_state=None):
    """Contributions of ``point`` at size ``k`` for ``n_datasets`` draws of D x ``n_seeds`` seeds.

    D is drawn class-balanced (:class:`scaling_kit.sampling.StratifiedSampler`) from the pool
    without z (with z allowed when ``allow_z_in_D``, as the reference code does). Seeds are
    drawn from ``random_state``; a learner with ``init="shared"`` is measured with
    ``init="per_call"``. Returns :class:`InitNoiseResult` (variance decomposition in the module
    docstring). Cost: ``2 * n_datasets * n_seeds`` fits, batched when the learner can.
    """
    problem = as_problem(data)
    point = check_int(point, "point", low=0, high=len(problem.y_pool) - 1)
    k = check_int(k, "k", low=2)
    n_datasets = check_int(n_datasets, "n_datasets", low=2)
    n_seeds = check_int(n_seeds, "n_seeds", low=2)
    (metric,) = check_metrics(metric)
    data_seed, init_seed = spawn_seeds(random_state, 2)
    rng = np.random.default_rng(data_seed)
    seeds = np.random.default_rng(init_seed).choice(2**31, size=n_seeds, replace=False)
    sampler = StratifiedSampler(problem.y_pool, problem.n_classes)
    sampler.check_k(k, exclude_one=not allow_z_in_D)
    Ds = np.stack([sampler.draw(rng, k, exclude=None if allow_z_in_D else point)
                   for _ in range(n_datasets)])
    learner = _per_call(learner)
    X, y = problem.X_pool, problem.y_pool
    XD = np.repeat(X[Ds], n_seeds, axis=0)  # (n_datasets * n_seeds, k, p): dataset-major
    yD = np.repeat(y[Ds], n_seeds, axis=0)
    XDz = np.concatenate([XD, np.broadcast_to(X[point], (len(XD), 1, X.shape[1]))], axis=1)
    yDz = np.concatenate([yD, np.full((len(yD), 1), y[point])], axis=1)
    run_seeds = np.tile(seeds, n_datasets)
    losses = []
    for Xs, ys in [(XD, yD), (XDz, yDz)]:
        P = _fit_many(learner, Xs, ys, problem.X_test, problem.n_classes, run_seeds)
        losses.append(losses_from_proba(P, problem.y_test, metric)[metric])
    loss_D, loss_Dz = (loss.reshape(n_datasets, n_seeds) for loss in losses)
    return InitNoiseResult(point=point, k=k, seeds=seeds, deltas=loss_D - loss_Dz,
                           deltas_independent=loss_D - np.roll(loss_Dz, -1, axis=1),
                           datasets=Ds, metric=metric)
