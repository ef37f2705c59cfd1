"""record(): what notebooks hand to the report; save_figure's names and resolution; folders."""

import json

import numpy as np
import pandas as pd
import pytest

import scaling_kit
from scaling_kit.config import cache_dir, check_figure_name, figures_dir
from scaling_kit.datasets import load_dataset
from scaling_kit.report import markdown_table, read_records, record, write_report
from scaling_kit.results import Summary


def test_record_returns_its_value_and_writes_nothing_interactively(monkeypatch, tmp_path):
    monkeypatch.delenv("SCALING_KIT_RECORD_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    table = pd.DataFrame({"a": [1.0, 2.0]})
    assert record("a table", table) is table
    assert record("a number", 0.5) == 0.5
    assert list(tmp_path.iterdir()) == []


def test_record_writes_a_sidecar_under_the_executor(monkeypatch, tmp_path):
    monkeypatch.setenv("SCALING_KIT_RECORD_DIR", str(tmp_path))
    record("R^2", np.float64(0.99417), paper=0.993, note="fair stands in for MiniBooNE")
    record("alphas", pd.Series([1.25, 1.5], index=["p0", "p1"], name="alpha"))
    record("R^2", 0.995)  # a cell run again: last value wins, first position kept
    lines = (tmp_path / "records.jsonl").read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["kind"] == "value" for line in lines)
    records = read_records(tmp_path)
    assert [r["name"] for r in records] == ["R^2", "alphas"]
    assert records[0]["text"] == "0.995" and records[0]["number"] == 0.995
    assert records[1]["markdown"].splitlines()[0] == "|  | alpha |"
    assert "| p1 | 1.5 |" in records[1]["markdown"]


def test_record_renders_each_kind_of_value(monkeypatch, tmp_path):
    monkeypatch.setenv("SCALING_KIT_RECORD_DIR", str(tmp_path))
    record("dict", {"ours": 1.23456789, "paper": "1.0-1.5"})
    record("summary", Summary("A fit", facts={"n": 3}, tables={"params": pd.DataFrame({"b": [-0.5]})}))
    record("beside", 0.9, paper=pd.DataFrame({"MiniBooNE": [0.993]}, index=["LogReg"]))
    record("many", list(range(3)))
    by_name = {r["name"]: r for r in read_records(tmp_path)}
    assert "| ours | 1.235 |" in by_name["dict"]["markdown"]
    assert by_name["summary"]["markdown"].startswith("*A fit*")
    assert "| 0 | -0.5 |" in by_name["summary"]["markdown"]
    assert "| LogReg | 0.993 |" in by_name["beside"]["paper"]["markdown"]
    assert by_name["many"]["text"] == "0, 1, 2"


@pytest.mark.parametrize("name, value, error, match", [
    ("", 1.0, ValueError, "non-empty"),
    (3, 1.0, ValueError, "non-empty"),
    ("an array", np.zeros(3), TypeError, "record\\(value=...\\)"),
    ("an object", object(), TypeError, "Convert it first"),
])
def test_record_rejects_what_it_cannot_show(name, value, error, match):
    with pytest.raises(error, match=match):
        record(name, value)
    with pytest.raises(TypeError, match="record\\(paper=...\\)"):
        record("ok", 1.0, paper=np.zeros(2))


def test_markdown_table_escapes_pipes_flattens_columns_and_cuts_long_tables():
    frame = pd.DataFrame({("10 samples", "Pearson"): [0.5, np.nan], ("a|b", "x"): ["|", "y"]},
                         index=pd.Index(["Monte Carlo", "Likelihood"], name="estimator"))
    text = markdown_table(frame)
    assert text.splitlines()[0] == "| estimator | 10 samples / Pearson | a\\|b / x |"
    assert "| Likelihood |  | y |" in text
    two = pd.DataFrame({"r2": [0.9, 0.8]},
                       index=pd.MultiIndex.from_tuples([("Amortized", 10), ("Likelihood", 10)],
                                                       names=["estimator", "n_samples"]))
    assert markdown_table(two).splitlines()[0] == "| estimator | n_samples | r2 |"
    assert "| Likelihood | 10 | 0.8 |" in markdown_table(two)
    long = markdown_table(pd.DataFrame({"v": range(40)}), max_rows=5)
    assert len([line for line in long.splitlines() if line.startswith("| ")]) == 6
    assert "35 more rows" in long


