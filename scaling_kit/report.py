"""How notebooks hand their key numbers to the main job's report, and how the report is written.

In a notebook::

    from scaling_kit.report import record

    record("Table 1: R^2 of the log-linear law", r2_table(results).round(3))
    record("median alpha (fair, logistic regression)", alpha.median(), paper="mode 1 to 1.5")

:func:`record` returns its value unchanged, so it can wrap the last expression of a cell (the
cell still displays it). Run interactively it only checks its arguments. Under
``scaling-kit reproduce`` (which sets ``SCALING_KIT_RECORD_DIR`` for each notebook) it also
appends the value, rendered as Markdown, to ``records.jsonl`` in that directory; the main job
collects those records, and the figures saved with :func:`scaling_kit.save_figure`, into
``REPORT.md``: per notebook its key numbers beside the paper's, its figures and its run time,
then the run's provenance. Nothing is scraped from the notebooks' outputs.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .results import Summary

__all__ = ["RECORD_FILE", "markdown_table", "provenance", "read_records", "record",
           "write_index", "write_report"]

#: Name of the sidecar file in ``$SCALING_KIT_RECORD_DIR``: one JSON object per line.
RECORD_FILE = "records.jsonl"

#: Tables longer than this are cut in the report (the executed notebook has them whole).
MAX_ROWS = 25


def record(name: str, value, *, paper=None, note: str | None = None):
    """Hand a table or headline number to the main job's ``REPORT.md``; return ``value``.

    Parameters
    ----------
    name : what the value is, as the report's heading for it ("Table 1: R^2 by model").
    value : a number, a string, a pandas ``DataFrame`` or ``Series``, a dict of numbers or
        strings (one row per key), or a :class:`scaling_kit.results.Summary` (its facts and
        tables). Tables should already hold the paper's numbers beside ours where the paper
        has them (e.g. ``beside_paper(...)``).
    paper : the paper's number (or text, or table) for the same quantity, shown beside ours.
    note : one line shown under the value (what differs from the paper's setting).

    Returns ``value`` itself. Outside ``scaling-kit reproduce`` nothing is written.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"record(name=...) must be a non-empty string; got {name!r}.")
    if note is not None and not isinstance(note, str):
        raise TypeError(f"record(note=...) must be a string or None; got {type(note).__name__}.")
    entry = {"kind": "value", "name": name.strip(), **_render(value, "value")}
    if paper is not None:
        entry["paper"] = _render(paper, "paper")
    if note:
        entry["note"] = note
    _append(entry)
    return value


def _note_figure(path) -> None:
    """Called by :func:`scaling_kit.save_figure`: list the figure in the running notebook's record."""
    _append({"kind": "figure", "name": Path(path).name})


def _note_dataset(requested: str, used: str, label: str) -> None:
    """Called by :func:`scaling_kit.profiles.load_dataset`: which data a notebook really used."""
    _append({"kind": "dataset", "name": requested, "used": used, "label": label})


def _note_cache(run_key: str, read: int, computed: int) -> None:
    """Called by the contribution sampler with ``cache=``: how many of a run's contributions
    were read back from the cache (computed by an earlier run) and how many computed now."""
    _append({"kind": "cache", "name": run_key, "read": int(read), "computed": int(computed)})


def _cached(run) -> tuple:
    """``(read, total)`` contributions of a notebook's cached runs (from its records)."""
    entries = [r for r in run.records if r["kind"] == "cache"]
    read = sum(r["read"] for r in entries)
    return read, read + sum(r["computed"] for r in entries)


def _append(entry: dict) -> None:
    directory = os.environ.get("SCALING_KIT_RECORD_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    with open(path / RECORD_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")


def read_records(directory) -> list[dict]:
    """The records a notebook wrote to ``directory`` (empty if none), in first-seen order.

    A name recorded twice (a cell run again) keeps its first position and its last value.
    """
    path = Path(directory) / RECORD_FILE
    if not path.is_file():
        return []
    entries: dict = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            entries[(entry["kind"], entry["name"])] = entry
    return list(entries.values())


