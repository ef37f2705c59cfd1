"""Run sizes in one place, offline stand-ins, and the plan of a profile."""

import json
import os

import numpy as np
import pandas as pd
import pytest

from scaling_kit import profiles
from scaling_kit.cli import main
from scaling_kit.config import PROFILES
from scaling_kit.plan import Work, plan, workers, workload
from scaling_kit.report import read_records


@pytest.fixture(autouse=True)
def _single_process_costs(monkeypatch):
    # the plan's costs of single-process runs, whatever the machine's cores; the tests of the
    # worker processes set SCALING_KIT_N_JOBS themselves
    monkeypatch.setenv("SCALING_KIT_N_JOBS", "1")


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("notebook", list(profiles.NOTEBOOKS))
def test_every_notebook_has_sizes_and_datasets_for_every_profile(notebook, profile):
    s = profiles.sizes(notebook, profile)
    assert s.notebook == notebook and s.profile == profile
    assert isinstance(s.datasets, tuple) and s.seed == 0
    assert all(work.count >= 0 for work in workload(notebook, profile))


def test_sizes_accept_numbers_and_stems_and_are_read_only(monkeypatch):
    monkeypatch.setenv("SCALING_KIT_PROFILE", "paper")
    assert profiles.sizes(3) == profiles.sizes("03_theory_checks") == profiles.sizes("03")
    assert profiles.sizes("03").ols_datasets == 50_000
    s = profiles.sizes("02", "quick")
    s.plan["breast_cancer"] = (1, 2)  # a copy: the table itself does not change
    assert profiles.SIZES["02"]["quick"]["plan"]["breast_cancer"] == (20, 200)
    with pytest.raises(AttributeError, match="no size 'n_pointz'"):
        _ = s.n_pointz
    with pytest.raises(ValueError, match="notebook must be one of"):
        profiles.sizes("07")


def test_paper_profile_is_the_papers_protocol():
    s = profiles.sizes("02", "paper")
    assert set(s.plan.values()) == {(100, 1000)} and s.n_samples == 1000 and s.n_ks == 10
    assert "miniboone" in profiles.profile_datasets("paper")["05"]
    assert "miniboone" not in {d for ds in profiles.profile_datasets("quick").values() for d in ds}


def test_dataset_choice_replaces_only_downloaded_datasets(monkeypatch):
    monkeypatch.delenv("SCALING_KIT_DATASETS", raising=False)
    assert not profiles.dataset_choice("miniboone").stand_in
    monkeypatch.setenv("SCALING_KIT_DATASETS", "fair,digits")
    choice = profiles.dataset_choice("MiniBooNE")
    assert (choice.requested, choice.used, choice.stand_in) == ("miniboone", "fair", True)
    assert choice.label == "fair (offline stand-in for miniboone)"
    assert profiles.dataset_choice("wine").label == "wine"  # bundled: always itself
    monkeypatch.setenv("SCALING_KIT_DATASETS", "miniboone=digits")
    assert profiles.dataset_choice("miniboone").used == "digits"
    monkeypatch.setenv("SCALING_KIT_DATASETS", profiles.offline_setting())
    assert profiles.dataset_choice("miniboone").used == "fair"
    monkeypatch.setenv("SCALING_KIT_DATASETS", "miniboone=mnist")
    with pytest.raises(ValueError, match="not bundled"):
        profiles.dataset_choice("miniboone")


def test_distinct_datasets_drops_a_stand_in_that_repeats_a_listed_dataset(monkeypatch):
    names = profiles.sizes("02", "paper").plan
    monkeypatch.delenv("SCALING_KIT_DATASETS", raising=False)
    assert profiles.distinct_datasets(names) == ("miniboone", "fair", "digits")
    monkeypatch.setenv("SCALING_KIT_DATASETS", profiles.offline_setting())  # miniboone=fair
    assert profiles.distinct_datasets(names) == ("miniboone", "digits")
    monkeypatch.setenv("SCALING_KIT_DATASETS", "miniboone=breast_cancer")  # no repeat
    assert profiles.distinct_datasets(names) == ("miniboone", "fair", "digits")
    monkeypatch.setenv("SCALING_KIT_DATASETS", "miniboone=digits")
    assert profiles.distinct_datasets(["digits", "miniboone"]) == ("digits",)


