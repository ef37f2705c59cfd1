"""Run sizes in one place, offline stand-ins, and the plan of a profile."""

import json

import numpy as np
import pytest

from scaling_kit import profiles
from scaling_kit.cli import main
from scaling_kit.config import PROFILES
from scaling_kit.plan import Work, plan, workload
from scaling_kit.report import read_records


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
    s.plan["wine"] = (1, 2)  # a copy: the table itself does not change
    assert profiles.SIZES["02"]["quick"]["plan"]["wine"] == (10, 80)
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
    nn = s.nn_points * n_ks * s.nn_samples
    wl = s.which_loss
    expected = 3 * per_dataset + 2 * nn + wl["n_points"] * len(wl["ks"]) * wl["n_samples"]
    assert p.counts("02")[1] == expected == 50_800_000
    # time = counts x rates for the calibrated blocks, plus the scaled rest of the notebook
    blocks = dict((w.what, secs) for w, secs in p.notebooks["02"])
    assert blocks["log-linear validation, MLP: miniboone"] == pytest.approx(nn * 1e-2)
    assert p.seconds["02"] > 3 * per_dataset * 1e-4 + 2 * nn * 1e-2
    assert p.total_seconds == pytest.approx(sum(p.seconds.values()))
    assert profiles.sizes("03", "paper").ols_datasets and p.counts("03") == (0, 0)


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
    blocks = dict((w.what, secs) for w, secs in p.notebooks["02"])
    assert blocks["log-linear validation, MLP: miniboone"] == 123.0
    assert ("mlp", "02") in seen
    assert isinstance(p.notebooks["02"][0][0], Work)