# ------------------------------------------------------------------------------------------
# rendering values as Markdown (at record time, in the kernel that holds the objects)
# ------------------------------------------------------------------------------------------
def _is_scalar(value) -> bool:
    return isinstance(value, (numbers.Number, np.generic, str)) and not isinstance(value, bytes)


def _format_scalar(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}" if abs(int(value)) >= 10_000 else str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return "nan"
        return f"{value:.4g}"
    return str(value)


def _render(value, argument: str) -> dict:
    """``{"text": ...}`` for scalars, ``{"markdown": ..., "rows": n}`` for tables."""
    if _is_scalar(value):
        out = {"text": _format_scalar(value)}
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            out["number"] = float(value) if math.isfinite(float(value)) else None
        return out
    if isinstance(value, Summary):
        parts = []
        if value.facts:
            parts.append(markdown_table(pd.Series(value.facts, name="value").to_frame()))
        for caption, frame in value.tables.items():
            parts.append((f"*{caption}*\n\n" if caption else "") + markdown_table(frame))
        return {"markdown": f"*{value.title}*\n\n" + "\n\n".join(parts)}
    if isinstance(value, pd.Series):
        value = value.to_frame()
    if isinstance(value, dict) and all(_is_scalar(v) for v in value.values()):
        value = pd.Series(value, name="value", dtype=object).to_frame()
    if isinstance(value, pd.DataFrame):
        return {"markdown": markdown_table(value), "rows": int(value.shape[0])}
    if isinstance(value, (tuple, list)) and all(_is_scalar(v) for v in value):
        return {"text": ", ".join(_format_scalar(v) for v in value)}
    raise TypeError(
        f"record({argument}=...) takes a number, a string, a pandas DataFrame or Series, a dict "
        f"of numbers or strings, a list of numbers or a Summary; got {type(value).__name__}. "
        "Convert it first (e.g. pd.DataFrame(...))."
    )


def _cell(value) -> str:
    if isinstance(value, tuple):
        text = "(" + ", ".join(_cell(v) for v in value) + ")"
    elif value is None or (isinstance(value, float) and math.isnan(value)):
        text = ""
    elif _is_scalar(value):
        text = _format_scalar(value)
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _label(key) -> str:
    if isinstance(key, tuple):
        return " / ".join(str(k) for k in key if str(k) != "")
    return str(key)


def markdown_table(frame: pd.DataFrame, max_rows: int = MAX_ROWS) -> str:
    """A DataFrame as a GitHub Markdown table (index first; numbers to 4 significant digits).

    Tables longer than ``max_rows`` are cut, with a line saying how many rows were left out.
    """
    levels = frame.index.nlevels
    names = ["" if n is None else str(n) for n in frame.index.names]
    header = names + [_label(c) for c in frame.columns]
    lines = [
        "| " + " | ".join(h.replace("|", "\\|") for h in header) + " |",
        "|" + "|".join(["---"] * len(header)) + "|",
    ]
    shown = frame.iloc[:max_rows]
    for key, row in zip(shown.index, shown.itertuples(index=False), strict=True):
        keys = list(key) if levels > 1 else [key]  # one column per index level
        lines.append("| " + " | ".join([_cell(k) for k in keys] + [_cell(v) for v in row]) + " |")
    if frame.shape[0] > max_rows:
        lines.append(f"\n*... {frame.shape[0] - max_rows} more rows in the executed notebook.*")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# provenance and the report files (written by scaling_kit.reproduce)
# ------------------------------------------------------------------------------------------
_PACKAGES = ("numpy", "scipy", "scikit-learn", "statsmodels", "torch", "pandas", "matplotlib",
             "joblib", "threadpoolctl", "nbclient", "ipykernel")


def _cpu_model() -> str:
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (AttributeError, ValueError, OSError):
        return None


def _git_commit(start: Path) -> str | None:
    import subprocess

    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=start, text=True,
                             capture_output=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=start, text=True, capture_output=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + (" (uncommitted changes)" if dirty.strip() else "")


