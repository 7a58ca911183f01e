"""Subcommands of the schema stage: `stubs`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from toolkit.errors import EXIT_FAILED, EXIT_OK


def register(subparsers: Any) -> None:
    stubs = subparsers.add_parser(
        "stubs",
        help="regenerate toolkit/generated/ from proto/ and the baseline (or check for drift)",
        description="Regenerate the Python stubs and descriptor sets of the current schema "
        "(proto/) and the released baseline (fixtures/baseline/proto/) with grpcio-tools.",
    )
    stubs.add_argument(
        "--check",
        action="store_true",
        help="generate into a temporary folder and fail (exit 1) when the committed stubs differ",
    )
    stubs.add_argument(
        "--project-root",
        type=Path,
        default=Path.cwd(),
        help="folder holding proto/, fixtures/ and toolkit/ (default: the working directory)",
    )
    stubs.set_defaults(func=run_stubs)


def run_stubs(args: argparse.Namespace) -> int:
    from toolkit.schema.stubs import check_drift, default_trees, generate

    root: Path = args.project_root
    trees = default_trees(root)
    generated_root = root / "toolkit" / "generated"
    if not args.check:
        for out in generate(trees, generated_root):
            print(f"generated {out.relative_to(root)}")
        return EXIT_OK
    drift = check_drift(trees, generated_root)
    if drift.clean:
        print("stubs are up to date with the schemas")
        return EXIT_OK
    print("stubs have drifted from the schemas; run `nox -s stubs` and commit:", file=sys.stderr)
    for label, names in (
        ("differs", drift.changed),
        ("missing", drift.missing),
        ("not generated", drift.unexpected),
    ):
        for name in names:
            print(f"  {label}: toolkit/generated/{name}", file=sys.stderr)
    return EXIT_FAILED