def test_load_dataset_labels_and_records_a_stand_in(monkeypatch, tmp_path):
    monkeypatch.setenv("SCALING_KIT_DATASETS", "fair")
    monkeypatch.setenv("SCALING_KIT_RECORD_DIR", str(tmp_path))
    data, label = profiles.load_dataset("miniboone", random_state=0)
    assert data.name == "fair" and label == "fair (offline stand-in for miniboone)"
    assert data.description.startswith("Offline stand-in for miniboone")
    (entry,) = read_records(tmp_path)
    assert entry == {"kind": "dataset", "name": "miniboone", "used": "fair", "label": label}


def test_plan_counts_follow_the_sizes():
    rates = {("contributions", "logreg"): 1e-4, ("contributions", "mlp"): 1e-2,
             ("contributions", "svm"): 1e-2, ("fits", "logreg"): 1e-3}
    p = plan(profile="paper", rates=rates)
    s = profiles.sizes("02", "paper")
    n_ks = len(np.unique(np.geomspace(100, 1000, 10).astype(int)))
    per_dataset = s.n_points * n_ks * s.n_samples
    m = s.models
    reference_logreg = m["logreg"][0] * n_ks * m["logreg"][1]
    nn = m["mlp"][0] * n_ks * m["mlp"][1]  # each of MLP (two recipes) and SVM
    assert m["mlp"] == m["mlp_default"] == m["svm"]
    wl = s.which_loss
    expected = (3 * per_dataset + reference_logreg + 3 * nn
                + wl["n_points"] * len(wl["ks"]) * wl["n_samples"])
    assert p.counts("02")[1] == expected == 40_920_000
    # time = counts x rates for the calibrated blocks, plus the scaled rest of the notebook
    blocks = dict((w.what.split(" [")[0], secs) for w, secs in p.notebooks["02"])
    assert blocks["log-linear validation, MLP (reference): miniboone"] == pytest.approx(nn * 1e-2)
    assert p.seconds["02"] > (3 * per_dataset + reference_logreg) * 1e-4 + 3 * nn * 1e-2
    assert p.total_seconds == pytest.approx(sum(p.seconds.values()))
    assert profiles.sizes("03", "paper").ols_datasets and p.counts("03") == (0, 0)


def test_plan_shares_the_parallel_blocks_among_the_workers(monkeypatch):
    rates = {("contributions", "logreg"): 1e-4, ("contributions", "mlp"): 1e-2,
             ("contributions", "svm"): 1e-2, ("fits", "logreg"): 1e-3}
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    costs = {}
    for n_jobs in ("1", "3", "-1", "8"):
        monkeypatch.setenv("SCALING_KIT_N_JOBS", n_jobs)
        p = plan(profile="paper", rates=rates, only="02,04")
        costs[n_jobs] = {(nb, w.what): (w, secs) for nb in p.notebooks
                         for w, secs in p.notebooks[nb]}
    assert workers("paper") == 4 and workers("quick") == 4  # SCALING_KIT_N_JOBS=8, 4 cores
    parallel = [key for key, (w, _) in costs["1"].items() if w.parallel]
    assert {nb for nb, _ in parallel} == {"02", "04"} and len(parallel) >= 8
    for key, (w, secs) in costs["1"].items():
        if w.kind != "contributions":
            continue
        share = {"3": 3, "-1": 4, "8": 4} if w.parallel else {"3": 1, "-1": 1, "8": 1}
        for n_jobs, divisor in share.items():
            assert costs[n_jobs][key][1] == pytest.approx(secs / divisor), (key, n_jobs)
    monkeypatch.delenv("SCALING_KIT_N_JOBS")
    assert workers("quick") == 1 and workers("paper") == 4


