"""The paper profile, offline: the notebooks of the committed offline report run end to end.

Marked ``slow`` (about an hour and a half on two cores, most of it notebook 02; deselected by
default): run it with ``python -m pytest -m slow tests/test_paper_offline.py``. It reruns, in
the paper profile with the bundled stand-ins, exactly the notebooks that
``figures/paper-offline/REPORT.md`` lists (all five), so the committed report is this test's
output. The paper profile caches its long contribution runs in ``$SCALING_KIT_CACHE``
(:func:`scaling_kit.profiles.run_options`): a stopped run resumes, and a rerun reads them back.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "figures" / "paper-offline" / "REPORT.md"


def committed_notebooks() -> list:
    """Numbers of the notebooks the committed offline report shows (its run-time table)."""
    return sorted(set(re.findall(r"^\| \[(\d\d)_", COMMITTED.read_text(), flags=re.M)))


def test_committed_offline_report_is_a_paper_profile_run_on_stand_ins():
    text = COMMITTED.read_text()
    assert text.startswith("# scaling-kit report: paper profile")
    assert "offline stand-ins for downloaded datasets" in text
    # every notebook of the kit runs end to end in the paper profile
    from scaling_kit.profiles import NOTEBOOKS

    assert committed_notebooks() == sorted(NOTEBOOKS)
    assert "**some notebooks failed or did not run**" not in text


@pytest.mark.slow
def test_paper_profile_offline_runs_the_committed_notebooks(tmp_path, capsys):
    from scaling_kit.cli import main

    only = ",".join(committed_notebooks())
    out = tmp_path / "paper-offline"
    code = main(["reproduce", "--profile", "paper", "--offline", "--only", only, "--out",
                 str(out), "--no-progress"])
    assert code == 0, capsys.readouterr().out[-2000:]
    run = json.loads((out / "run.json").read_text())
    assert run["profile"] == "paper" and run["provenance"]["offline"] is True
    assert [nb["status"] for nb in run["notebooks"]] == ["ok"] * len(only.split(","))
