"""The main job: CLI wiring, report and figure files, profile validation."""

import subprocess
import sys

import pytest

from scaling_kit import get_profile
from scaling_kit.cli import main
from scaling_kit.reproduce import available_sections, reproduce


def test_profile_validation(monkeypatch):
    monkeypatch.delenv("SCALING_KIT_PROFILE", raising=False)
    assert get_profile() == "quick"
    monkeypatch.setenv("SCALING_KIT_PROFILE", "Paper")
    assert get_profile() == "paper"
    monkeypatch.setenv("SCALING_KIT_PROFILE", "fast")
    with pytest.raises(ValueError, match="quick"):
        get_profile()


def test_engine_section_writes_report_and_figure(tmp_path):
    report = reproduce(profile="quick", figures=tmp_path, only=["engine"], log=lambda *a, **k: None)
    text = report.read_text()
    assert report == tmp_path / "REPORT.md"
    assert "Marginal contributions" in text
    assert (tmp_path / "engine_contribution_curves.png").stat().st_size > 1000
    assert not list(tmp_path.glob("*.tmp"))


def test_unknown_section_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="Unknown sections"):
        reproduce(profile="quick", figures=tmp_path, only=["nope"])


def test_every_section_is_wired():
    assert "engine" in available_sections()


def test_cli_and_module_entry_point(tmp_path):
    assert main(["reproduce", "--only", "engine", "--figures", str(tmp_path)]) == 0
    assert (tmp_path / "REPORT.md").is_file()
    out = subprocess.run([sys.executable, "-m", "scaling_kit", "--help"], capture_output=True,
                         text=True, check=True)
    assert "reproduce" in out.stdout