def test_plan_costs_an_offline_repeat_of_a_block_at_zero(monkeypatch, tmp_path):
    # offline, MiniBooNE's stand-in is fair, which notebook 02 also lists: the notebook
    # analyses the data once (profiles.distinct_datasets), so the plan costs the repeat at zero
    monkeypatch.setenv("SCALING_KIT_CACHE", str(tmp_path))
    rates = {("contributions", "logreg"): 1e-4, ("contributions", "mlp"): 1e-2,
             ("contributions", "svm"): 1e-2, ("fits", "logreg"): 1e-3}
    totals, fair_fits = {}, None
    for offline in (False, True):
        planned = plan(profile="paper", rates=rates, only="02", offline=offline)
        blocks = planned.notebooks["02"]
        validation = {w.what.split(": ")[1].split(" [")[0]: (w, secs) for w, secs in blocks
                      if w.what.startswith("log-linear validation, logistic")}
        assert validation["miniboone"][1] == pytest.approx(1e7 * 1e-4)
        assert validation["fair"][1] == (0.0 if offline else pytest.approx(1e7 * 1e-4))
        assert ("run once" in validation["fair"][0].what) is offline
        assert (validation["fair"][0].count == 0) is offline  # not counted as run
        totals[offline] = planned.counts("02")
        if not offline:
            fair_fits = validation["fair"][0].fits
        # the paper's reference recipe on the same data is another run
        reference = next(secs for w, secs in blocks if w.what.startswith("reference recipes"))
        assert reference == pytest.approx(1e7 * 1e-4)
    # offline, the totals leave out exactly the repeated block (10^7 contributions, its fits)
    assert totals[False][1] - totals[True][1] == 10_000_000
    assert totals[False][0] - totals[True][0] == fair_fits > 10_000_000
    monkeypatch.setenv("SCALING_KIT_DATASETS", "fair")
    quick = plan(profile="quick", rates=rates, only="02", offline=True).notebooks["02"]
    assert not any("run once" in w.what for w, _ in quick)


def test_quick_profile_of_02_leaves_the_svm_to_the_paper_profile():
    # svm=None in the quick sizes: no SVM block in its plan; the paper plan has one, labelled
    quick = [w.what for w in workload("02", "quick")]
    paper = [w.what for w in workload("02", "paper")]
    assert not any("SVM" in what for what in quick)
    assert [what for what in paper if "SVM" in what] == [
        "log-linear validation, SVM: miniboone [reduced from the paper's 200 points x 5,000 "
        "samples; full size: docs/scale-out.md]"]
    assert sum(what.startswith("log-linear validation, MLP") for what in quick) == 2


def test_plan_names_downloads_or_stand_ins(monkeypatch, tmp_path):
    monkeypatch.setenv("SCALING_KIT_CACHE", str(tmp_path))
    monkeypatch.delenv("SCALING_KIT_DATASETS", raising=False)
    text = plan(profile="paper", calibrate=False).as_text()
    assert "Downloads: miniboone (about 60 MB, downloaded once)" in text
    assert "--offline" in text and "not calibrated" in text
    offline = plan(profile="paper", calibrate=False, offline=True)
    assert offline.downloads == [] and "Downloads: none." in offline.as_text()
    assert offline.stand_ins == ["fair (offline stand-in for miniboone)"]
    quick = plan(profile="quick", calibrate=False)
    assert quick.downloads == [] and quick.total_seconds < plan(profile="paper",
                                                                  calibrate=False).total_seconds


def test_plan_on_the_command_line_is_calibrated_and_runs_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SCALING_KIT_FIGURES", str(tmp_path))
    (tmp_path / "run.json").write_text(json.dumps(
        {"profile": "quick", "notebooks": [{"number": "03", "status": "ok", "seconds": 10.0}]}))
    assert main(["reproduce", "--profile", "paper", "--plan", "--only", "03"]) == 0
    text = capsys.readouterr().out
    assert "Plan for the paper profile" in text and "03_theory_checks" in text
    # the rest of a notebook scales with its work: OLS and logistic simulations, quick -> paper
    quick = sum(w.count for w in workload("03", "quick"))
    paper = sum(w.count for w in workload("03", "paper"))
    assert plan(profile="paper", only="03").seconds["03"] == pytest.approx(10.0 * paper / quick)
    assert not list(tmp_path.glob("*.png")) and not (tmp_path / "REPORT.md").exists()


