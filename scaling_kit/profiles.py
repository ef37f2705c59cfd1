"""Every notebook's run sizes, per profile, in one place; the datasets each profile uses.

The notebooks read their sizes from here (``S = profiles.sizes("03")``, then ``S.ols_datasets``)
and so does ``scaling-kit reproduce --plan`` (:mod:`scaling_kit.plan`), which turns them into
counts of model fits and contributions and an estimated run time before anything runs.

Profiles (``SCALING_KIT_PROFILE``, :func:`scaling_kit.get_profile`):

* ``quick``: bundled data, sizes that run in minutes on a laptop (CI and the README's command);
* ``paper``: the paper's protocol (Covert et al., ICML 2024, Section 4: k = 10 log-spaced sizes
  in [100, 1000], 1,000 samples per (point, k), MiniBooNE from OpenML).

Offline, the paper profile's downloaded datasets can be replaced by bundled stand-ins:
``scaling-kit reproduce --offline`` or ``SCALING_KIT_DATASETS`` (see :func:`dataset_choice`).
Notebooks load datasets through :func:`load_dataset`, which applies the stand-ins and returns
the label to show ("fair (offline stand-in for miniboone)") so a stand-in is never mistaken
for the paper's dataset; the main job's report lists them too.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass

from .config import get_profile

__all__ = [
    "NOTEBOOKS",
    "SIZES",
    "RUN_OPTIONS",
    "DEFAULT_STAND_INS",
    "Sizes",
    "DatasetChoice",
    "sizes",
    "run_options",
    "dataset_choice",
    "distinct_datasets",
    "load_dataset",
    "profile_datasets",
    "offline_setting",
]

#: The notebooks in teaching order: number -> file stem.
NOTEBOOKS = {
    "01": "01_aggregate_power_laws",
    "02": "02_individual_scaling_laws",
    "03": "03_theory_checks",
    "04": "04_estimators",
    "05": "05_valuation_and_point_addition",
}

#: Run sizes: notebook -> profile -> {name: value}. Names are the notebooks' own variables in
#: lower case. ``datasets`` lists every dataset the notebook loads (downloaded ones included);
#: ``seed`` is the base seed of the notebook's random streams.
SIZES = {
    "01": {
        # link: contributions of every point of the breast-cancer pool (569 rows - 200 test =
        # 369 points) at each k; the learning curve at every k and k + 1 (n_datasets draws each)
        "quick": dict(
            datasets=("digits", "breast_cancer", "fair"), seed=0,
            n_seeds=3,                       # learning-curve repetitions (digits; fair: exercise)
            coin_trials=20_000,              # Monte Carlo trials of the coin model, per size
            link=dict(ks=(10, 20, 40, 80), points=369, n_samples=60, n_datasets=1500),
        ),
        "paper": dict(
            datasets=("digits", "breast_cancer", "fair"), seed=0,
            n_seeds=10,
            coin_trials=200_000,
            link=dict(ks=(10, 14, 20, 28, 40, 57, 80), points=369, n_samples=1000,
                      n_datasets=5000),
        ),
    },
    "02": {
        "quick": dict(
            datasets=("breast_cancer",), seed=0,
            # sections 1-4: the kit's logistic regression (log loss, z never in D)
            plan={"breast_cancer": (20, 200)},   # dataset -> k range
            n_ks=6,                          # log-spaced sizes per k range (paper: 10)
            n_points=60, n_samples=160,
            n_boot=200,                      # bootstrap replicates (Monte Carlo error)
            # section 5: model classes with the reference code's recipes, smoke scale; each
            # model: (points, samples per (point, k)). The SVM (5-fold calibrated fits, the
            # costliest per contribution) runs in the paper profile only: None here
            models=dict(dataset="breast_cancer", k_range=(20, 100), n_ks=3,
                        logreg=(30, 30), mlp=(20, 40), mlp_default=(12, 40), svm=None),
            noise=dict(n_datasets=20, n_seeds=5),   # initialization noise of the MLP recipes
            # section 6: four metrics on the same fits
            which_loss=dict(n_points=40, n_samples=150, ks=(25, 50, 100, 200), test_size=200),
        ),
        "paper": dict(
            datasets=("miniboone", "fair", "digits", "breast_cancer"), seed=0,
            plan={"miniboone": (100, 1000), "fair": (100, 1000), "digits": (100, 1000)},
            n_ks=10,
            n_points=1000, n_samples=1000,
            n_boot=200,
            # the paper: 200 points x 5,000 samples for the MLP and the SVM (weeks of CPU on
            # two cores; docs/scale-out.md runs them on a cluster): here 20 x 200, labelled
            models=dict(dataset="miniboone", k_range=(100, 1000), n_ks=10,
                        logreg=(1000, 1000), mlp=(20, 200), mlp_default=(20, 200),
                        svm=(20, 200)),
            noise=dict(n_datasets=20, n_seeds=10),
            which_loss=dict(n_points=200, n_samples=1000, ks=(25, 50, 100, 200), test_size=200),
        ),
    },
    "03": {
        "quick": dict(
            datasets=(), seed=0,
            fixed_k=20, noise_draws=20_000,  # one fixed design: Monte Carlo over label noise
            ols_datasets=4000, ols_ks=tuple(2 ** k for k in range(7, 15)), cross_k=1000,
            logit_datasets=1500, logit_ks=(100, 178, 316, 562, 1000, 1778),
            validation_sizes=(100, 1000), n_pool=1000,
            window=(100, 1000), n_window=10,  # the paper's k range and number of sizes
            n_test_sets=2000,                # random test sets for the spread of c_1(V)
        ),
        "paper": dict(
            datasets=(), seed=0,
            fixed_k=20, noise_draws=200_000,
            ols_datasets=50_000, ols_ks=tuple(2 ** k for k in range(6, 17)), cross_k=1000,
            logit_datasets=10_000,
            logit_ks=(100, 129, 167, 215, 278, 359, 464, 599, 774, 1000, 1778, 3162, 5623),
            validation_sizes=(100, 1000), n_pool=1000,
            window=(100, 1000), n_window=10,
            n_test_sets=5000,
        ),
    },
    "04": {
        # loglinear: the log-linear fits of section 1 (points, log-spaced sizes in [100, 1000],
        # samples per point and size); n_points x n_samples: compare_estimators (section 3);
        # real: contributions of the exact engine (fit on n_samples[-1] per point, k uniform in
        # fit_range; ground truth: n_truth samples at each of truth_ks)
        "quick": dict(
            datasets=("fair",), seed=0,
            loglinear=dict(n_points=150, n_ks=8, n_per_k=(10, 30, 100)),
            n_points=150,                    # simulated laws (paper profile: 2000)
            n_samples=(10, 50, 100, 500),    # samples per point compared
            amortized_epochs=100, k_eval=300, n_bootstrap=999,
            prior_points=1000,               # section 5's sign test and exercise 1 (fewest samples)
            real=dict(dataset="fair", n_points=100, fit_range=(100, 1000), n_samples=(10, 100),
                      truth_ks=(100, 200, 400, 1000, 3000), n_truth=80),
        ),
        "paper": dict(
            datasets=("miniboone",), seed=0,
            loglinear=dict(n_points=1000, n_ks=10, n_per_k=(10, 30, 100, 300)),
            n_points=2000,
            n_samples=(10, 50, 100, 500),
            amortized_epochs=300, k_eval=300, n_bootstrap=999,
            prior_points=5000,
            real=dict(dataset="miniboone", n_points=1000, fit_range=(100, 1000),
                      n_samples=(10, 50, 500),
                      truth_ks=(100, 200, 400, 700, 1000, 3000, 10000), n_truth=1000),
        ),
    },
    "05": {
        # tiny: exact Shapley values by enumeration on a 10-point pool against Monte Carlo;
        # n_boot: bootstrap replicates for the Table 3/4 correlations; k0_grid, grid_repeats:
        # the point-addition explorer over the preceding size
        "quick": dict(
            datasets=("fair",), seed=0,
            tiny=dict(n_pool=10, k_range=(3, 6), points=(0, 1), n_samples=1000),
            dataset="fair", k_range=(100, 1000), n_samples=(10, 20, 50),
            n_points=200, n_truth=300, n_repeats=200, k0=(100, 1000), n_add=20, n_boot=1000,
            k0_grid=(100, 200, 400, 700, 1000), grid_repeats=100,
        ),
        "paper": dict(
            datasets=("miniboone",), seed=0,
            tiny=dict(n_pool=10, k_range=(3, 6), points=(0, 1), n_samples=4000),
            dataset="miniboone", k_range=(100, 1000), n_samples=(10, 20, 50),
            n_points=1000, n_truth=500, n_repeats=1000, k0=(100, 1000, 200, 2000), n_add=20,
            n_boot=2000, k0_grid=(100, 200, 500, 1000, 2000), grid_repeats=300,
        ),
    },
}


class Sizes(Mapping):
    """One notebook's sizes for one profile: a read-only mapping with attribute access."""

    def __init__(self, notebook: str, profile: str, values: dict):
        self._values = copy.deepcopy(dict(values))  # notebooks may not change SIZES
        self.notebook = notebook
        self.profile = profile

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __getattr__(self, key):
        try:
            return self.__dict__["_values"][key]
        except KeyError:
            raise AttributeError(
                f"Notebook {self.__dict__.get('notebook')} has no size {key!r}; "
                f"known: {sorted(self.__dict__['_values'])}."
            ) from None

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Sizes({self.notebook}, {self.profile}: {items})"


