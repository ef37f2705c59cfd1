"""Plan a profile before running it: fits, contributions, downloads and an estimated time.

``scaling-kit reproduce --profile paper --plan`` prints, per notebook, the number of model fits
and marginal contributions its sizes (:mod:`scaling_kit.profiles`) imply, an estimated run
time on this machine, and the datasets it will download.

How the time is estimated (rough, within a factor of about two):

* contributions and fits are timed by a short calibration run on this machine: each learner
  (exact logistic regression, MLP, SVM, scikit-learn's logistic regression) on a synthetic
  problem with the dataset's number of features, classes and test points, at the geometric
  middle of the k range, until about half a second has been measured;
* the rest of a notebook (simulations, estimator fits, plots) is scaled from the notebook's
  measured quick-profile time (the kernel CPU time of the last quick ``scaling-kit reproduce``
  run in the output folder, else :data:`MEASURED_QUICK_SECONDS`) by the ratio of its other
  work between the profiles.

* MLP contributions are costed by :func:`scaling_kit.mlp_cost.estimate_mlp_cost`, registered
  as ``COST_MODELS["mlp"]``: the fits the protocol needs (a shared D per round: sizes x samples
  x (points + 1)), their matrix-product flops, and seconds from a per-epoch timing of the
  batched trainer at a few sizes on one core.

* blocks that the notebooks run with :func:`scaling_kit.profiles.run_options` (``parallel``
  in :class:`Work`) are divided among the profile's worker processes (:func:`workers`: every
  core in the paper profile, one in the quick profile, ``SCALING_KIT_N_JOBS`` to choose).

Any learner's cost can be replaced by a dedicated model: register ``COST_MODELS[learner] = f``
with ``f(work, sizes) -> seconds`` (``work`` a :class:`Work`, ``sizes`` the notebook's
:class:`scaling_kit.profiles.Sizes`). Explicit ``rates`` given to :func:`plan` (and the nominal
rates of ``calibrate=False``) take precedence over a registered model.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field, replace

import numpy as np

from .config import cache_dir, figures_dir, get_profile
from .profiles import NOTEBOOKS, SIZES, dataset_choice, offline_setting, run_options, sizes

__all__ = ["COST_MODELS", "MEASURED_QUICK_SECONDS", "Plan", "Work", "mlp_contribution_seconds", "plan",
           "workers", "workload"]

#: (rows, features, classes) of every dataset a profile can load.
DATASET_SHAPES = {
    "breast_cancer": (569, 30, 2), "wine": (178, 13, 3), "iris": (150, 4, 3),
    "digits": (1797, 64, 10), "fair": (6366, 8, 2), "miniboone": (130_065, 50, 2),
}

#: Approximate download sizes (MB) of the datasets fetched from the network.
DOWNLOADS_MB = {"miniboone": 60}

#: Quick-profile run time of each notebook (seconds): the kernel CPU time measured with
#: ``scaling-kit reproduce`` on a 2-core x86-64 machine (see the README), close to an idle
#: machine's wall time; used when no earlier quick run is recorded in the output folder.
MEASURED_QUICK_SECONDS = {"01": 20.0, "02": 36.0, "03": 14.0, "04": 35.0, "05": 27.0}

#: Replaceable cost models of contributions: ``learner -> f(work, sizes) -> seconds``
#: (``"mlp"``: :func:`scaling_kit.mlp_cost.estimate_mlp_cost`, registered below).
COST_MODELS: dict = {}


@dataclass(frozen=True)
class Work:
    """One block of work in a notebook.

    ``kind``: ``"contributions"`` (marginal contributions; ``learner`` says which model),
    ``"fits"`` (single model fits, scikit-learn's logistic regression) or ``"other"``
    (simulations and estimator fits; ``count`` is in the notebook's own units, compared
    between profiles only). ``fits`` counts the models trained (D and each D + {z}).
    ``ks``: the dataset sizes of a block of contributions on a grid of sizes (empty when k is
    uniform on ``k_range``); ``n_samples``: samples per point and size; ``recipe``: ``"kit"``
    (the learner's defaults) or ``"reference"`` (the paper's reference code's recipe);
    ``parallel``: the notebook runs the block with :func:`scaling_kit.profiles.run_options`, so
    its contributions are shared among the profile's worker processes.
    """

    what: str
    kind: str
    count: int
    fits: int = 0
    learner: str = "logreg"
    dataset: str | None = None
    k_range: tuple = (100, 1000)
    n_test: int | None = None
    points: int = 1
    ks: tuple = ()
    n_samples: int = 0
    recipe: str = "kit"
    parallel: bool = False


def _ks(lo, hi, n) -> np.ndarray:
    return np.unique(np.geomspace(lo, hi, n).astype(int))


def _pool(name: str, n_test: int | None = None) -> int:
    rows = DATASET_SHAPES[name][0]
    test = n_test if n_test is not None else min(1000, round(0.25 * rows))
    return rows - test


def _shards(name: str) -> int:
    rows, _, classes = DATASET_SHAPES[name]
    return int(math.log2(max(_pool(name) / (5 * classes), 1))) + 1


def _contrib(what, learner, dataset, points, n_k, n_samples, k_range, n_test=None, ks=(),
             recipe="kit", parallel=False):
    """Contributions of ``points`` at ``n_k`` sizes (``ks`` if on a grid), ``n_samples`` each,
    with one D per (size, sample) shared by every point (the engine's default)."""
    points = min(points, _pool(dataset, n_test))
    count = int(points * n_k * n_samples)
    return Work(what, "contributions", count, fits=count + int(n_k * n_samples),
                learner=learner, dataset=dataset, k_range=tuple(k_range), n_test=n_test,
                points=points, ks=tuple(int(k) for k in ks), n_samples=int(n_samples),
                recipe=recipe, parallel=parallel)


def workload(notebook, profile: str | None = None) -> list:
    """The blocks of work (:class:`Work`) of one notebook under ``profile``."""
    s = sizes(notebook, profile)
    key = s.notebook
    if key == "01":
        link = s.link
        return [
            Work("learning curves: digits, fair (exercise)", "fits",
                 s.n_seeds * (_shards("digits") + _shards("fair")),
                 fits=s.n_seeds * (_shards("digits") + _shards("fair")), dataset="digits",
                 k_range=(50, 1300)),
            _contrib("aggregate-individual link", "logreg", "breast_cancer", link["points"],
                     len(link["ks"]), link["n_samples"], (min(link["ks"]), max(link["ks"])),
                     n_test=200),
            # exact-engine fits of single datasets: costed as unshared contributions (one D
            # per contribution, points=1), which fit about as much
            Work("learning curve of the link (exact fits at every k and k + 1)",
                 "contributions", link["n_datasets"] * 2 * len(link["ks"]),
                 fits=link["n_datasets"] * 2 * len(link["ks"]), dataset="breast_cancer",
                 k_range=(min(link["ks"]), max(link["ks"])), n_test=200, points=1),
            Work("coin model (two runs), NMT fits", "other", 2 * s.coin_trials),
        ]
    if key == "02":
        blocks = []
        for name, (lo, hi) in s.plan.items():
            ks = _ks(lo, hi, s.n_ks)
            blocks.append(_contrib(f"log-linear validation, logistic regression: {name}",
                                   "logreg", name, s.n_points, len(ks), s.n_samples, (lo, hi),
                                   ks=ks, parallel=True))
        m = s.models
        ks = _ks(*m["k_range"], m["n_ks"])
        n_k = len(ks)
        name = m["dataset"]
        points, samples = m["logreg"]
        blocks.append(_contrib(f"reference recipes, logistic regression: {name}", "logreg",
                               name, points, n_k, samples, m["k_range"], ks=ks,
                               recipe="reference", parallel=True))
        # the paper's MLP and SVM sizes (200 points x 5,000 samples) do not fit two cores: the
        # paper profile runs them reduced and says where the full run goes; the quick profile
        # leaves the SVM out (svm=None)
        reduced = (" [reduced from the paper's 200 points x 5,000 samples; full size: "
                   "docs/scale-out.md]" if s.profile == "paper" else "")
        # two MLP recipes (the reference's 25 steps cost less than the default's 200: the
        # calibration times the default, an upper bound)
        for recipe, key, kind in (("reference", "mlp", "reference"),
                                  ("kit default", "mlp_default", "kit")):
            points, samples = m[key]
            blocks.append(_contrib(f"log-linear validation, MLP ({recipe}): {name}{reduced}",
                                   "mlp", name, points, n_k, samples, m["k_range"], ks=ks,
                                   recipe=kind, parallel=True))
        if m["svm"] is not None:
            points, samples = m["svm"]
            blocks.append(_contrib(f"log-linear validation, SVM: {name}{reduced}", "svm", name,
                                   points, n_k, samples, m["k_range"], ks=ks, parallel=True))
        wl = s.which_loss
        blocks.append(_contrib("which loss (four metrics, same fits)", "logreg", "breast_cancer",
                               wl["n_points"], len(wl["ks"]), wl["n_samples"],
                               (min(wl["ks"]), max(wl["ks"])), n_test=wl["test_size"],
                               parallel=True))
        noise = s.noise
        blocks.append(Work("MLP initialization noise (two recipes)", "other",
                           4 * noise["n_datasets"] * noise["n_seeds"]))
        return blocks
    if key == "03":
        # units of about one microsecond of CPU (measured on the quick profile): Newton fits
        # cost in proportion to k, OLS draws per (dataset, size, point), the rest is fixed
        ols = s.ols_datasets * (3 * len(s.ols_ks) + 14) + 9 * s.noise_draws
        logit = s.logit_datasets * sum(s.logit_ks)
        return [Work("OLS simulations (datasets x sizes x points)", "other", ols),
                Work("logistic simulations (Newton fits, datasets x k)", "other", logit),
                Work("random test sets", "other", 100 * s.n_test_sets),
                Work("imports and figures", "other", 7_000_000)]
    if key == "04":
        real = s.real
        lo, hi = real["fit_range"]
        lin = s.loglinear
        n_fit = max(real["n_samples"])
        # units: sampled contributions fitted (log-linear study, the four estimators of the
        # comparison over every n, the real-data fits) plus Adam's fixed cost of 1000 steps
        simulated = (lin["n_points"] * lin["n_ks"] * sum(lin["n_per_k"])
                     + 4 * s.n_points * sum(s.n_samples) + 50_000 * len(s.n_samples)
                     + 4 * s.prior_points * min(s.n_samples) + 100_000)
        return [
            Work("simulated laws: log-linear study and the four estimators", "other", simulated),
            Work("estimators on the engine's contributions", "other",
                 3 * real["n_points"] * sum(real["n_samples"]) + 50_000 * len(real["n_samples"])),
            _contrib(f"contributions for fitting: {real['dataset']}", "logreg", real["dataset"],
                     real["n_points"], 1, n_fit, (lo, hi), parallel=True),
            _contrib(f"ground-truth contributions: {real['dataset']}", "logreg", real["dataset"],
                     real["n_points"], len(real["truth_ks"]), real["n_truth"],
                     (min(real["truth_ks"]), max(real["truth_ks"])), parallel=True),
        ]
    if key == "05":
        tiny = s.tiny
        # point addition: per repetition D, then D + S for "Scaling k" at every k0, Shapley and
        # Random; two selection metrics (error, log loss) and the paper's equal-count rule
        per_rep = 1 + len(s.k0) + 2
        additions = 3 * s.n_repeats * len(s.k0) * per_rep
        sweep = s.grid_repeats * len(s.k0_grid) * (1 + 3 + 1)  # Scaling 100/1000, Shapley
        # exact-engine fits of single datasets: costed as unshared contributions (one D per
        # fit, points=1), as in notebook 01
        return [
            _contrib("exact Shapley values on a 10-point pool (Monte Carlo side)", "logreg",
                     "fair", len(tiny["points"]), 1, tiny["n_samples"], tiny["k_range"]),
            _contrib(f"ground truth: {s.dataset}", "logreg", s.dataset, s.n_points, 1,
                     s.n_truth, s.k_range),
            _contrib(f"estimator samples: {s.dataset}", "logreg", s.dataset, s.n_points, 1,
                     max(s.n_samples), s.k_range),
            Work(f"point addition, Tables 5-8: {s.dataset}", "contributions", additions,
                 fits=additions, dataset=s.dataset, k_range=(min(s.k0), max(s.k0)), points=1),
            Work(f"point addition over k0 (explorer): {s.dataset}", "contributions", sweep,
                 fits=sweep, dataset=s.dataset, k_range=(min(s.k0_grid), max(s.k0_grid)),
                 points=1),
            Work("likelihood and amortized estimators, bootstrap", "other",
                 s.n_points * len(s.n_samples) + s.n_boot),
        ]
    raise AssertionError(key)  # pragma: no cover - sizes() validated the key


# ------------------------------------------------------------------------------------------
# calibration: a short timing run on this machine
# ------------------------------------------------------------------------------------------
_RATES: dict = {}


def _synthetic(dataset: str, n_pool: int, n_test: int, seed: int = 0):
    _, p, n_classes = DATASET_SHAPES[dataset]
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((n_classes, p))

    def draw(n):
        y = np.arange(n) % n_classes
        return means[y] + 1.5 * rng.standard_normal((n, p)), y.astype(np.int64)

    return (*draw(n_pool), *draw(n_test))


def _learner(name: str):
    if name == "logreg":
        from .learners import ExactLogisticRegression

        return ExactLogisticRegression(C=1.0)
    if name == "mlp":
        from .mlp import BatchedMLPClassifier

        return BatchedMLPClassifier(hidden=32, n_epochs=200)
    if name == "svm":
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        return CalibratedClassifierCV(SVC(kernel="rbf"), method="sigmoid", ensemble=False)
    raise ValueError(f"unknown learner {name!r}")


def _seconds_per_unit(work: Work, budget: float = 0.5) -> float:
    """Seconds per contribution (or per fit), timed on a synthetic problem of the same shape."""
    k = int(round(math.sqrt(work.k_range[0] * work.k_range[1])))
    n_test = work.n_test or min(1000, round(0.25 * DATASET_SHAPES[work.dataset][0]))
    # as many points share each drawn D as in the real run (the engine's throughput grows
    # with them), up to 1,000 for logistic regression and 8 for the slower learners
    points = min(work.points, 1000 if work.learner == "logreg" else 8)
    key = (work.kind, work.learner, work.dataset, k, n_test, points)
    if key in _RATES:
        return _RATES[key]
    n_pool = max(2 * k + 50, 400, points + k)
    X, y, Xt, yt = _synthetic(work.dataset, n_pool, n_test)
    rng = np.random.default_rng(1)
    if work.kind == "fits":
        from sklearn.linear_model import LogisticRegression

        n, spent = 0, 0.0
        while spent < budget and n < 200:
            idx = rng.choice(n_pool, min(k, n_pool), replace=False)
            start = time.perf_counter()
            LogisticRegression(max_iter=1000).fit(X[idx], y[idx]).predict_proba(Xt)
            spent += time.perf_counter() - start
            n += 1
        rate = spent / n
    else:
        from .contributions import sample_contributions

        learner = _learner(work.learner)
        n_samples, spent, count = 1, 0.0, 0
        while spent < budget and n_samples <= 256:
            start = time.perf_counter()
            table = sample_contributions(learner, (X, y, Xt, yt), np.arange(points), k=[k],
                                         n_samples=n_samples, random_state=0, progress=False)
            spent += time.perf_counter() - start
            count += len(table)
            n_samples *= 2
        rate = spent / max(count, 1)
    _RATES[key] = rate
    return rate


def _measured_quick(out=None) -> dict:
    """Quick-profile seconds per notebook: the last recorded run, else the shipped table."""
    measured = dict(MEASURED_QUICK_SECONDS)
    try:
        path = figures_dir(out) / "run.json"
        data = json.loads(path.read_text())
        if data.get("profile") == "quick":
            for nb in data.get("notebooks", []):
                if nb.get("status") == "ok":  # kernel CPU time: steadier than wall time
                    measured[nb["number"]] = float(nb.get("cpu_seconds") or nb["seconds"])
    except (OSError, ValueError, KeyError):
        pass
    return measured


def _repeated_blocks(blocks: list, used: dict) -> list:
    """``blocks`` (``[(Work, seconds)]``) with a parallel block that repeats an earlier one on
    the same loaded dataset (offline, a stand-in for a dataset the notebook also lists: the
    same points, sizes and seed) listed with no fits, contributions or time, and labelled:
    notebooks analyse each dataset once (:func:`scaling_kit.profiles.distinct_datasets`)."""
    seen, out = set(), []
    for work, seconds in blocks:
        key = (work.kind, work.learner, work.recipe, used.get(work.dataset, work.dataset),
               work.points, work.ks, work.n_samples, work.k_range, work.n_test)
        if work.parallel and key in seen:
            work = replace(work, what=work.what + " [the same data as a block above: "
                                       "run once]", count=0, fits=0)
            seconds = 0.0
        elif work.parallel:
            seen.add(key)
        out.append((work, seconds))
    return out


# ------------------------------------------------------------------------------------------
# the plan
# ------------------------------------------------------------------------------------------
@dataclass
class Plan:
    """What a profile will run: per notebook its blocks of work and estimated seconds."""

    profile: str
    notebooks: dict                  # number -> list of (Work, seconds)
    seconds: dict                    # number -> estimated seconds
    downloads: list                  # (dataset, MB, cached: bool)
    stand_ins: list                  # labels of offline stand-ins
    calibration_seconds: float
    notes: list = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        """Estimated seconds for every planned notebook together."""
        return float(sum(self.seconds.values()))

    def counts(self, number: str) -> tuple:
        """``(model fits, contributions)`` of one notebook."""
        blocks = [w for w, _ in self.notebooks[number]]
        return (sum(w.fits for w in blocks),
                sum(w.count for w in blocks if w.kind == "contributions"))

    def as_text(self) -> str:
        """The plan as the printed table of ``scaling-kit reproduce --plan``."""
        from .report import _duration

        lines = [f"Plan for the {self.profile} profile (estimated on this machine, "
                 f"{os.cpu_count()} cores; calibration took {self.calibration_seconds:.1f} s)",
                 ""]
        header = f"{'notebook':40s} {'model fits':>14s} {'contributions':>14s} {'time':>12s}"
        lines += [header, "-" * len(header)]
        for number, blocks in self.notebooks.items():
            fits, contributions = self.counts(number)
            lines.append(f"{NOTEBOOKS[number]:40s} {fits:>14,d} {contributions:>14,d} "
                         f"{'~' + _duration(self.seconds[number]):>12s}")
            for work, secs in blocks:
                shown = (f"{work.count:,} contributions" if work.kind == "contributions"
                         else f"{work.count:,} fits" if work.kind == "fits"
                         else "scaled from the quick run")
                lines.append(f"    {work.what} ({shown}): ~{_duration(secs)}")
        lines += ["-" * len(header),
                  f"{'total':40s} {'':>14s} {'':>14s} {'~' + _duration(self.total_seconds):>12s}",
                  ""]
        if self.downloads:
            for name, mb, cached in self.downloads:
                state = "already in the cache" if cached else f"about {mb} MB, downloaded once"
                lines.append(f"Downloads: {name} ({state}) into {cache_dir()}")
            lines.append("Offline? `scaling-kit reproduce --offline` uses bundled stand-ins ("
                         + offline_setting() + "), labelled as such.")
        else:
            lines.append("Downloads: none.")
        if self.stand_ins:
            lines.append("Offline stand-ins: " + "; ".join(self.stand_ins) + ".")
        lines += [f"Note: {note}" for note in self.notes]
        return "\n".join(lines)


def workers(profile: str | None = None) -> int:
    """Worker processes that share a ``parallel`` block under ``profile`` on this machine:
    ``n_jobs`` of :func:`scaling_kit.profiles.run_options` (-1: every core), at most the cores."""
    cores = os.cpu_count() or 1
    n_jobs = run_options(profile).get("n_jobs", 1)
    return cores if n_jobs == -1 else max(1, min(n_jobs, cores))


def plan(*, profile: str | None = None, only=None, offline: bool = False, calibrate: bool = True,
         rates: dict | None = None, out=None) -> Plan:
    """Plan ``profile``: counts per notebook, estimated seconds, downloads.

    ``rates`` (``{(kind, learner): seconds per unit}``) replaces the calibration (tests);
    ``calibrate=False`` without ``rates`` uses nominal rates and says so.
    """
    profile = get_profile(profile)
    numbers = list(NOTEBOOKS)
    if only:
        from .reproduce import _select

        numbers = _select({n: None for n in NOTEBOOKS}, only)
    saved = os.environ.get("SCALING_KIT_DATASETS")
    if offline:
        os.environ["SCALING_KIT_DATASETS"] = offline_setting()
    try:
        choices = {n: [dataset_choice(d) for d in SIZES[n][profile]["datasets"]] for n in numbers}
    finally:
        if offline:
            if saved is None:
                os.environ.pop("SCALING_KIT_DATASETS", None)
            else:
                os.environ["SCALING_KIT_DATASETS"] = saved
    used = {c.requested: c.used for cs in choices.values() for c in cs}
    nominal = {("contributions", "logreg"): 1e-4, ("contributions", "mlp"): 5e-3,
               ("contributions", "svm"): 2e-2, ("fits", "logreg"): 5e-3}
    notes = []
    if rates is None and not calibrate:
        rates = nominal
        notes.append("not calibrated: nominal rates (run without calibrate=False to time "
                     "this machine)")

    n_workers = workers(profile)

    def cost(work: Work, s) -> float:
        # a parallel block's contributions are shared among the profile's worker processes
        share = n_workers if work.parallel and s.profile == profile else 1
        return _cost(work, s) / share

    def _cost(work: Work, s) -> float:
        if work.kind == "other":
            return 0.0
        # the dataset actually loaded (an offline stand-in has its own shape)
        work = Work(**{**work.__dict__, "dataset": used.get(work.dataset, work.dataset)})
        key = (work.kind, work.learner)
        if rates is not None and key in rates:
            return work.count * rates[key]
        if work.learner in COST_MODELS and work.kind == "contributions":
            models_used.add(work.learner)
            return float(COST_MODELS[work.learner](work, s))
        if rates is not None:
            return work.count * rates[key]  # KeyError names the missing rate
        return work.count * _seconds_per_unit(work)

    models_used: set = set()

    start = time.perf_counter()
    measured = _measured_quick(out)
    blocks, seconds = {}, {}
    for number in numbers:
        target = [(w, cost(w, sizes(number, profile))) for w in workload(number, profile)]
        target = _repeated_blocks(target, used)
        quick = [(w, cost(w, sizes(number, "quick"))) for w in workload(number, "quick")]
        other_quick = sum(w.count for w, _ in quick if w.kind == "other")
        other_target = sum(w.count for w, _ in target if w.kind == "other")
        rest = max(measured[number] - sum(c for _, c in quick), 0.1 * measured[number])
        scale = other_target / other_quick if other_quick else 1.0
        target = [(w, c if w.kind != "other" else rest * scale * w.count / max(other_target, 1))
                  for w, c in target]
        if not other_target:
            target.append((Work("imports, plots, small fits", "other", 0), rest))
        blocks[number] = target
        seconds[number] = sum(c for _, c in target)
    downloads = []
    for name in sorted({c.used for cs in choices.values() for c in cs}):
        if name in DOWNLOADS_MB:
            downloads.append((name, DOWNLOADS_MB[name], (cache_dir() / f"{name}.npz").is_file()))
    stand_ins = sorted({c.label for cs in choices.values() for c in cs if c.stand_in})
    for learner in sorted(models_used):
        model = COST_MODELS[learner]
        notes.append(f"{learner} contributions costed by "
                     f"{getattr(model, '__qualname__', repr(model))} "
                     "(scaling_kit.plan.COST_MODELS); single-core seconds.")
    if n_workers > 1:
        notes.append(f"blocks that the notebooks run with scaling_kit.profiles.run_options "
                     f"(n_jobs) are shared among {n_workers} worker processes; the others run "
                     "in one.")
    return Plan(profile, blocks, seconds, downloads, stand_ins,
                calibration_seconds=time.perf_counter() - start, notes=notes)


def mlp_contribution_seconds(work: Work, sizes) -> float:
    """Single-core seconds of a block of MLP contributions, by the MLP cost model.

    Calls :func:`scaling_kit.mlp_cost.estimate_mlp_cost` with the block's dataset shape
    (:data:`DATASET_SHAPES`), points, samples and sizes (``work.ks``, else k uniform on
    ``work.k_range``), the kit's shared-D protocol, and the network notebook 02 trains:
    the reference code's recipe (:meth:`scaling_kit.mlp.BatchedMLPClassifier.reference`: two
    hidden layers of 32, 25 full-batch epochs) when ``work.recipe == "reference"``, else the
    kit's default :class:`scaling_kit.mlp.BatchedMLPClassifier` (one hidden layer of 32, 200
    epochs). Registered as ``COST_MODELS["mlp"]``; ``sizes`` is unused (the signature of a
    cost model).
    """
    from .mlp import BatchedMLPClassifier
    from .mlp_cost import estimate_mlp_cost

    _, n_features, n_classes = DATASET_SHAPES[work.dataset]
    n_test = work.n_test or min(1000, round(0.25 * DATASET_SHAPES[work.dataset][0]))
    learner = (BatchedMLPClassifier.reference() if work.recipe == "reference"
               else BatchedMLPClassifier())
    n_samples = work.n_samples or max(work.fits - work.count, 1)
    grid = dict(ks=list(work.ks)) if work.ks else dict(k_range=tuple(work.k_range))
    estimate = estimate_mlp_cost(learner, n_features=n_features, n_classes=n_classes,
                                 n_points=work.points, n_samples=n_samples, n_test=n_test,
                                 share_datasets=True, **grid)
    return estimate.seconds


COST_MODELS["mlp"] = mlp_contribution_seconds