def test_a_registered_cost_model_replaces_the_calibration(monkeypatch):
    from scaling_kit import plan as plan_module

    seen = []

    def mlp_cost(work, sizes):
        seen.append((work.learner, sizes.notebook))
        return 123.0

    monkeypatch.setitem(plan_module.COST_MODELS, "mlp", mlp_cost)
    p = plan(profile="paper", only="02", rates={("contributions", "logreg"): 0.0,
                                                ("contributions", "svm"): 0.0})
    blocks = dict((w.what.split(" [")[0], secs) for w, secs in p.notebooks["02"])
    assert blocks["log-linear validation, MLP (reference): miniboone"] == 123.0
    assert ("mlp", "02") in seen
    assert isinstance(p.notebooks["02"][0][0], Work)


def test_the_mlp_cost_model_is_registered_and_used(monkeypatch, tmp_path):
    from scaling_kit import mlp_cost
    from scaling_kit import plan as plan_module
    from scaling_kit.mlp import BatchedMLPClassifier

    assert plan_module.COST_MODELS["mlp"] is plan_module.mlp_contribution_seconds

    # a deterministic stand-in for the per-epoch timing (the only machine-dependent part)
    def per_epoch(learner, n_features, n_classes, sizes, **_):
        return 1e-6 * np.asarray(sizes, dtype=float) * n_features

    monkeypatch.setattr(mlp_cost, "_seconds_per_epoch", per_epoch)
    monkeypatch.setenv("SCALING_KIT_FIGURES", str(tmp_path))
    p = plan(profile="paper", only="02", rates={("contributions", "logreg"): 0.0,
                                                ("contributions", "svm"): 0.0})
    mlp_blocks = [(w, c) for w, c in p.notebooks["02"] if w.learner == "mlp"]
    assert sorted(w.recipe for w, _ in mlp_blocks) == ["kit", "reference"]
    models = profiles.sizes("02", "paper").models
    ks = np.unique(np.geomspace(*models["k_range"], models["n_ks"]).astype(int))
    recipes = {"reference": (BatchedMLPClassifier.reference(), models["mlp"]),
               "kit": (BatchedMLPClassifier(), models["mlp_default"])}
    for work, seconds in mlp_blocks:
        learner, (n_points, n_samples) = recipes[work.recipe]
        expected = mlp_cost.estimate_mlp_cost(
            learner, n_features=50, n_classes=2, n_points=n_points, n_samples=n_samples, ks=ks,
            n_test=1000, share_datasets=True)
        assert work.dataset == "miniboone" and work.ks == tuple(ks.tolist())
        assert seconds == pytest.approx(expected.seconds, rel=1e-12)
        # the plan's count of fits and the cost model's agree (one D per round, shared)
        assert expected.n_fits == work.fits
    # the reference recipe (25 epochs) costs less per fit than the kit's (200 epochs)
    per_fit = {w.recipe: c / w.fits for w, c in mlp_blocks}
    assert per_fit["reference"] < per_fit["kit"]
    assert any("mlp_contribution_seconds" in note for note in p.notes)

    # offline, the stand-in's shape is costed (fair: 8 features), not MiniBooNE's
    offline = plan(profile="paper", only="02", offline=True,
                   rates={("contributions", "logreg"): 0.0, ("contributions", "svm"): 0.0})
    work, off_seconds = next((w, c) for w, c in offline.notebooks["02"]
                             if w.learner == "mlp" and w.recipe == "reference")
    expected_fair = mlp_cost.estimate_mlp_cost(
        BatchedMLPClassifier.reference(), n_features=8, n_classes=2, n_points=models["mlp"][0],
        n_samples=models["mlp"][1], ks=ks, n_test=1000, share_datasets=True)
    assert off_seconds == pytest.approx(expected_fair.seconds, rel=1e-12)

    # explicit rates (and calibrate=False's nominal rates) take precedence over the model
    nominal = plan(profile="paper", only="02", calibrate=False)
    mlp_block = next((w, c) for w, c in nominal.notebooks["02"] if w.learner == "mlp")
    assert mlp_block[1] == pytest.approx(mlp_block[0].count * 5e-3)


