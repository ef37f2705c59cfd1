"""Command line: ``scaling-kit reproduce [--profile quick|paper] [--figures DIR] [--only ...]``."""

from __future__ import annotations

import argparse
import sys

from .reproduce import SECTIONS, reproduce


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scaling-kit", description="Data scaling laws kit.")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="reproduce the figures and write figures/REPORT.md")
    rep.add_argument("--profile", choices=("quick", "paper"), default=None,
                     help="run size (default: $SCALING_KIT_PROFILE or quick)")
    rep.add_argument("--figures", default=None, help="output directory (default: figures/)")
    rep.add_argument("--only", nargs="+", choices=[name for name, _ in SECTIONS],
                     help="run only these sections")
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        report = reproduce(profile=args.profile, figures=args.figures, only=args.only)
        print(f"[scaling-kit] report written to {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
