"""The main job: reproduce every figure of the kit and write a short report.

``scaling-kit reproduce`` (or ``python -m scaling_kit reproduce``) runs each report section in
order, saves figures to ``figures/`` (or ``--figures DIR``) and writes ``REPORT.md`` there.
The profile (``quick`` by default; ``paper`` for the paper-sized protocol) comes from
``--profile`` or ``SCALING_KIT_PROFILE``.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from .config import figures_dir, get_profile

#: Report sections in notebook order: (module under scaling_kit.sections, title).
SECTIONS = (
    ("aggregate", "01 aggregate power laws"),
    ("engine", "contribution engine"),
    ("individual", "02 individualized scaling laws"),
    ("theory", "03 theory checks"),
    ("estimators", "04 estimators"),
    ("valuation", "05 valuation and point addition"),
)


def available_sections():
    """Names of the sections that provide a ``run(profile, figdir)`` function."""
    names = []
    for name, _ in SECTIONS:
        module = importlib.import_module(f".sections.{name}", __package__)
        if hasattr(module, "run"):
            names.append(name)
    return names


def reproduce(profile=None, figures=None, only=None, log=print) -> Path:
    """Run the report sections; return the path of the written ``REPORT.md``."""
    profile = get_profile(profile)
    figdir = figures_dir(figures)
    names = available_sections()
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f"Unknown sections {unknown}; choose among {names}.")
        names = [n for n in names if n in only]
    parts = [
        "# scaling-kit report",
        "",
        f"Profile: `{profile}`. Every number below was computed by this run; numbers from the "
        "papers are labelled as such.",
        "",
    ]
    total = time.perf_counter()
    for name in names:
        module = importlib.import_module(f".sections.{name}", __package__)
        start = time.perf_counter()
        log(f"[scaling-kit] section {name} ...", flush=True) if log is print else log(name)
        parts.append(module.run(profile, figdir))
        parts.append(f"_Section `{name}` took {time.perf_counter() - start:.1f} s._\n")
    parts.append(f"Total time: {time.perf_counter() - total:.1f} s.")
    report = figdir / "REPORT.md"
    tmp = report.with_suffix(".md.tmp")
    tmp.write_text("\n".join(parts) + "\n")
    tmp.replace(report)
    return report
