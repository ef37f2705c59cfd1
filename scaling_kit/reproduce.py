"""The main job: execute the five notebooks in order and write what they show.

``scaling-kit reproduce [--profile quick|paper] [--only 01,03] [--out DIR] [--keep-going]``
(or :func:`reproduce`) runs each notebook of the checkout's ``notebooks/`` in a fresh kernel
(nbclient) of this Python, with the profile in ``SCALING_KIT_PROFILE``, and writes to ``DIR``
(default ``$SCALING_KIT_FIGURES``, else the checkout's ``figures/``):

* ``0N_<name>.ipynb``: the executed notebook, outputs included, and ``0N_<name>.html``;
* every figure the notebooks save (``0N_<what>.png``, 150 dpi, :func:`scaling_kit.save_figure`);
* ``index.html``: the executed notebooks in order;
* ``REPORT.md``: per notebook its key numbers beside the paper's (what the notebooks hand over
  with :func:`scaling_kit.report.record`), its figures and its run time, then the provenance;
* ``run.json``: the same in machine-readable form; its per-cell times give the next run's
  estimate of the time left.

The notebooks are the single source of truth: nothing here computes a number they show.
A failing notebook stops the run (or, with ``keep_going``, the others still run) and the
error names the notebook, the cell and the exception.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import figures_dir, get_profile, repo_root
from .profiles import offline_setting

__all__ = ["NotebookError", "NotebookRun", "ReproduceError", "ReproduceResult",
           "find_notebooks", "reproduce"]


class NotebookError(RuntimeError):
    """A notebook failed: which one, in which cell, with which exception."""

    def __init__(self, notebook: str, cell: int | None, n_cells: int, source: str,
                 ename: str, evalue: str, traceback: str = ""):
        self.notebook, self.cell, self.n_cells = notebook, cell, n_cells
        self.source, self.ename, self.evalue, self.traceback = source, ename, evalue, traceback
        where = f"cell {cell} of {n_cells}" if cell is not None else "before its first cell"
        first = next((line for line in source.splitlines() if line.strip()), "")
        super().__init__(
            f"notebook {notebook} failed in {where}"
            + (f" ({first.strip()[:70]})" if first else "")
            + f": {ename}: {evalue}".rstrip()
        )


class ReproduceError(RuntimeError):
    """One or more notebooks failed; ``result`` holds every run (the report was written)."""

    def __init__(self, result: ReproduceResult):
        self.result = result
        lines = [str(run.error) for run in result.runs if run.error is not None]
        super().__init__("; ".join(lines) + f". Report: {result.report}")


@dataclass
class NotebookRun:
    """One notebook's execution."""

    number: str
    path: Path
    title: str = ""
    status: str = "not run"          # "ok", "failed" or "not run"
    seconds: float = 0.0
    cpu_seconds: float | None = None  # the kernel's CPU time (POSIX), steadier than wall time
    n_cells: int = 0
    cell_seconds: list = field(default_factory=list)
    records: list = field(default_factory=list)
    error: NotebookError | None = None

    @property
    def stem(self) -> str:
        """The notebook's file name without ``.ipynb`` (e.g. ``03_theory_checks``)."""
        return self.path.stem

    @property
    def figures(self) -> list:
        """Names of the figures the notebook saved, in order."""
        return [r["name"] for r in self.records if r["kind"] == "figure"]


@dataclass
class ReproduceResult:
    """What :func:`reproduce` did: the runs in order and the files it wrote."""

    profile: str
    out: Path
    runs: list
    report: Path
    index: Path
    seconds: float
    provenance: dict

    @property
    def ok(self) -> bool:
        """True when every notebook of the run executed without error."""
        return all(run.status == "ok" for run in self.runs)


# ------------------------------------------------------------------------------------------
# finding the notebooks
# ------------------------------------------------------------------------------------------
def find_notebooks(directory=None) -> dict:
    """``{number: path}`` of the notebooks ``0N_*.ipynb`` to run, in order.

    ``directory`` defaults to ``notebooks/`` of the checkout around the working directory, else
    of the checkout this package was imported from. The main job runs a checkout's notebooks:
    an installed kit without one says how to get them.
    """
    candidates = [Path(directory)] if directory is not None else [
        root / "notebooks"
        for root in (repo_root(), repo_root(Path(__file__).parent))
        if root is not None
    ]
    for folder in candidates:
        found = {p.name[:2]: p for p in sorted(folder.glob("[0-9][0-9]_*.ipynb"))}
        if found:
            return found
    where = ", ".join(str(c) for c in candidates) or "no checkout found"
    raise FileNotFoundError(
        f"No notebooks 0N_*.ipynb found ({where}). scaling-kit reproduce runs the notebooks of a "
        "checkout: clone the repository and run it there, or pass --notebooks DIR."
    )


def _select(found: dict, only) -> list:
    if not only:
        return sorted(found)
    wanted = []
    for item in ([only] if isinstance(only, str) else list(only)):
        for part in str(item).replace(",", " ").split():
            key = f"{int(part):02d}" if part.isdigit() else part[:2]
            if key not in found:
                raise ValueError(
                    f"--only {part!r}: no such notebook; choose among {sorted(found)} "
                    "(e.g. --only 01,03)."
                )
            wanted.append(key)
    return sorted(set(wanted))