def provenance(*, profile: str, offline: bool = False, only=None, seconds: float | None = None,
               known=()) -> dict:
    """Where and how a run was made: profile, seeds, versions, machine, date, command."""
    import datetime
    import platform
    from importlib import metadata

    from threadpoolctl import threadpool_info

    from . import __version__
    from .config import repo_root
    from .profiles import SIZES

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    root = repo_root(Path(__file__).parent)
    command = _command_line(root)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "profile": profile,
        "offline": bool(offline),
        "only": list(only) if only else None,
        "seconds": None if seconds is None else round(seconds, 1),
        "seeds": {key: SIZES[key][profile].get("seed") for key in SIZES
                  if key in (only or known)},
        "scaling_kit": __version__,
        "git": _git_commit(root) if root is not None else None,
        "python": platform.python_version(),
        "packages": versions,
        "blas": sorted({f"{i.get('internal_api')} ({i.get('num_threads')} threads)"
                        for i in threadpool_info()}),
        "machine": {
            "platform": platform.platform(),
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "memory_gib": _memory_gib(),
        },
    }


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _relative(target: Path, start: Path) -> str:
    try:
        return Path(os.path.relpath(target, start)).as_posix()
    except ValueError:  # another drive (Windows)
        return target.resolve().as_uri()


def _value_block(entry: dict) -> list:
    lines = [f"**{entry['name']}**", ""]
    paper = entry.get("paper")
    ours = entry.get("markdown") or f"ours: {entry['text']}"
    if paper is not None and "text" in paper and "text" in entry:
        ours += f" · paper: {paper['text']}"
    lines += [ours, ""]
    if paper is not None and "markdown" in paper:
        lines += ["Paper:", "", paper["markdown"], ""]
    elif paper is not None and "markdown" in entry:
        lines += [f"Paper: {paper['text']}", ""]
    if entry.get("note"):
        lines += [f"*{entry['note']}*", ""]
    return lines


