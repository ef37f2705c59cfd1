"""The main job: notebooks executed in order into an output folder, failures named, CLI."""

import json
import subprocess
import sys

import nbformat
import pytest

from scaling_kit import __version__, get_profile
from scaling_kit.cli import main
from scaling_kit.reproduce import ReproduceError, _Progress, find_notebooks, reproduce


def test_profile_validation(monkeypatch):
    monkeypatch.delenv("SCALING_KIT_PROFILE", raising=False)
    assert get_profile() == "quick"
    monkeypatch.setenv("SCALING_KIT_PROFILE", "Paper")
    assert get_profile() == "paper"
    monkeypatch.setenv("SCALING_KIT_PROFILE", "fast")
    with pytest.raises(ValueError, match="quick"):
        get_profile()


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"scaling-kit {__version__}"
    out = subprocess.run([sys.executable, "-m", "scaling_kit", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == f"scaling-kit {__version__}"


def test_the_five_notebooks_are_found_in_order():
    found = find_notebooks()
    assert list(found) == ["01", "02", "03", "04", "05"]
    assert all(path.name.startswith(number + "_") for number, path in found.items())


def test_only_names_an_unknown_notebook(tmp_path, capsys):
    with pytest.raises(ValueError, match="--only '07'"):
        reproduce(only="07", out=tmp_path, progress=False, log=lambda *a: None)
    assert main(["reproduce", "--only", "07", "--out", str(tmp_path)]) == 2
    assert "choose among" in capsys.readouterr().err


def test_reproduce_notebook_03_end_to_end(tmp_path, capsys):
    """The real notebook 03 through the command line: every output the main job promises."""
    out = tmp_path / "out"
    assert main(["reproduce", "--only", "03", "--out", str(out), "--no-progress"]) == 0
    assert "report written to" in capsys.readouterr().out
    executed = nbformat.read(out / "03_theory_checks.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {})
               for c in code for o in c.outputs), "figures appear in the executed notebook"
    html = (out / "03_theory_checks.html").read_text()
    assert "<html" in html and "Theory checks" in html
    index = (out / "index.html").read_text()
    assert 'href="03_theory_checks.html"' in index and 'href="03_theory_checks.ipynb"' in index
    figures = sorted(p.name for p in out.glob("*.png"))
    assert figures and all(name.startswith("03_") for name in figures), figures
    from PIL import Image

    for name in figures:
        with Image.open(out / name) as image:
            assert round(image.info["dpi"][0]) >= 150, name
    report = (out / "REPORT.md").read_text()
    assert "# scaling-kit report: quick profile" in report
    assert "## 03 · Theory checks by simulation" in report
    assert "**OLS: slope of psi(k) in log-log (Theorem A.1: -2)**" in report
    for name in figures:
        assert f'src="{name}"' in report
    # provenance: profile, seeds, versions, machine, date, command
    provenance = report.split("## Provenance", 1)[1]
    for needle in ("Profile: `quick`", "Seeds:", f"scaling-kit {__version__}", "numpy ",
                   "torch ", "Python ", "Machine:", "cores", "Date: 20", "command: `"):
        assert needle in provenance, needle
    run = json.loads((out / "run.json").read_text())
    assert run["profile"] == "quick" and run["provenance"]["profile"] == "quick"
    (nb,) = run["notebooks"]
    assert nb["status"] == "ok" and nb["seconds"] > 0
    if sys.platform != "win32":  # the kernel's CPU time, from getrusage of finished children
        assert 0 < nb["cpu_seconds"] < 10 * nb["seconds"]
    assert len(nb["cell_seconds"]) == len(code)
    assert {r["name"] for r in nb["records"] if r["kind"] == "figure"} == set(figures)


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}")]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, path)


@pytest.fixture
def tiny_notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "01_fails.ipynb", "x = 1", "raise ValueError('boom in cell three')")
    _notebook(
        folder / "02_works.ipynb",
        "import matplotlib.pyplot as plt\nimport scaling_kit\nfrom scaling_kit.report import record",
        "fig, ax = plt.subplots(figsize=(2, 2))\nax.plot([1, 2])\n"
        "scaling_kit.save_figure(fig, '02_tiny')",
        "record('the answer', 42, paper=41)",
    )
    return folder


def test_failing_notebook_stops_the_run_and_names_notebook_cell_and_error(tiny_notebooks, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ReproduceError) as exc:
        reproduce(notebooks=tiny_notebooks, out=out, progress=False, log=lambda *a: None)
    message = str(exc.value)
    assert "01_fails.ipynb" in message and "cell 3 of 3" in message
    assert "ValueError: boom in cell three" in message
    runs = exc.value.result.runs
    assert [r.status for r in runs] == ["failed", "not run"]  # stopped at the failure
    report = (out / "REPORT.md").read_text()
    assert "some notebooks failed" in report and "cell 3 of 3" in report
    assert (out / "01_fails.ipynb").is_file()  # the partial notebook, for debugging


def test_keep_going_runs_the_others_and_fails_the_command(tiny_notebooks, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["reproduce", "--notebooks", str(tiny_notebooks), "--out", str(out),
               "--keep-going", "--no-progress"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "01_fails.ipynb" in err and "cell 3 of 3" in err
    run = json.loads((out / "run.json").read_text())
    assert [n["status"] for n in run["notebooks"]] == ["failed", "ok"]
    report = (out / "REPORT.md").read_text()
    assert "**the answer**" in report and "ours: 42 · paper: 41" in report
    assert 'src="02_tiny.png"' in report and (out / "02_tiny.png").is_file()


def test_progress_estimates_time_left_from_the_previous_run(tmp_path):
    lines = []
    previous = {"01": {"seconds": 30.0, "cell_seconds": [10.0, 20.0]},
                "02": {"seconds": 60.0, "cell_seconds": [60.0]}}
    bar = _Progress(previous, ["01", "02"], enabled=True, log=lines.append)
    run = type("Run", (), {"number": "01", "stem": "01_x"})()
    bar.start(run, 2)
    assert "last run 0:30" in lines[0]
    bar.cell(run, 1, 2)
    assert bar.bar.postfix == "~0:20 left here, ~1:20 in all (last run)"  # after "[elapsed], "
    bar.bar.close()