def _notebook_key(notebook) -> str:
    key = str(notebook).strip()
    if key.isdigit():
        key = f"{int(key):02d}"
    key = key[:2] if key[:2] in NOTEBOOKS else key
    if key not in NOTEBOOKS:
        raise ValueError(f"notebook must be one of {list(NOTEBOOKS)} (or a file stem); got {notebook!r}.")
    return key


def sizes(notebook, profile: str | None = None) -> Sizes:
    """The run sizes of ``notebook`` (``"03"``, ``3`` or ``"03_theory_checks"``) for ``profile``.

    ``profile`` defaults to the active one (``SCALING_KIT_PROFILE``, else ``quick``).
    """
    key = _notebook_key(notebook)
    profile = get_profile(profile)
    return Sizes(key, profile, SIZES[key][profile])


#: How each profile runs its contribution samplers (see :func:`run_options`).
RUN_OPTIONS = {
    "quick": {"n_jobs": 1, "cache": False},  # one process, nothing written: CI, the README
    "paper": {"n_jobs": -1, "cache": True},  # every core; cached, so a stopped run resumes
}


def run_options(profile: str | None = None) -> dict:
    """Keyword arguments for the notebooks' long contribution runs under ``profile``.

    Pass them on: ``sample_contributions(..., **run_options())`` (or inside ``options=`` of
    :func:`scaling_kit.model_comparison.compare_models`).

    * ``quick``: ``{}`` (one process, no cache: what CI and the README's command run);
    * ``paper``: ``n_jobs=-1`` (every core, through joblib) and
      ``cache=<cache_dir()>/contributions`` (:func:`scaling_kit.config.cache_dir`, so
      ``SCALING_KIT_CACHE`` moves it): finished chunks are kept and verified, so a stopped run
      resumes where it stopped, and a rerun reads every number back instead of refitting.

    ``SCALING_KIT_N_JOBS`` (an integer, ``-1`` for every core) overrides ``n_jobs`` in either
    profile.
    """
    from .config import cache_dir

    settings = RUN_OPTIONS[get_profile(profile)]
    n_jobs = settings["n_jobs"]
    value = os.environ.get("SCALING_KIT_N_JOBS", "").strip()
    if value:
        try:
            n_jobs = int(value)
        except ValueError:
            raise ValueError(f"SCALING_KIT_N_JOBS must be an integer number of worker processes "
                             f"(-1: every core); got {value!r}. Unset it to use the profile's "
                             f"default ({settings['n_jobs']}).") from None
        if n_jobs == 0 or n_jobs < -1:
            raise ValueError(f"SCALING_KIT_N_JOBS must be a positive number of worker processes "
                             f"or -1 (every core); got {value!r}.")
    options = {}
    if n_jobs != 1:
        options["n_jobs"] = n_jobs
    if settings["cache"]:
        options["cache"] = cache_dir() / "contributions"
    return options


