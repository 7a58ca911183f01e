"""Subcommands of the schema stage: `stubs` and `check`."""

from __future__ import annotations

import argparse
import datetime
import logging
import sys
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from toolkit.errors import EXIT_FAILED, EXIT_OK, ToolkitError

DEFAULT_BASELINE = "fixtures/baseline/proto"
DEFAULT_ACCEPT = Path("fixtures/accepted-changes.toml")


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
        "--json",
        type=Path,
        metavar="FILE",
        help="with --check: also write the drift stage document (reports/drift.json) there, "
        "`-` for stdout (default: none)",
    )
    stubs.add_argument(
        "--project-root",
        type=Path,
        default=Path.cwd(),
        help="folder holding proto/, fixtures/ and toolkit/ (default: the working directory)",
    )
    stubs.set_defaults(func=run_stubs)
    register_check(subparsers)


def register_check(subparsers: Any) -> None:
    check = subparsers.add_parser(
        "check",
        help="judge the current schema against released baselines (exit 1 when incompatible)",
        description="Compile both schemas, run buf lint and buf breaking, diff the descriptors, "
        "replay populated messages over the wire in both directions and check the version bump. "
        "Each change is rated backward (baseline writes, current reads) and forward (current "
        "writes, baseline reads), for the binary wire and JSON. "
        "Exit 0 when the --compat mode holds (and the version policy, when checked), "
        "1 when it does not, 2 when the check cannot judge.",
    )
    check.add_argument(
        "--compat",
        choices=["rpc", "backward", "forward", "full"],
        default="rpc",
        help="what must hold: rpc (default) = at least one rollout order (servers first, clients "
        "first) is safe; backward / forward / full = a schema registry's modes",
    )
    check.add_argument(
        "--wire-only",
        action="store_true",
        help="judge the binary wire only: JSON breaks are reported but do not fail",
    )
    check.add_argument(
        "--current-version",
        type=_version,
        metavar="X.Y.Z",
        help="the current schema's version (instead of its `engram-schema-version` comment)",
    )
    check.add_argument(
        "--baseline-version",
        type=_version,
        metavar="X.Y.Z",
        help="the baseline's version (one --baseline only; a git:vX.Y.Z tag gives it too)",
    )
    check.add_argument(
        "--baseline",
        action="append",
        metavar="SRC",
        help="a folder of .proto files, a buf image (buf build -o x.binpb) or git:REF[:PATH] "
        "(this repository at REF, PATH default proto); repeat to check against every release "
        "(default: fixtures/baseline/proto)",
    )
    check.add_argument(
        "--current", default="proto", metavar="DIR", help="the current schema (default: proto)"
    )
    check.add_argument(
        "--json",
        type=Path,
        default=Path("reports/schema.json"),
        metavar="FILE",
        help="where to write the findings (default: reports/schema.json)",
    )
    check.add_argument(
        "--accept",
        type=Path,
        metavar="FILE",
        help="TOML file of accepted change ids "
        "(default: fixtures/accepted-changes.toml if present)",
    )
    check.add_argument(
        "--annotations",
        choices=["github"],
        help="also print ::error annotations for breaking findings (GitHub Actions)",
    )
    check.add_argument(
        "--cache-dir",
        type=Path,
        help="compiled-schema cache (default: $ENGRAM_COMPAT_CACHE_DIR or .cache/engram-compat)",
    )
    check.add_argument(
        "--today",
        type=datetime.date.fromisoformat,
        default=datetime.date.today(),
        help=argparse.SUPPRESS,  # acceptance expiry is judged against this date (tests)
    )
    check.add_argument(
        "--project-root",
        type=Path,
        default=Path.cwd(),
        help="the repository holding proto/ and fixtures/ (default: the working directory)",
    )
    check.set_defaults(func=run_check)


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version (X.Y.Z)") from exc


class CheckInternalError(ToolkitError):
    """The check itself failed on this input: it cannot judge (exit 2), never a traceback."""


def run_check(args: argparse.Namespace) -> int:
    """`check`, with any internal failure turned into one line and exit 2."""
    try:
        return _run_check(args)
    except ToolkitError:
        raise
    except Exception as exc:  # the command boundary: RecursionError, MemoryError included
        logging.getLogger(__name__).debug("check failed", exc_info=True)
        reason = " ".join(str(exc).split())[:300] or "no message"
        raise CheckInternalError(
            f"internal error, cannot judge this schema ({type(exc).__name__}: {reason})"
        ) from exc


def _run_check(args: argparse.Namespace) -> int:
    from toolkit.schema.cache import default_cache_dir
    from toolkit.schema.check import CheckOptions, check, display_root
    from toolkit.schema.summary import github_annotations, render_summary

    root: Path = args.project_root
    accept: Path | None = args.accept
    if accept is None and (root / DEFAULT_ACCEPT).is_file():
        accept = root / DEFAULT_ACCEPT
    options = CheckOptions(
        project_root=root,
        baselines=tuple(args.baseline or [DEFAULT_BASELINE]),
        current=args.current,
        accept=accept if accept is None or accept.is_absolute() else root / accept,
        cache_dir=args.cache_dir or default_cache_dir(root),
        today=args.today,
        mode=args.compat,
        wire_only=args.wire_only,
        current_version=args.current_version,
        baseline_version=args.baseline_version,
    )
    report = check(options)
    out: Path = args.json if args.json.is_absolute() else root / args.json
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.to_json(), encoding="utf-8")
    print(render_summary(report))
    if args.annotations == "github":
        for line in github_annotations(report, display_root(args.current, root)):
            print(line)
    return EXIT_OK if report.verdict == "compatible" else EXIT_FAILED


def run_stubs(args: argparse.Namespace) -> int:
    from toolkit.schema.stubs import check_drift, default_trees, generate

    root: Path = args.project_root
    trees = default_trees(root)
    generated_root = root / "toolkit" / "generated"
    if not args.check:
        if args.json is not None:
            raise ToolkitError("--json writes the drift document: use it with --check")
        for out in generate(trees, generated_root):
            print(f"generated {out.relative_to(root)}")
        return EXIT_OK
    drift = check_drift(trees, generated_root)
    if args.json is not None:
        path: Path = args.json
        drift.write(path if str(path) == "-" or path.is_absolute() else root / path)
    report = sys.stderr if args.json is not None and str(args.json) == "-" else None
    if drift.verdict == "passed":
        print("stubs are up to date with the schemas", file=report)
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
