"""The committed gallery (figures/REPORT.md): every file it links exists and it stays small.

Passes on an empty gallery (no REPORT.md committed yet); once the quick-profile report is
committed, every figure and notebook it links must be there too.
"""

import re
from pathlib import Path

import pytest

from scaling_kit.report import write_report

ROOT = Path(__file__).resolve().parents[1]
GALLERY = ROOT / "figures"


def local_links(markdown: str) -> list:
    """Relative targets of Markdown links/images and HTML src/href attributes."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown)
    targets += re.findall(r'(?:src|href)="([^"]+)"', markdown)
    return [t for t in targets if not re.match(r"^[a-z]+:|^#", t)]


def missing_links(report: Path) -> list:
    return [t for t in local_links(report.read_text()) if not (report.parent / t).exists()]


def test_committed_report_links_only_files_that_exist():
    report = GALLERY / "REPORT.md"
    if not report.is_file():
        pytest.skip("no gallery committed yet (figures/REPORT.md)")  # nothing to check
    assert missing_links(report) == []
    linked = {t for t in local_links(report.read_text()) if t.endswith(".png")}
    size = sum((GALLERY / t).stat().st_size for t in linked) + report.stat().st_size
    assert size < 5 * 2**20, f"gallery is {size / 2**20:.1f} MB; keep it under 5 MB"


def test_link_check_catches_a_missing_figure(tmp_path):
    from scaling_kit.reproduce import NotebookRun, ReproduceResult

    notebook = tmp_path / "notebooks" / "01_x.ipynb"
    notebook.parent.mkdir()
    notebook.write_text("{}")
    out = tmp_path / "figures"
    out.mkdir()
    (out / "01_there.png").write_bytes(b"png")
    run = NotebookRun("01", notebook, title="01 X", status="ok", seconds=1.0,
                      records=[{"kind": "figure", "name": "01_there.png"},
                               {"kind": "figure", "name": "01_gone.png"}])
    result = ReproduceResult(profile="quick", out=out, runs=[run], report=out / "REPORT.md",
                             index=out / "index.html", seconds=1.0,
                             provenance={"profile": "quick", "machine": {}})
    report = write_report(result)
    assert "../notebooks/01_x.ipynb" in local_links(report.read_text())
    assert missing_links(report) == ["01_gone.png", "01_gone.png"]  # the <a> and the <img>