def write_report(result) -> Path:
    """Write ``REPORT.md`` for a :class:`scaling_kit.reproduce.ReproduceResult`."""
    out, prov = Path(result.out), result.provenance
    stand_ins = sorted({r["label"] for run in result.runs for r in run.records
                        if r["kind"] == "dataset" and r["used"] != r["name"]})
    status = "all notebooks ran" if result.ok else "**some notebooks failed or did not run**"
    lines = [
        f"# scaling-kit report: {result.profile} profile",
        "",
        f"{len(result.runs)} notebook{'s' if len(result.runs) != 1 else ''}, "
        f"{_duration(result.seconds)}, {status}. Every number "
        "below was computed by this run and handed over by the notebooks "
        "(`scaling_kit.report.record`); the papers' numbers stand beside ours, labelled. "
        "The executed notebooks are in `index.html` beside this file.",
        "",
    ]
    if stand_ins:
        lines += ["> **Offline stand-ins:** " + "; ".join(stand_ins)
                  + ". Numbers on a stand-in are not the paper's dataset.", ""]
    reused = [run.number for run in result.runs if _cached(run)[0]]
    if reused:
        lines += ["> **Read from the cache:** notebook" + ("s " if len(reused) > 1 else " ")
                  + ", ".join(reused) + " read contributions that an earlier run computed "
                  "(`SCALING_KIT_CACHE`, verified chunk by chunk); their run times below do not "
                  "include computing them. Each notebook's section says how many.", ""]
    lines += ["| notebook | status | run time | kernel CPU time | figures | recorded values |",
              "|---|---|---|---|---|---|"]
    for run in result.runs:
        link = _relative(run.path, out)
        n_values = sum(r["kind"] == "value" for r in run.records)
        cpu = _duration(run.cpu_seconds) if run.cpu_seconds is not None else "n/a"
        lines.append(f"| [{run.stem}]({link}) | {run.status} | {_duration(run.seconds)} | "
                     f"{cpu} | {len(run.figures)} | {n_values} |")
    lines.append("")
    for run in result.runs:
        title = run.title or run.stem
        lines += [f"## {title if title.startswith(run.number) else run.number + ' · ' + title}",
                  ""]
        lines += [f"`{run.path.name}`: {run.status}, {_duration(run.seconds)}.", ""]
        if run.error is not None:
            lines += ["```", str(run.error), "```", ""]
        datasets = [r["label"] for r in run.records if r["kind"] == "dataset"]
        if datasets:
            lines += ["Datasets: " + ", ".join(dict.fromkeys(datasets)) + ".", ""]
        read, total = _cached(run)
        if total:
            lines += [f"Cached contributions: {read:,} of {total:,} read from the cache, "
                      f"{total - read:,} computed by this run.", ""]
        for entry in (r for r in run.records if r["kind"] == "value"):
            lines += _value_block(entry)
        if run.figures:
            lines += ["Figures:", ""]
            lines += [f'<a href="{name}"><img src="{name}" alt="{name}" width="32%"></a>'
                      for name in run.figures]
            lines.append("")
    machine = prov.get("machine", {})
    packages = ", ".join(f"{k} {v}" for k, v in prov.get("packages", {}).items())
    seeds = ", ".join(f"{k}: {v}" for k, v in prov.get("seeds", {}).items())
    lines += [
        "## Provenance",
        "",
        f"- Profile: `{prov.get('profile')}`"
        + (f" (only notebooks {', '.join(prov['only'])})" if prov.get("only") else "")
        + ("; offline stand-ins for downloaded datasets" if prov.get("offline") else "") + ".",
        f"- Seeds: base seed per notebook {seeds or 'n/a'} (scaling_kit.profiles); a rerun "
        "with the same profile repeats every number up to floating-point rounding.",
        f"- scaling-kit {prov.get('scaling_kit')}"
        + (f", git {prov['git']}" if prov.get("git") else "")
        + f"; Python {prov.get('python')}; {packages}.",
        f"- Machine: {machine.get('platform')}; {machine.get('cpu')}; "
        f"{machine.get('cores')} cores; {machine.get('memory_gib')} GiB; "
        f"BLAS {', '.join(prov.get('blas', [])) or 'n/a'}.",
        f"- Date: {prov.get('date')}; command: `{prov.get('command')}`.",
        "",
    ]
    path = out / "REPORT.md"
    tmp = path.with_name(".REPORT.md.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    tmp.replace(path)
    return path


def write_index(result) -> Path:
    """Write ``index.html``: the executed notebooks in order, with status and run time."""
    import html

    rows = []
    for run in result.runs:
        title = html.escape(run.title or run.stem)
        if run.status == "not run":
            links = "not run"
        else:
            links = (f'<a href="{run.stem}.html">{title}</a> '
                     f'(<a href="{run.stem}.ipynb">ipynb</a>)')
        rows.append(f"<tr><td>{run.number}</td><td>{links}</td><td>{run.status}</td>"
                    f"<td>{_duration(run.seconds)}</td><td>{len(run.figures)}</td></tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>scaling-kit: {html.escape(result.profile)} profile</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
td,th{{padding:.3em .8em;text-align:left}}</style></head><body>
<h1>scaling-kit: the notebooks, executed ({html.escape(result.profile)} profile)</h1>
<p>{html.escape(result.provenance.get('date', ''))} · scaling-kit
{html.escape(str(result.provenance.get('scaling_kit')))} ·
<a href="REPORT.md">REPORT.md</a></p>
<table><tr><th></th><th>notebook</th><th>status</th><th>run time</th><th>figures</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    path = Path(result.out) / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _command_line(root) -> str:
    """The command that made the run, without this machine's paths.

    ``python -m package`` is written as such (``sys.argv[0]`` is then a ``__main__.py`` path);
    an absolute path argument is written relative to the repository when it is inside it, and
    as ``<DIR>/name`` otherwise, so that a committed report names no path of a machine.
    """
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        head = "python -m " + spec.name.removesuffix(".__main__")
    else:
        head = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    root = Path(root).resolve() if root else None
    args = []
    for arg in sys.argv[1:]:
        path = Path(arg)
        if path.is_absolute():
            resolved = path.resolve()
            inside = root is not None and resolved.is_relative_to(root)
            arg = str(resolved.relative_to(root)) if inside else f"<DIR>/{path.name}"
        args.append(arg)
    return " ".join([head, *args])
