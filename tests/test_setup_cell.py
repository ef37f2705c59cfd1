"""The notebooks' setup cell (cell 0), run in a fresh virtual environment without the kit.

Offline and fast: the venv has no pip of its own and no kit; the test environment's packages
(numpy, pip, ...) reach it through a ``.pth`` path entry to a folder of links that leaves out
the kit and every ``.pth`` file (so the test environment's editable finder is not active).
The wheel is built from this checkout without network (``--no-build-isolation``), and each
run happens outside the repository, with PYTHONPATH unset, so the checkout is not importable.
"""

import json
import os
import shlex
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETUP = "".join(json.loads((ROOT / "notebooks" / "03_theory_checks.ipynb").read_text())
                ["cells"][0]["source"])
EXCLUDED = ("scaling_kit", "scaling-kit", "__editable__")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("setuptools", minversion="77")
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "scaling_kit", src / "scaling_kit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(dist), str(src)], check=True,
                   env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    (path,) = dist.glob("scaling_kit-*.whl")
    return path


@pytest.fixture(scope="module")
def dependencies(tmp_path_factory):
    """A folder linking every package of the test environment except the kit and .pth files."""
    folder = tmp_path_factory.mktemp("deps")
    seen = set()
    for directory in [*site.getsitepackages(), sysconfig.get_paths()["purelib"]]:
        directory = Path(directory)
        if not directory.is_dir():
            continue
        for entry in directory.iterdir():
            if (entry.name in seen or entry.name.startswith(EXCLUDED)
                    or entry.suffix == ".pth" or entry.name == "__pycache__"):
                continue
            seen.add(entry.name)
            (folder / entry.name).symlink_to(entry)
    return folder


@pytest.fixture
def fresh_python(tmp_path, dependencies):
    """A new venv without pip or the kit; returns (python, environment, work dir)."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False, symlinks=sys.platform != "win32").create(env_dir)
    python = env_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "test_dependencies.pth").write_text(str(dependencies) + "\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "SCALING_KIT", "PIP_", "VIRTUAL_ENV"))}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PIP_NO_INDEX="1",
               MPLBACKEND="Agg")
    work = tmp_path / "work"
    work.mkdir()
    return python, env, work, Path(purelib)


def _run_cell(python, env, cwd, after=""):
    script = cwd / "cell0.py"
    script.write_text(SETUP + "\n" + after)
    return subprocess.run([str(python), str(script)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_the_fresh_environment_has_no_kit(fresh_python):
    python, env, work, _ = fresh_python
    probe = subprocess.run([str(python), "-c", "import importlib.util as u, numpy; "
                            "print(u.find_spec('scaling_kit') is None)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "True"


def test_setup_cell_installs_the_kit_and_the_same_interpreter_imports_it(fresh_python, wheel):
    python, env, work, purelib = fresh_python
    # pip resolves the kit's dependencies offline (--no-index): every one, torch included, is
    # already there and must be kept (the cell pins the installed torch with a constraint)
    env["SCALING_KIT_INSTALL"] = f"{shlex.quote(str(wheel))} --no-index"
    result = _run_cell(python, env, work, after=(
        "import scaling_kit, scaling_kit.report\n"
        "print('imported from', scaling_kit.__file__)\n"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Installing {wheel}" in result.stdout
    assert f"scaling-kit {__import__('scaling_kit').__version__}, profile quick" in result.stdout
    imported = result.stdout.split("imported from", 1)[1].strip()
    assert Path(imported).resolve().is_relative_to(purelib.resolve())
    # a second run finds the kit and installs nothing
    again = _run_cell(python, env | {"SCALING_KIT_INSTALL": "/nowhere.whl"}, work)
    assert again.returncode == 0 and "Installing" not in again.stdout


def test_a_failing_install_raises(fresh_python):
    python, env, work, _ = fresh_python
    env["SCALING_KIT_INSTALL"] = "/nowhere/scaling_kit-0.0.0-py3-none-any.whl --no-index --no-deps"
    result = _run_cell(python, env, work)
    assert result.returncode != 0
    assert "RuntimeError: Installing scaling-kit failed (pip exit status 1" in result.stderr
    assert "SCALING_KIT_INSTALL" in result.stderr


def test_inside_a_checkout_it_asks_for_an_editable_install(fresh_python):
    python, env, work, _ = fresh_python
    (work / "pyproject.toml").write_text('[project]\nname = "scaling-kit"\n')
    (work / "notebooks").mkdir()
    result = _run_cell(python, env, work / "notebooks")
    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr and "pip install -e .." in result.stderr
    assert "Installing" not in result.stdout  # no download was tried
