"""The lint stage's subcommand: `engram-compat lint`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from toolkit.errors import EXIT_FAILED, EXIT_OK


def register(subparsers: Any) -> None:
    lint = subparsers.add_parser(
        "lint",
        help="run ruff, ruff format --check, mypy and buf lint; write reports/lint.json",
        description="Run the linters of the nox `lint` session and write the lint stage "
        "document. A linter that is not installed fails the stage with the reason; it does "
        "not crash it. Exit 0 when every linter passed, 1 otherwise.",
    )
    lint.add_argument(
        "--json",
        type=Path,
        default=Path("reports/lint.json"),
        metavar="FILE",
        help="where to write the lint document, `-` for stdout (default: reports/lint.json)",
    )
    lint.add_argument(
        "--project-root",
        type=Path,
        default=Path.cwd(),
        help="the repository to lint (default: the working directory)",
    )
    lint.set_defaults(func=run_lint_command)


def run_lint_command(args: argparse.Namespace) -> int:
    from toolkit.lint.run import run_lint

    root: Path = args.project_root
    document = run_lint(root)
    path: Path = args.json
    to_stdout = str(path) == "-"
    document.write(path if to_stdout or path.is_absolute() else root / path)
    out = sys.stderr if to_stdout else sys.stdout
    for run in document.tools:
        print(f"{run.outcome:>7}  {run.command}", file=out)
        if run.outcome != "passed" and run.output:
            for line in run.output.splitlines():
                print(f"         {line}", file=out)
    return EXIT_OK if document.verdict == "passed" else EXIT_FAILED