# ------------------------------------------------------------------------------------------
# running one notebook
# ------------------------------------------------------------------------------------------
def _kernel_manager(socket_dir=None):
    """A kernel of this very Python (the one that imports this scaling_kit), whatever
    kernelspecs are installed elsewhere. On POSIX it talks over Unix sockets in
    ``socket_dir`` (no open TCP ports, and no warning about unencrypted TCP)."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import KernelManager

    class _ThisPython(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name="Python 3 (scaling-kit)", language="python", resource_dir="",
            )

    km = KernelManager(kernel_name="python3", kernel_spec_manager=_ThisPython())
    if os.name == "posix" and socket_dir is not None:
        km.transport, km.ip = "ipc", str(Path(socket_dir) / "kernel")
    return km


def _kernel_env(run: NotebookRun, profile: str, out: Path, record_dir: Path,
                offline: bool) -> dict:
    env = dict(os.environ)
    env.update(
        SCALING_KIT_PROFILE=profile,
        SCALING_KIT_FIGURES=str(out),
        SCALING_KIT_NOTEBOOK=run.number,
        SCALING_KIT_RECORD_DIR=str(record_dir),
        # figures appear in the executed notebook (a global MPLBACKEND=Agg would hide them)
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    if offline:
        env["SCALING_KIT_DATASETS"] = offline_setting()
    # the kernel imports the same scaling_kit as this process
    package_parent = str(Path(__file__).resolve().parents[1])
    if (Path(package_parent) / "pyproject.toml").is_file():
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    return env


def _children_cpu() -> float | None:
    """CPU seconds of this process's finished child processes (kernels are children)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


def _run_notebook(run: NotebookRun, *, profile, out, offline, timeout, progress):
    """Execute ``run.path``; write the executed notebook and its HTML. Returns the notebook."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(run.path, as_version=4)
    run.title = _title(nb)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    run.n_cells = len(nb.cells)
    state = {"index": None, "start": None}
    cell_seconds = {}
    progress.start(run, len(code))

    def on_start(cell, cell_index, **_):
        state["index"], state["start"] = cell_index, time.perf_counter()
        if cell.cell_type == "code":
            progress.cell(run, code.index(cell_index), len(code))

    def on_executed(cell, cell_index, **_):
        cell_seconds[cell_index] = time.perf_counter() - state["start"]

    with tempfile.TemporaryDirectory(prefix="scaling-kit-records-") as record_dir:
        km = _kernel_manager(record_dir)
        client = NotebookClient(
            nb, km=km, timeout=timeout, allow_errors=False,
            resources={"metadata": {"path": str(run.path.parent)}},
            on_cell_start=on_start, on_cell_executed=on_executed,
        )
        env = _kernel_env(run, profile, out, Path(record_dir), offline)
        start, cpu_start = time.perf_counter(), _children_cpu()
        try:
            client.execute(env=env)
            run.status = "ok"
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
            index = state["index"]
            source = nb.cells[index].source if index is not None else ""
            ename = getattr(exc, "ename", type(exc).__name__)
            evalue = getattr(exc, "evalue", None) or str(exc).strip().splitlines()[-1:] or [""]
            evalue = evalue if isinstance(evalue, str) else evalue[0]
            run.error = NotebookError(run.path.name, None if index is None else index + 1,
                                      run.n_cells, source, ename, evalue, str(exc))
            run.status = "failed"
        finally:
            run.seconds = time.perf_counter() - start
            if km.has_kernel:  # nbclient leaves a kernel it did not create running
                km.shutdown_kernel(now=True)
            cpu_end = _children_cpu()
            if cpu_start is not None and cpu_end is not None:
                run.cpu_seconds = round(cpu_end - cpu_start, 1)
            run.cell_seconds = [round(cell_seconds.get(i, 0.0), 3) for i in code]
            from .report import read_records

            run.records = read_records(record_dir)
    nbformat.write(nb, out / f"{run.stem}.ipynb")
    _write_html(nb, out / f"{run.stem}.html")
    return nb


def _write_html(nb, path: Path) -> None:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    path.write_text(body, encoding="utf-8")


# ------------------------------------------------------------------------------------------
# progress: which notebook, which cell, elapsed, and what is left (from the last run)
# ------------------------------------------------------------------------------------------
def _clock(seconds: float) -> str:
    seconds = int(round(max(seconds, 0)))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else \
        f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class _Progress:
    """A tqdm.auto bar per notebook (cells done / code cells) with the time left estimated
    from the previous run's per-cell times in the same output directory and profile."""

    def __init__(self, previous: dict, order: list, enabled: bool, log):
        self.previous, self.order, self.enabled, self.log = previous, order, enabled, log
        self.bar = None

    def _left_after(self, number: str) -> float | None:
        later = self.order[self.order.index(number) + 1:]
        times = [self.previous.get(n, {}).get("seconds") for n in later]
        return None if any(t is None for t in times) else sum(times)

    def start(self, run: NotebookRun, n_code: int):
        prev = self.previous.get(run.number, {}).get("seconds")
        last = f", last run {_clock(prev)}" if prev is not None else ""
        position = f"{self.order.index(run.number) + 1}/{len(self.order)}"
        self.log(f"[scaling-kit] {run.stem} ({position}, {n_code} code cells{last}) ...")
        if self.enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=n_code, desc=f"{run.number} [{position}]", unit="cell",
                            bar_format="{desc}: {n}/{total} cells [{elapsed}]{postfix}",
                            leave=False, disable=None)

    def cell(self, run: NotebookRun, done: int, n_code: int):
        if self.bar is None:
            return
        self.bar.n = done
        prev = self.previous.get(run.number, {}).get("cell_seconds") or []
        text = ""
        if len(prev) == n_code:
            left = sum(prev[done:])
            after = self._left_after(run.number)
            text = f"~{_clock(left)} left here" + (
                f", ~{_clock(left + after)} in all" if after is not None else "") + " (last run)"
        self.bar.set_postfix_str(text, refresh=True)

    def finish(self, run: NotebookRun):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        n_fig = len(run.figures)
        n_rec = sum(r["kind"] == "value" for r in run.records)
        cpu = f", kernel CPU {_clock(run.cpu_seconds)}" if run.cpu_seconds is not None else ""
        self.log(f"[scaling-kit] {run.stem}: {run.status} in {_clock(run.seconds)}{cpu} "
                 f"({n_fig} figures, {n_rec} recorded values)")
        if run.error is not None:
            self.log(f"[scaling-kit] {run.error}")


