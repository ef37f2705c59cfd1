"""The kit's mathematical notes keep the numbering that the code and notebooks cite.

Package docstrings, notebooks, tests and docs cite the notes as "docs/math.md §N" or "§N.M".
These tests check that `docs/math.md` has sections 1-7 in order with their titles, that its
subsections are numbered consecutively inside their section, and that every such citation in
the repository (and every bare "§" reference inside the notes themselves) names a section or
subsection that exists.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MATH_NOTES = ROOT / "docs" / "math.md"
NOTES_NAME = "docs/math" + ".md"  # spelled in two parts so this file cites nothing itself

EXPECTED_SECTIONS = [
    (1, "Notation"),
    (2, "Aggregate scaling laws"),
    (3, "Marginal contributions and individualized laws"),
    (4, "Theory"),
    (5, "Estimators of (c, α)"),
    (6, "Valuation"),
    (7, "The exact contribution engine"),
]

SECTION_RE = re.compile(r"^## (\d+)\. (.+?)\s*$")
SUBSECTION_RE = re.compile(r"^### (\d+)\.(\d+) (.+?)\s*$")
# One citation: the file name, then one or more "§N", "§N.M", "§§N-M", "section N", joined by
# commas, "and", "or", "to" (e.g. "docs/math.md §3.6 and §4", "docs/math.md (§2, §5.2)").
_ONE = r"(?:§+|[Ss]ections?\s+)\s*\d+(?:\.\d+)?(?:\s*[-–]\s*\d+(?:\.\d+)?)?"
CITATION_RE = re.compile(
    re.escape(NOTES_NAME) + r"(?P<tail>(?:[\s,;:(]*(?:and|or|to)?\s*" + _ONE + r")+)"
)
NUMBER_RE = re.compile(r"(\d+)(?:\.(\d+))?")
BARE_REF_RE = re.compile(r"§+\s*(\d+)(?:\.(\d+))?")

SKIP_DIRS = {".git", "__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache",
             ".mypy_cache", ".tox", ".venv", "venv", "node_modules", "build", "dist"}
SKIP_SUFFIXES = {".csv", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".pdf", ".npz", ".npy",
                 ".pt", ".pkl", ".parquet", ".gz", ".zip", ".whl", ".so", ".pyc"}
MAX_BYTES = 5_000_000


def _outside_code_fences(text: str) -> list[str]:
    """The lines of a Markdown text that are not inside ``` fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def parse_headings(text: str):
    """``(sections, subsections)``: lists of ``(n, title)`` and ``(n, m, title)`` in order."""
    sections, subsections = [], []
    for line in _outside_code_fences(text):
        if m := SECTION_RE.match(line):
            sections.append((int(m.group(1)), m.group(2)))
        elif m := SUBSECTION_RE.match(line):
            subsections.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    return sections, subsections


def cited_numbers(text: str):
    """Every ``(n, m or None)`` cited as "docs/math.md §n[.m]" in ``text``, with its offset."""
    found = []
    for match in CITATION_RE.finditer(text):
        for number in NUMBER_RE.finditer(match.group("tail")):
            sub = number.group(2)
            found.append((int(number.group(1)), None if sub is None else int(sub), match.start()))
    return found


def invalid_numbers(numbers, sections, subsections):
    """The cited ``(n, m)`` that name no section ``n`` or no subsection ``n.m``."""
    have_sections = {n for n, _ in sections}
    have_subsections = {(n, m) for n, m, _ in subsections}
    return [(n, m) for n, m in numbers
            if n not in have_sections or (m is not None and (n, m) not in have_subsections)]


def _repository_files() -> list[Path]:
    """Tracked and untracked, not ignored files (git), or a walk of the tree without git."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT, capture_output=True, check=True, timeout=60,
        ).stdout.decode("utf-8", "surrogateescape")
        paths = [ROOT / p for p in out.split("\0") if p]
    except (OSError, subprocess.SubprocessError):
        paths = [p for p in ROOT.rglob("*")
                 if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)]
    return sorted(p for p in paths if p.is_file() and p.suffix.lower() not in SKIP_SUFFIXES
                  and p.stat().st_size <= MAX_BYTES)


def _texts(path: Path):
    """``(where, text)`` pieces of a file: notebook cells one by one, other files whole."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        for i, cell in enumerate(cells):
            source = cell.get("source", "")
            yield f"cell {i}", "".join(source) if isinstance(source, list) else source
        return
    try:
        yield "", path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return


@pytest.fixture(scope="module")
def notes():
    assert MATH_NOTES.is_file(), "docs/math.md is missing: the code and notebooks cite it."
    text = MATH_NOTES.read_text(encoding="utf-8")
    sections, subsections = parse_headings(text)
    return text, sections, subsections


def test_sections_one_to_seven_in_order_with_their_titles(notes):
    _, sections, _ = notes
    assert sections == EXPECTED_SECTIONS, (
        "docs/math.md must have exactly the sections '## 1. Notation' ... '## 7. The exact "
        f"contribution engine' in this order (others cite them by number); found {sections}"
    )


def test_subsections_numbered_consecutively_inside_their_section(notes):
    text, _, _ = notes
    current, expected_next = None, 1
    for line in _outside_code_fences(text):
        if m := SECTION_RE.match(line):
            current, expected_next = int(m.group(1)), 1
        elif m := SUBSECTION_RE.match(line):
            n, k = int(m.group(1)), int(m.group(2))
            assert (n, k) == (current, expected_next), (
                f"subsection '{line.strip()}' should be numbered {current}.{expected_next}"
            )
            expected_next += 1


def test_the_citation_pattern_reads_every_form_and_flags_missing_numbers(notes):
    # Guards the repository scan below against passing because it recognizes nothing.
    _, sections, subsections = notes
    name = NOTES_NAME
    sample = (f"see {name} §3; {name} §4.2 and {name} (§2, §3.6 and §5), "
              f"{name} §§6-7, {name} section 1, and {name} §9 or {name} §2.99.")
    numbers = [(n, m) for n, m, _ in cited_numbers(sample)]
    assert numbers == [(3, None), (4, 2), (2, None), (3, 6), (5, None), (6, None), (7, None),
                       (1, None), (9, None), (2, 99)]
    assert invalid_numbers(numbers, sections, subsections) == [(9, None), (2, 99)]
    assert cited_numbers("the notes §3, and docs/math.md without a number") == []


def test_every_citation_in_the_repository_names_an_existing_section(notes):
    _, sections, subsections = notes
    bad, n_citations = [], 0
    for path in _repository_files():
        for where, text in _texts(path):
            found = cited_numbers(text)
            n_citations += len(found)
            for n, m in invalid_numbers([(n, m) for n, m, _ in found], sections, subsections):
                offset = next(o for a, b, o in found if (a, b) == (n, m))
                line = text.count("\n", 0, offset) + 1
                place = f"{path.relative_to(ROOT)}:{line}" + (f" ({where})" if where else "")
                bad.append(f"{place}: §{n}" + ("" if m is None else f".{m}"))
    assert not bad, (
        "These citations of docs/math.md name a section or subsection that does not exist "
        "(see the headings of docs/math.md):\n" + "\n".join(bad)
    )


def test_references_inside_the_notes_exist(notes):
    text, sections, subsections = notes
    numbers = [(int(m.group(1)), None if m.group(2) is None else int(m.group(2)))
               for m in BARE_REF_RE.finditer(text)]
    assert numbers, "docs/math.md should cross-reference its own sections"
    assert invalid_numbers(numbers, sections, subsections) == []
