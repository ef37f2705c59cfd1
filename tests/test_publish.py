"""Where the kit lives, its version and licence, and the files that must agree with
pyproject.toml: notebooks' setup cell and badges, README, CITATION.cff, conda files, CI."""

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

import scaling_kit

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _sync_module():
    spec = importlib.util.spec_from_file_location("sync_notebooks", ROOT / "tools" / "sync_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_version_and_one_address():
    project = PYPROJECT["project"]
    assert scaling_kit.__version__ == project["version"]
    urls = project["urls"]
    assert set(urls) >= {"Repository", "Documentation", "Issues"}
    assert urls["Documentation"].startswith(urls["Repository"])
    assert urls["Issues"].startswith(urls["Repository"])
    citation = (ROOT / "CITATION.cff").read_text()
    assert f'version: "{project["version"]}"' in citation
    assert f'repository-code: "{urls["Repository"]}"' in citation
    assert f"## [{project['version']}]" in (ROOT / "CHANGELOG.md").read_text()


def test_licence_is_an_spdx_string_with_its_file():
    assert PYPROJECT["project"]["license"] == "BSD-3-Clause"
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("BSD 3-Clause License")
    assert "scaling-kit contributors" in (ROOT / "LICENSE").read_text()
    build = PYPROJECT["build-system"]["requires"][0]
    assert int(re.search(r">=(\d+)", build).group(1)) >= 77  # first setuptools with PEP 639


def test_notebooks_readme_and_citation_are_in_step_with_pyproject():
    sync = _sync_module()
    differs = sync.sync(ROOT, check=True)
    assert differs == [], f"run `python tools/sync_notebooks.py`: {differs}"
    info = sync.project(ROOT)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        assert "".join(cells[0]["source"]) == sync.setup_source(info)
        first_md = next(c for c in cells if c["cell_type"] == "markdown")
        assert "".join(first_md["source"]).startswith(sync.badge_line(info, path.name))
        assert info["colab"] + path.name in (ROOT / "README.md").read_text()
    assert f"{info['binder']}?urlpath=lab/tree/notebooks" in (ROOT / "README.md").read_text()
    assert info["requirement"].endswith(f"@v{PYPROJECT['project']['version']}")


def test_sync_rewrites_a_changed_address_and_a_new_notebook(tmp_path):
    sync = _sync_module()
    for name in ("pyproject.toml", "README.md", "CITATION.cff"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        "https://github.com/scaling-kit/scaling-kit", "https://github.com/someone/kit"))
    new = tmp_path / "notebooks" / "06_new.ipynb"
    new.write_text(json.dumps({"cells": [{"cell_type": "markdown", "metadata": {},
                                          "source": ["# 06 new"]}],
                               "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert len(sync.sync(tmp_path, check=True)) == 8  # 6 notebooks, README, CITATION
    assert sync.sync(tmp_path, check=True)  # --check changed nothing
    sync.sync(tmp_path)
    assert sync.sync(tmp_path, check=True) == []  # idempotent
    cells = json.loads(new.read_text())["cells"]
    assert "git+https://github.com/someone/kit@v" in "".join(cells[0]["source"])
    assert "".join(cells[1]["source"]).startswith(
        "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
        "(https://colab.research.google.com/github/someone/kit/blob/v")
    readme = (tmp_path / "README.md").read_text()
    for old in ("colab.research.google.com/github/scaling-kit/", "mybinder.org/v2/gh/scaling-kit/",
                "git+https://github.com/scaling-kit/"):
        assert old not in readme, old
    assert 'repository-code: "https://github.com/someone/kit"' in (tmp_path / "CITATION.cff").read_text()


def _conda_specs(path: Path) -> dict:
    specs = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^  - ([A-Za-z0-9_.\-]+)\s*([<>=!].*)?$", line)
        if match:
            specs[match.group(1).lower()] = (match.group(2) or "").strip()
    return specs


@pytest.mark.parametrize("conda_file", ["environment.yml", "binder/environment.yml"])
def test_conda_files_list_every_runtime_dependency(conda_file):
    conda = _conda_specs(ROOT / conda_file)
    assert conda["python"] == "=3.12"
    assert "jupyterlab" in conda and "ipywidgets" in conda
    conda_name = {"torch": "pytorch-cpu"}  # conda-forge's CPU-only build of torch
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, bound = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
        name = conda_name.get(name.lower(), name.lower())
        assert name in conda, f"{conda_file} lacks {name} (pyproject: {requirement})"
        assert conda[name] == bound, f"{conda_file}: {name}{conda[name]} vs {requirement}"
    for extra in ("notebooks", "lab"):
        for requirement in PYPROJECT["project"]["optional-dependencies"][extra]:
            name = re.match(r"^([A-Za-z0-9_.\-]+)", requirement).group(1).lower()
            assert name in conda, f"{conda_file} lacks {name} ({extra} extra)"


def test_binder_installs_the_kit_from_the_repository():
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in post and "-e ." in post
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111


def test_ci_runs_the_readme_commands_with_a_cpu_torch():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)\n```", readme, re.S).group(1).splitlines()
    main_job, tests = block[0], block[1]
    assert "scaling-kit reproduce" in main_job and "python -m pytest" in tests
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"\n{main_job} " in ci or f"\n{main_job}\n" in ci
    assert f"\n{tests}\n" in ci
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "bash .ci/run" in workflow and "download.pytorch.org/whl/cpu" in workflow
    assert '"3.11"' in workflow and '"3.12"' in workflow


def test_lab_extra_and_readme_explain_how_to_open_the_notebooks():
    lab = " ".join(PYPROJECT["project"]["optional-dependencies"]["lab"])
    assert "jupyterlab" in lab and "ipywidgets" in lab
    readme = (ROOT / "README.md").read_text()
    for needle in ("jupyter lab notebooks/", "%env SCALING_KIT_PROFILE=paper",
                   "--index-url https://download.pytorch.org/whl/cpu", "pytorch-cpu",
                   "SCALING_KIT_FIGURES", "SCALING_KIT_CACHE", "XDG_CACHE_HOME",
                   "SCALING_KIT_DATASETS", "SCALING_KIT_INSTALL", "@inproceedings{covert2024",
                   "arXiv:1712.00409"):
        assert needle in readme, needle


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell script")
def test_ci_script_fails_when_pytest_collects_nothing():
    assert "exit 1" in (ROOT / ".ci" / "run").read_text().split('"$rc" -eq 5', 1)[1][:120]


def test_every_notebook_cell_has_a_unique_id():
    """nbformat 4.5 cell ids: without them nbformat warns on every read and will refuse later."""
    import json

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text())
        assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5), path.name
        ids = [cell.get("id") for cell in nb["cells"]]
        assert all(ids) and len(set(ids)) == len(ids), path.name
