"""The lecture guide (docs/teaching.md) agrees with the notebooks and the measured run times.

The guide names figures to show as slides, links every notebook and quotes the quick-profile
run times; these tests fail when a notebook is added, a figure is renamed or the measured times
change without the guide following.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from scaling_kit.plan import MEASURED_QUICK_SECONDS
from scaling_kit.profiles import NOTEBOOKS
from scaling_kit.report import _duration

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "teaching.md"


def _saved_figures() -> set[str]:
    """Names passed to ``save_figure(fig, "...")`` in the notebooks' code cells."""
    names = set()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                names |= set(re.findall(r"save_figure\(\s*\w+\s*,\s*[\"'](\w+)[\"']", source))
    return names


def test_the_guide_links_every_notebook():
    text = GUIDE.read_text(encoding="utf-8")
    for stem in NOTEBOOKS.values():
        assert f"(../notebooks/{stem}.ipynb)" in text, f"docs/teaching.md does not link {stem}"


def test_every_slide_the_guide_names_is_a_figure_a_notebook_saves():
    named = set(re.findall(r"`(0\d_\w+)\.png`", GUIDE.read_text(encoding="utf-8")))
    saved = _saved_figures()
    assert named and saved, "no figures found: the patterns no longer match"
    assert not named - saved, (
        f"docs/teaching.md shows figures no notebook saves: {sorted(named - saved)}; "
        f"the notebooks save {sorted(saved)}")


def test_the_quick_run_times_are_the_measured_ones():
    rows = {m.group(1): m.group(2) for m in re.finditer(
        r"^\| (0\d) [^|]+\| ([^|]+?) \|", GUIDE.read_text(encoding="utf-8"), flags=re.MULTILINE)}
    assert set(rows) == set(NOTEBOOKS), f"run-time table rows: {sorted(rows)}"
    for number, seconds in MEASURED_QUICK_SECONDS.items():
        assert rows[number] == _duration(seconds), (
            f"docs/teaching.md gives notebook {number} a quick time of {rows[number]!r}; "
            f"scaling_kit/plan.py measured {_duration(seconds)!r}")