def _previous_times(out: Path, profile: str) -> dict:
    try:
        data = json.loads((out / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    if data.get("profile") != profile:
        return {}
    return {n["number"]: n for n in data.get("notebooks", []) if n.get("status") == "ok"}


# ------------------------------------------------------------------------------------------
# the main job
# ------------------------------------------------------------------------------------------
def reproduce(*, profile: str | None = None, only=None, out=None, keep_going: bool = False,
              offline: bool = False, notebooks=None, timeout: int | None = None,
              progress: bool = True, log=print) -> ReproduceResult:
    """Execute the notebooks in order and write their outputs, ``index.html`` and ``REPORT.md``.

    Parameters
    ----------
    profile : ``"quick"`` or ``"paper"`` (default ``$SCALING_KIT_PROFILE``, else quick).
    only : notebook numbers to run (``"01,03"``, ``["01", "03"]`` or ``[1, 3]``); default all.
    out : output directory (default ``$SCALING_KIT_FIGURES``, else the checkout's ``figures/``).
    keep_going : run the other notebooks after one fails (default: stop at the first failure).
    offline : replace downloaded datasets by bundled stand-ins (``SCALING_KIT_DATASETS``).
    notebooks : the folder of the notebooks (default: the checkout's ``notebooks/``).
    timeout : seconds one cell may run (default: no limit).
    progress : show a progress bar per notebook; ``log`` prints one line per notebook.

    Returns a :class:`ReproduceResult`; raises :class:`ReproduceError` (after writing the
    report) if a notebook failed.
    """
    from .report import provenance, write_index, write_report

    profile = get_profile(profile)
    found = find_notebooks(notebooks)
    order = _select(found, only)
    if out is None and not os.environ.get("SCALING_KIT_FIGURES"):
        root = repo_root(next(iter(found.values())).parent)
        out = root / "figures" if root is not None else None
    out = figures_dir(out).resolve()
    runs = [NotebookRun(number, found[number]) for number in order]
    prov = provenance(profile=profile, offline=offline, only=order if only else None,
                      known=sorted(found))
    bar = _Progress(_previous_times(out, profile), order, progress, log)
    started = time.perf_counter()
    stop = False
    for run in runs:
        if stop:
            break
        _run_notebook(run, profile=profile, out=out, offline=offline, timeout=timeout,
                      progress=bar)
        bar.finish(run)
        stop = run.status != "ok" and not keep_going
    seconds = time.perf_counter() - started
    prov["seconds"] = round(seconds, 1)
    result = ReproduceResult(profile=profile, out=out, runs=runs, report=out / "REPORT.md",
                             index=out / "index.html", seconds=seconds, provenance=prov)
    write_report(result)
    write_index(result)
    (out / "run.json").write_text(json.dumps(_run_json(result), indent=1) + "\n")
    if not result.ok:
        raise ReproduceError(result)
    return result


def _run_json(result: ReproduceResult) -> dict:
    return {
        "profile": result.profile,
        "seconds": round(result.seconds, 1),
        "provenance": result.provenance,
        "notebooks": [
            {"number": r.number, "notebook": r.path.name, "title": r.title, "status": r.status,
             "seconds": round(r.seconds, 1), "cpu_seconds": r.cpu_seconds,
             "cell_seconds": r.cell_seconds,
             "figures": r.figures, "records": r.records,
             "error": None if r.error is None else str(r.error)}
            for r in result.runs
        ],
    }