def test_save_figure_names_and_resolution(monkeypatch, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    monkeypatch.delenv("SCALING_KIT_NOTEBOOK", raising=False)
    monkeypatch.setenv("SCALING_KIT_RECORD_DIR", str(tmp_path / "records"))
    fig, ax = plt.subplots(figsize=(2, 1))
    path = scaling_kit.save_figure(fig, "03_ols_rates", tmp_path)
    with Image.open(path) as image:
        assert image.size == (pytest.approx(300, abs=40), pytest.approx(150, abs=40))
        assert round(image.info["dpi"][0]) == 150
    assert [r["name"] for r in read_records(tmp_path / "records")] == ["03_ols_rates.png"]
    for bad in ("ols_rates", "nb01_x", "3_x", "03_", "03_Rates", "03_x.png", "../03_x"):
        with pytest.raises(ValueError, match="0N_<what>"):
            scaling_kit.save_figure(fig, bad, tmp_path)
    monkeypatch.setenv("SCALING_KIT_NOTEBOOK", "02")
    with pytest.raises(ValueError, match="saved by notebook 02"):
        check_figure_name("03_ols_rates")
    assert check_figure_name("02_alpha_histogram") == "02_alpha_histogram"
    plt.close(fig)


def test_cache_dir_honours_xdg_and_the_override(monkeypatch, tmp_path):
    monkeypatch.delenv("SCALING_KIT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "scaling_kit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "scaling_kit"
    monkeypatch.setenv("SCALING_KIT_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine" and (tmp_path / "mine").is_dir()


def test_figures_dir_order(monkeypatch, tmp_path):
    monkeypatch.setenv("SCALING_KIT_FIGURES", str(tmp_path / "env"))
    assert figures_dir() == tmp_path / "env"
    assert figures_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("SCALING_KIT_FIGURES")
    monkeypatch.chdir(tmp_path)
    assert figures_dir() == __import__("pathlib").Path("figures")


def test_provenance_command_names_no_path_of_this_machine(tmp_path, monkeypatch):
    import sys
    import types

    from scaling_kit.report import _command_line

    root = tmp_path / "checkout"
    (root / "figures").mkdir(parents=True)
    outside = tmp_path / "elsewhere" / "scratch"
    monkeypatch.setattr(sys, "argv", ["/opt/env/lib/scaling_kit/__main__.py", "reproduce",
                                      "--out", str(root / "figures"), "--cache", str(outside),
                                      "--only", "01"])
    monkeypatch.setitem(sys.modules, "__main__",
                        types.SimpleNamespace(__spec__=types.SimpleNamespace(
                            name="scaling_kit.__main__")))
    command = _command_line(root)
    assert command == "python -m scaling_kit reproduce --out figures --cache <DIR>/scratch --only 01"
    assert str(tmp_path) not in command
    # the console script keeps its name
    monkeypatch.setattr(sys, "argv", ["/opt/env/bin/scaling-kit", "reproduce"])
    monkeypatch.setitem(sys.modules, "__main__", types.SimpleNamespace(__spec__=None))
    assert _command_line(root) == "scaling-kit reproduce"


def test_the_report_says_which_contributions_came_from_the_cache(monkeypatch, tmp_path):
    from scaling_kit.contributions import sample_contributions
    from scaling_kit.learners import ExactLogisticRegression
    from scaling_kit.reproduce import NotebookRun, ReproduceResult

    data = load_dataset("breast_cancer", random_state=0)
    records, cache = tmp_path / "records", tmp_path / "cache"
    monkeypatch.setenv("SCALING_KIT_RECORD_DIR", str(records))
    args = dict(k=[20, 40], n_samples=6, random_state=0, progress=False, cache=cache)
    sample_contributions(ExactLogisticRegression(), data, [1, 2, 3], **args)
    first = [r for r in read_records(records) if r["kind"] == "cache"]
    assert [(r["read"], r["computed"]) for r in first] == [(0, 36)]
    sample_contributions(ExactLogisticRegression(), data, [1, 2, 3], **args)  # a rerun
    sample_contributions(ExactLogisticRegression(), data, [4], **args)  # another run, computed
    entries = [r for r in read_records(records) if r["kind"] == "cache"]
    assert [(r["read"], r["computed"]) for r in entries] == [(36, 0), (0, 12)]

    notebook = tmp_path / "notebooks" / "02_x.ipynb"
    notebook.parent.mkdir()
    notebook.write_text("{}")
    out = tmp_path / "out"
    out.mkdir()
    runs = [NotebookRun("02", notebook, status="ok", seconds=1.0, records=read_records(records)),
            NotebookRun("03", notebook.with_name("03_y.ipynb"), status="ok", seconds=1.0)]
    text = write_report(ReproduceResult(
        profile="paper", out=out, runs=runs, report=out / "REPORT.md", index=out / "index.html",
        seconds=2.0, provenance={"profile": "paper", "machine": {}})).read_text()
    assert "> **Read from the cache:** notebook 02 read contributions" in text
    assert "Cached contributions: 36 of 48 read from the cache, 12 computed by this run." in text
    assert text.count("Cached contributions") == 1  # notebook 03 cached nothing
