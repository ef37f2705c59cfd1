"""Keep every place that says where the kit lives in step with pyproject.toml.

``pyproject.toml`` is the one source of truth: ``[project] version`` and
``[project.urls] Repository`` (a GitHub address). From them this script writes

* cell 0 of every notebook (``notebooks/0N_*.ipynb``): the setup cell, which installs the kit
  only when it is missing, from the release tag ``v<version>`` of the repository;
* the "Open in Colab" badge on the first line of every notebook's first Markdown cell;
* the Colab and Binder addresses in ``README.md`` and ``version``/``repository-code`` in
  ``CITATION.cff``.

Usage (from the repository root)::

    python tools/sync_notebooks.py          # rewrite what differs
    python tools/sync_notebooks.py --check  # exit 1 and list what differs (the tests run this)

Run it after changing the version or the address, and after rewriting a notebook (a new
notebook gets its setup cell and badge from here).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"

# The setup cell. {requirement} is filled in from pyproject.toml. Plain Python (no %pip magic),
# so that a failed install raises and the tests can run the cell in a bare interpreter.
SETUP_CELL = '''\
#@title Setup: install scaling-kit if it is missing (on Colab, for example)
# Written by tools/sync_notebooks.py from pyproject.toml: change the template there.
# Installs {requirement!r} only when scaling_kit cannot be imported;
# set the environment variable SCALING_KIT_INSTALL to install something else instead
# (a wheel file, a git URL, a version such as "scaling-kit==0.2.0"; pip options allowed).
def _setup():
    import importlib
    import importlib.metadata
    import importlib.util
    import os
    import re
    import shlex
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    if importlib.util.find_spec("scaling_kit") is None:
        requirement = os.environ.get("SCALING_KIT_INSTALL", "").strip()
        if not requirement:
            checkout = [p for p in (Path.cwd(), *Path.cwd().parents)
                        if 'name = "scaling-kit"' in
                        ((p / "pyproject.toml").read_text(errors="ignore")
                         if (p / "pyproject.toml").is_file() else "")]
            if checkout:
                raise ModuleNotFoundError(
                    "scaling_kit is not installed in this kernel's Python, and this notebook "
                    f"is inside a checkout of the kit ({{checkout[0]}}). Install the checkout "
                    "instead of downloading a release: run `pip install -e ..` from notebooks/ "
                    "(or `pip install -e .` from the repository root) in this environment, "
                    "then restart the kernel.")
            requirement = {requirement!r}
        command = [sys.executable, "-m", "pip", "install", "-q",
                   *shlex.split(re.sub(r"\\s*@\\s*", "@", requirement))]
        try:  # keep the torch that is already installed (Colab's CUDA build, say)
            torch = importlib.metadata.version("torch")
            constraints = Path(tempfile.mkdtemp()) / "constraints.txt"
            constraints.write_text(f"torch=={{torch}}\\n")
            command += ["-c", str(constraints)]
        except importlib.metadata.PackageNotFoundError:
            pass
        print(f"Installing {{requirement}} ...", flush=True)
        status = subprocess.run(command).returncode
        importlib.invalidate_caches()
        if status != 0 or importlib.util.find_spec("scaling_kit") is None:
            raise RuntimeError(
                f"Installing scaling-kit failed (pip exit status {{status}}; its message is "
                f"above). Tried: pip install {{requirement}}. Check the network, or set "
                "SCALING_KIT_INSTALL to a wheel, a git URL or a version and run this cell again.")
    kit = importlib.import_module("scaling_kit")
    print(f"scaling-kit {{kit.__version__}}, profile {{kit.get_profile()}}")


_setup()
del _setup
'''


def project(root: Path = ROOT) -> dict:
    """Version, repository address and the derived addresses, from ``pyproject.toml``."""
    data = tomllib.loads((root / "pyproject.toml").read_text())
    version = data["project"]["version"]
    repository = data["project"]["urls"]["Repository"].rstrip("/")
    match = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?", repository)
    if match is None:
        raise SystemExit(f"[project.urls] Repository must be a GitHub address "
                         f"(https://github.com/OWNER/REPO) for the Colab and Binder badges; "
                         f"got {repository!r}.")
    owner, repo = match.groups()
    ref = f"v{version}"
    return {
        "version": version,
        "repository": repository,
        "ref": ref,
        "requirement": f"scaling-kit @ git+{repository}@{ref}",
        "colab": f"https://colab.research.google.com/github/{owner}/{repo}/blob/{ref}/notebooks/",
        "binder": f"https://mybinder.org/v2/gh/{owner}/{repo}/{ref}",
    }


def setup_source(info: dict) -> str:
    return SETUP_CELL.format(requirement=info["requirement"])


def badge_line(info: dict, notebook_name: str) -> str:
    return f"[![Open In Colab]({COLAB_BADGE})]({info['colab']}{notebook_name})"


def _lines(text: str) -> list:
    return text.splitlines(keepends=True)


def sync_notebook(path: Path, info: dict) -> bool:
    """Rewrite cell 0 and the badge of one notebook; return True if it changed."""
    original = path.read_text(encoding="utf-8")
    nb = json.loads(original)
    cells = nb["cells"]
    setup = {"cell_type": "code", "execution_count": None,
             "metadata": {"cellView": "form", "jupyter": {"source_hidden": True},
                          "tags": ["setup"]}, "outputs": [],
             "source": _lines(setup_source(info))}
    if cells and cells[0]["cell_type"] == "code" and (
            "scaling_kit" in "".join(cells[0]["source"]) and "find_spec" in "".join(cells[0]["source"])):
        if "id" in cells[0]:
            setup["id"] = cells[0]["id"]
        cells[0] = setup
    else:
        cells.insert(0, setup)
    first_md = next((c for c in cells if c["cell_type"] == "markdown"), None)
    if first_md is None:
        first_md = {"cell_type": "markdown", "metadata": {}, "source": []}
        cells.insert(1, first_md)
    text = "".join(first_md["source"])
    badge = badge_line(info, path.name)
    if text.startswith("[![Open In Colab]"):
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.lstrip("\n")
    first_md["source"] = _lines(badge + "\n\n" + text)
    updated = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    if updated != original:
        path.write_text(updated, encoding="utf-8")
        return True
    return False


def sync_text(path: Path, info: dict) -> bool:
    """Rewrite the Colab/Binder addresses (README) or version/repository (CITATION.cff)."""
    if not path.is_file():
        return False
    original = path.read_text(encoding="utf-8")
    text = re.sub(r"https://colab\.research\.google\.com/github/[^/\s)]+/[^/\s)]+/blob/[^/\s)]+/notebooks/",
                  info["colab"], original)
    text = re.sub(r"https://mybinder\.org/v2/gh/[^/\s)]+/[^/\s)]+/[^?\s)]+", info["binder"], text)
    text = re.sub(r"git\+https://github\.com/[^\s\"'`]+?@v[0-9][^\s\"'`]*",
                  f"git+{info['repository']}@{info['ref']}", text)
    if path.name == "CITATION.cff":
        text = re.sub(r'(?m)^version: .*$', f'version: "{info["version"]}"', text)
        text = re.sub(r'(?m)^repository-code: .*$', f'repository-code: "{info["repository"]}"', text)
    if text != original:
        path.write_text(text, encoding="utf-8")
        return True
    return False


def sync(root: Path = ROOT, *, check: bool = False) -> list:
    """Bring every file in step; return the paths that differed (unchanged when ``check``)."""
    info = project(root)
    targets = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    differs = []
    for path in [*targets, root / "README.md", root / "CITATION.cff"]:
        if not path.is_file():
            continue
        before = path.read_bytes()
        changed = sync_notebook(path, info) if path.suffix == ".ipynb" else sync_text(path, info)
        if changed:
            differs.append(path)
            if check:
                path.write_bytes(before)
    return differs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a file is out of step")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    differs = sync(args.root, check=args.check)
    for path in differs:
        print(("out of step: " if args.check else "updated: ") + str(path.relative_to(args.root)))
    if args.check and differs:
        print("Run `python tools/sync_notebooks.py` to bring them in step with pyproject.toml.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
