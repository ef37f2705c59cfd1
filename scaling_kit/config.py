"""Run profiles and output locations shared by the notebooks, the command line and the tests.

Environment variables (each also has a command-line or argument equivalent):

* ``SCALING_KIT_PROFILE``: ``quick`` (default: minutes on a laptop, used by CI and the README's
  main command) or ``paper`` (the paper-sized protocol, Covert et al., ICML 2024, Section 4);
  the sizes of each profile are in :mod:`scaling_kit.profiles`;
* ``SCALING_KIT_FIGURES``: where figures (and the main job's report) are written; default the
  repository's ``figures/`` (found from the working directory), else ``./figures``;
* ``SCALING_KIT_CACHE``: downloads and resumable runs; default
  ``$XDG_CACHE_HOME/scaling_kit``, else ``~/.cache/scaling_kit``;
* ``SCALING_KIT_N_JOBS``: worker processes of the notebooks' long contribution runs (quick
  profile: 1, paper profile: every core; see :func:`scaling_kit.profiles.run_options`);
* ``SCALING_KIT_DATASETS``: offline stand-ins for downloaded datasets (see
  :func:`scaling_kit.profiles.load_dataset`);
* ``SCALING_KIT_NOTEBOOK`` and ``SCALING_KIT_RECORD_DIR``: set by ``scaling-kit reproduce`` for
  each notebook it runs (the notebook's number, and where :func:`scaling_kit.report.record`
  writes); unset when you work interactively.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["PROFILES", "cache_dir", "figures_dir", "get_profile", "save_figure"]

#: The run profiles: ``quick`` (minutes, CI) and ``paper`` (the paper's protocol).
PROFILES = ("quick", "paper")

#: Figure names: the notebook's two-digit number, an underscore, then lower-case words.
FIGURE_NAME = re.compile(r"^(0[1-9]|[1-9][0-9])_[a-z0-9][a-z0-9_\-]*$")

#: Resolution of every saved figure (dots per inch).
FIGURE_DPI = 150


def get_profile(profile: str | None = None) -> str:
    """Return the active profile, validated.

    ``profile`` overrides the environment variable ``SCALING_KIT_PROFILE``.
    """
    value = profile if profile is not None else os.environ.get("SCALING_KIT_PROFILE", "quick")
    value = str(value).strip().lower()
    if value not in PROFILES:
        raise ValueError(
            f"Unknown profile {value!r}; set SCALING_KIT_PROFILE to one of {PROFILES} "
            "(quick = minutes on a laptop, paper = the paper's protocol)."
        )
    return value


def repo_root(start: str | os.PathLike | None = None) -> Path | None:
    """The checkout of scaling-kit that contains ``start`` (default: the working directory).

    Found by walking up to a ``pyproject.toml`` that names the project; ``None`` outside a
    checkout (an installed kit used from anywhere else).
    """
    start = Path.cwd() if start is None else Path(start)
    for candidate in (start.resolve(), *start.resolve().parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and 'name = "scaling-kit"' in pyproject.read_text(errors="ignore"):
            return candidate
    return None


def figures_dir(path: str | os.PathLike | None = None) -> Path:
    """Directory where figures are written (created if missing).

    Order: ``path`` argument, ``SCALING_KIT_FIGURES``, the repository's ``figures/`` (found by
    walking up from the working directory, so notebooks in ``notebooks/`` write there too),
    else ``./figures``.
    """
    if path is None:
        path = os.environ.get("SCALING_KIT_FIGURES") or None
    if path is None:
        root = repo_root()
        path = (root / "figures") if root is not None else Path("figures")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Directory for on-disk caches (downloads, resumable runs), created if missing.

    Order: ``path``, ``SCALING_KIT_CACHE``, ``$XDG_CACHE_HOME/scaling_kit`` (the XDG base
    directory convention), ``~/.cache/scaling_kit``.
    """
    if path is None:
        path = os.environ.get("SCALING_KIT_CACHE") or None
    if path is None:
        base = os.environ.get("XDG_CACHE_HOME") or None
        path = Path(base if base is not None else Path.home() / ".cache") / "scaling_kit"
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def check_figure_name(name) -> str:
    """``name`` if it is a valid figure name, else a ``ValueError`` that says the rule.

    Rule: ``0N_<what>``, the two-digit number of the notebook that draws the figure, an
    underscore and lower-case words (``"03_ols_rates"``), no directory and no extension. Under
    ``scaling-kit reproduce`` (``SCALING_KIT_NOTEBOOK`` set) the number must be the running
    notebook's.
    """
    if not isinstance(name, str):
        raise TypeError(f"Figure name must be a string such as '03_ols_rates'; got {name!r}.")
    if not FIGURE_NAME.match(name):
        raise ValueError(
            f"Figure name must be '0N_<what>': the notebook's number, an underscore and "
            f"lower-case words without a directory or extension (e.g. '03_ols_rates'); "
            f"got {name!r}."
        )
    running = os.environ.get("SCALING_KIT_NOTEBOOK")
    if running and not name.startswith(f"{running}_"):
        raise ValueError(
            f"Figure {name!r} is saved by notebook {running}: name it '{running}_<what>' so "
            "that every figure is named by the notebook that draws it."
        )
    return name


def save_figure(fig, name: str, directory: str | os.PathLike | None = None) -> Path:
    """Save a matplotlib figure as ``<figures_dir>/<name>.png`` at 150 dpi; return the path.

    ``name`` is ``0N_<what>`` (see :func:`check_figure_name`). Under ``scaling-kit reproduce``
    the figure is also listed in the run's report (:mod:`scaling_kit.report`).
    """
    check_figure_name(name)
    out = figures_dir(directory) / f"{name}.png"
    fig.savefig(out, dpi=FIGURE_DPI, bbox_inches="tight")
    from .report import _note_figure  # late import: report imports this module

    _note_figure(out)
    return out