def profile_datasets(profile: str | None = None) -> dict:
    """``{notebook: datasets}`` that ``profile`` loads, in notebook order."""
    profile = get_profile(profile)
    return {key: tuple(SIZES[key][profile]["datasets"]) for key in NOTEBOOKS}


# ------------------------------------------------------------------------------------------
# datasets and offline stand-ins
# ------------------------------------------------------------------------------------------
#: What ``--offline`` uses in place of each downloaded dataset: ``fair`` (statsmodels, 6,366
#: rows, binary like MiniBooNE) is large enough for the paper's k in [100, 1000].
DEFAULT_STAND_INS = {"miniboone": "fair"}


@dataclass(frozen=True)
class DatasetChoice:
    """Which dataset a notebook asked for, which one it gets, and how to label it."""

    requested: str
    used: str

    @property
    def stand_in(self) -> bool:
        """True when a bundled dataset replaces the requested (downloaded) one."""
        return self.used != self.requested

    @property
    def label(self) -> str:
        """The name to show in titles and tables."""
        if self.stand_in:
            return f"{self.used} (offline stand-in for {self.requested})"
        return self.used


def _parse_stand_ins(value: str) -> tuple[dict, tuple]:
    """``SCALING_KIT_DATASETS`` -> (explicit ``{downloaded: bundled}``, listed bundled names)."""
    from .datasets import OFFLINE_DATASETS

    mapping, listed = {}, []
    for item in (part.strip().lower().replace("-", "_") for part in value.split(",")):
        if not item:
            continue
        requested, _, used = item.rpartition("=")
        if used not in OFFLINE_DATASETS:
            raise ValueError(
                f"SCALING_KIT_DATASETS names {used!r}, which is not bundled; stand-ins must be "
                f"among {OFFLINE_DATASETS} (e.g. SCALING_KIT_DATASETS=fair,digits or "
                "SCALING_KIT_DATASETS=miniboone=digits)."
            )
        if requested:
            mapping[requested.strip()] = used
        else:
            listed.append(used)
    return mapping, tuple(listed)


