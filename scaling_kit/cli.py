"""Command line: ``scaling-kit reproduce`` (the main job) and ``scaling-kit --version``.

``scaling-kit reproduce [--profile quick|paper] [--only 01,03] [--out DIR] [--keep-going]
[--offline] [--plan]``: see :func:`scaling_kit.reproduce.reproduce` and
:func:`scaling_kit.plan.plan`. Exit status 0 when every notebook ran, 1 when one failed (the
message names the notebook, the cell and the error), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scaling-kit",
        description="Data scaling laws kit: run the notebooks and write the report.")
    parser.add_argument("--version", action="version", version=f"scaling-kit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser(
        "reproduce", help="execute the notebooks in order; write HTML, index.html and REPORT.md",
        description="Execute the five notebooks in order and write the executed notebooks, "
                    "their HTML, index.html, the figures and REPORT.md to the output folder.")
    rep.add_argument("--profile", choices=("quick", "paper"), default=None,
                     help="run sizes (default: $SCALING_KIT_PROFILE, else quick)")
    rep.add_argument("--only", nargs="+", metavar="NN",
                     help="run only these notebooks, e.g. --only 01,03 or --only 1 3")
    rep.add_argument("--out", default=None, metavar="DIR",
                     help="output folder (default: $SCALING_KIT_FIGURES, else figures/)")
    rep.add_argument("--keep-going", action="store_true",
                     help="run the other notebooks after one fails (the exit status is still 1)")
    rep.add_argument("--offline", action="store_true",
                     help="use bundled stand-ins for downloaded datasets (MiniBooNE -> fair); "
                          "labelled as such in the notebooks and the report")
    rep.add_argument("--plan", action="store_true",
                     help="print what the profile will run (fits, contributions, downloads, "
                          "estimated time on this machine) and exit without running it")
    rep.add_argument("--notebooks", default=None, metavar="DIR",
                     help="folder of the notebooks (default: the checkout's notebooks/)")
    rep.add_argument("--timeout", type=int, default=None, metavar="SECONDS",
                     help="stop a cell that runs longer than this (default: no limit)")
    rep.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "reproduce":  # pragma: no cover - argparse requires a command
        return 2
    from .reproduce import ReproduceError, reproduce

    try:
        if args.plan:
            from .plan import plan

            print(plan(profile=args.profile, only=args.only, offline=args.offline).as_text())
            return 0
        result = reproduce(profile=args.profile, only=args.only, out=args.out,
                           keep_going=args.keep_going, offline=args.offline,
                           notebooks=args.notebooks, timeout=args.timeout,
                           progress=not args.no_progress)
    except ReproduceError as exc:
        print(f"[scaling-kit] FAILED: {exc}", file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as exc:
        print(f"scaling-kit reproduce: error: {exc}", file=sys.stderr)
        return 2
    print(f"[scaling-kit] report written to {result.report} (notebooks: {result.index})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