def test_reproduce_plan_prints_the_mlp_cost_model(monkeypatch, tmp_path, capsys):
    from scaling_kit import mlp_cost
    from scaling_kit import plan as plan_module

    calls = []

    def per_epoch(learner, n_features, n_classes, sizes, **_):
        calls.append(n_features)
        return 1e-6 * np.asarray(sizes, dtype=float)

    monkeypatch.setattr(mlp_cost, "_seconds_per_epoch", per_epoch)
    monkeypatch.setattr(plan_module, "_seconds_per_unit", lambda work, budget=0.5: 0.0)
    monkeypatch.setenv("SCALING_KIT_FIGURES", str(tmp_path))
    assert main(["reproduce", "--profile", "paper", "--plan", "--only", "02"]) == 0
    text = capsys.readouterr().out
    assert "log-linear validation, MLP (reference): miniboone" in text
    assert "mlp contributions costed by mlp_contribution_seconds" in text
    assert 50 in calls  # the MLP was costed by the model, on MiniBooNE's 50 features


def test_run_options_quick_runs_in_process_and_paper_uses_every_core_and_a_cache(monkeypatch,
                                                                                  tmp_path):
    monkeypatch.delenv("SCALING_KIT_N_JOBS", raising=False)
    monkeypatch.setenv("SCALING_KIT_CACHE", str(tmp_path))
    assert profiles.run_options("quick") == {}
    assert profiles.run_options("paper") == {"n_jobs": -1, "cache": tmp_path / "contributions"}
    monkeypatch.setenv("SCALING_KIT_PROFILE", "paper")
    assert profiles.run_options() == profiles.run_options("paper")
    monkeypatch.setenv("SCALING_KIT_N_JOBS", "2")
    assert profiles.run_options("quick") == {"n_jobs": 2}
    monkeypatch.setenv("SCALING_KIT_N_JOBS", "1")
    assert profiles.run_options("paper") == {"cache": tmp_path / "contributions"}


@pytest.mark.parametrize("value", ["two", "0", "-2", "1.5"])
def test_run_options_reject_a_bad_n_jobs_setting_by_name(monkeypatch, value):
    monkeypatch.setenv("SCALING_KIT_N_JOBS", value)
    with pytest.raises(ValueError, match="SCALING_KIT_N_JOBS"):
        profiles.run_options("quick")


def test_run_options_resume_a_stopped_run_from_the_cache(monkeypatch, tmp_path):
    # the paper profile's options, passed on as the notebooks do: a second call reads every
    # chunk back (strict=True forbids computing) and gives the same table, bit for bit (the
    # same chunks, read from disk)
    from scaling_kit.contributions import sample_contributions
    from scaling_kit.learners import ExactLogisticRegression

    monkeypatch.setenv("SCALING_KIT_CACHE", str(tmp_path))
    monkeypatch.setenv("SCALING_KIT_N_JOBS", "1")
    run = profiles.run_options("paper")
    ds, _ = profiles.load_dataset("breast_cancer", random_state=0)
    args = (ExactLogisticRegression(), ds, [3, 5, 8])
    first = sample_contributions(*args, k=[20, 40], n_samples=5, random_state=0,
                                 progress=False, **run)
    again = sample_contributions(*args, k=[20, 40], n_samples=5, random_state=0,
                                 progress=False, strict=True, **run)
    pd.testing.assert_frame_equal(first, again)
    assert list((tmp_path / "contributions").glob("contributions-*/chunk-*"))