def dataset_choice(name: str) -> DatasetChoice:
    """The dataset to load for ``name`` under the current ``SCALING_KIT_DATASETS``.

    Bundled datasets are always themselves. A downloaded one (MiniBooNE) is replaced when
    ``SCALING_KIT_DATASETS`` is set: a comma-separated list of bundled names (``fair,digits``:
    the first replaces every downloaded dataset) and/or explicit pairs
    (``miniboone=digits``). ``scaling-kit reproduce --offline`` sets it to
    ``miniboone=fair`` (:data:`DEFAULT_STAND_INS`). Unset (the default), nothing is replaced.
    """
    from .datasets import ONLINE_DATASETS

    name = str(name).strip().lower().replace("-", "_")
    value = os.environ.get("SCALING_KIT_DATASETS", "").strip()
    if not value or name not in ONLINE_DATASETS:
        return DatasetChoice(name, name)
    mapping, listed = _parse_stand_ins(value)
    if name in mapping:
        return DatasetChoice(name, mapping[name])
    if listed:
        return DatasetChoice(name, listed[0])
    return DatasetChoice(name, name)


def distinct_datasets(names) -> tuple:
    """``names`` without those whose dataset an earlier name already loads.

    Offline, a stand-in can repeat a dataset the notebook lists itself (the paper profile of
    notebook 02 lists MiniBooNE and fair; ``--offline`` stands fair in for MiniBooNE): the
    same data twice would give two identical rows in every table. The first name is kept (its
    label says what it stands in for). Without stand-ins, every name is kept.
    """
    seen, out = set(), []
    for name in names:
        used = dataset_choice(name).used
        if used not in seen:
            seen.add(used)
            out.append(name)
    return tuple(out)


def offline_setting() -> str:
    """The ``SCALING_KIT_DATASETS`` value that ``--offline`` sets (``"miniboone=fair"``)."""
    return ",".join(f"{k}={v}" for k, v in DEFAULT_STAND_INS.items())


def load_dataset(name: str, **kwargs):
    """Load ``name`` (or its offline stand-in) with :func:`scaling_kit.datasets.load_dataset`.

    Returns ``(dataset, label)``: the :class:`~scaling_kit.datasets.Dataset` and the name to
    show (``"fair (offline stand-in for miniboone)"`` when a stand-in replaced it). Keyword
    arguments go to the loader. Under ``scaling-kit reproduce`` the choice is recorded and the
    report lists it.
    """
    from . import datasets
    from .report import _note_dataset

    choice = dataset_choice(name)
    data = datasets.load_dataset(choice.used, **kwargs)
    if choice.stand_in:
        data.description = f"Offline stand-in for {choice.requested}. {data.description}"
    _note_dataset(choice.requested, choice.used, choice.label)
    return data, choice.label
