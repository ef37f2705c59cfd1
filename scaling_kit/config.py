"""Run profiles and output locations shared by the notebooks, the CLI and the tests.

The profile is chosen by the environment variable ``SCALING_KIT_PROFILE``:

* ``quick`` (default): minutes on a laptop, used by CI and the README's main command;
* ``paper``: the paper-sized protocol (Covert et al., ICML 2024, Sections 4.1-4.4).
"""

from __future__ import annotations

import os
from pathlib import Path

PROFILES = ("quick", "paper")


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


def _repo_root(start: Path) -> Path | None:
    for candidate in (start, *start.parents):
        pyproject = candidate / "pyproject.toml"
        if pyproject.is_file() and "scaling-kit" in pyproject.read_text(errors="ignore"):
            return candidate
    return None


def figures_dir(path: str | os.PathLike | None = None) -> Path:
    """Directory where figures are written (created if missing).

    Order: ``path`` argument, ``SCALING_KIT_FIGURES``, the repository's ``figures/`` (found by
    walking up from the working directory, so notebooks in ``notebooks/`` write there too),
    else ``./figures``.
    """
    if path is None:
        path = os.environ.get("SCALING_KIT_FIGURES")
    if path is None:
        root = _repo_root(Path.cwd().resolve())
        path = (root / "figures") if root is not None else Path("figures")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Directory for on-disk caches (downloads, resumable runs).

    Order: ``path``, ``SCALING_KIT_CACHE``, ``~/.cache/scaling_kit``.
    """
    if path is None:
        path = os.environ.get("SCALING_KIT_CACHE", Path.home() / ".cache" / "scaling_kit")
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def save_figure(fig, name: str, directory: str | os.PathLike | None = None) -> Path:
    """Save a matplotlib figure as ``<figures_dir>/<name>.png`` and return the path."""
    if not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"Figure name must be a plain file name without directories; got {name!r}.")
    out = figures_dir(directory) / f"{name}.png"
    fig.savefig(out, dpi=110, bbox_inches="tight")
    return out
