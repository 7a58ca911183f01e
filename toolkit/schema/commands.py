"""Subcommands of the schema stage: `stubs` and `check`."""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from toolkit.data import SHIPPED_PREFIX
from toolkit.errors import EXIT_FAILED, EXIT_OK, ToolkitError

if TYPE_CHECKING:
    from toolkit.documents.schema import CompatMode

DEFAULT_CURRENT = "proto"
COMPAT_MODES = ("rpc", "backward", "forward", "full")
DEFAULT_ACCEPT = Path("fixtures/accepted-changes.toml")
DEFAULT_JSON = Path("reports/schema.json")


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
        default=None,
        help="folder holding proto/, fixtures/ and toolkit/ (default: the git work tree "
        "holding the working directory)",
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
        choices=COMPAT_MODES,
        default=None,
        help="what must hold: rpc = at least one rollout order (servers first, clients first) "
        "is safe; backward / forward / full = a schema registry's modes (default: `compat` in "
        "[tool.engram-compat] or $ENGRAM_COMPAT_MODE, else rpc)",
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
        "(the git repository holding the working directory at REF, PATH default proto); "
        "repeat to check against every release (default: `baseline` in [tool.engram-compat] "
        "or $ENGRAM_COMPAT_BASELINE, else the released Engram 1.0.0 schema the toolkit ships)",
    )
    check.add_argument(
        "--current",
        default=None,
        metavar="DIR",
        help="the current schema's folder (default: `current` in [tool.engram-compat] or "
        "$ENGRAM_COMPAT_CURRENT, else proto/ at the project root)",
    )
    check.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="FILE",
        help="where to write the findings, `-` for stdout (the summary then goes to stderr) "
        "(default: reports/schema.json at the project root)",
    )
    check.add_argument(
        "--accept",
        type=Path,
        metavar="FILE",
        help="TOML file of accepted change ids; it must exist (default: `accept` in "
        "[tool.engram-compat], else fixtures/accepted-changes.toml at the project root if present)",
    )
    check.add_argument(
        "--annotations",
        choices=["github"],
        help="also print ::error annotations for breaking findings (default: on when "
        "GITHUB_ACTIONS=true)",
    )
    check.add_argument(
        "--junit",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write the schema findings as JUnit XML there: a suite per category of "
        "change, a case per change (default: none)",
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
        default=None,
        help="the project holding proto/, fixtures/ and pyproject.toml (default: the git work "
        "tree holding the working directory, else the nearest folder with a pyproject.toml)",
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
    except (ToolkitError, BrokenPipeError):  # a closed pipe is the entry point's to handle
        raise
    except Exception as exc:  # the command boundary: RecursionError, MemoryError included
        logging.getLogger(__name__).debug("check failed", exc_info=True)
        reason = " ".join(str(exc).split())[:300] or "no message"
        raise CheckInternalError(
            f"internal error, cannot judge this schema ({type(exc).__name__}: {reason})"
        ) from exc


def _run_check(args: argparse.Namespace) -> int:
    from toolkit.annotations import in_github_actions
    from toolkit.data import baseline_proto_dir
    from toolkit.project import find_project_root, load_config
    from toolkit.schema.cache import default_cache_dir
    from toolkit.schema.check import CheckOptions, check, checkout_folder, display_root
    from toolkit.schema.summary import github_annotations, render_summary, write_schema_junit

    root = find_project_root(args.project_root)
    config = load_config(root)
    baselines = (
        tuple(_spec(spec, Path.cwd(), root) for spec in args.baseline or ())
        or tuple(_spec(spec, root, root) for spec in config.baselines)
        or (_shipped_baseline(baseline_proto_dir(), root),)
    )
    current = (
        _spec(args.current, Path.cwd(), root)
        if args.current
        else _spec(config.current or DEFAULT_CURRENT, root, root)
    )
    options = CheckOptions(
        project_root=root,
        baselines=baselines,
        current=current,
        accept=_accept_file(args.accept, config.accept, root),
        cache_dir=args.cache_dir or default_cache_dir(root),
        today=args.today,
        mode=_mode(args.compat or config.compat or "rpc"),
        wire_only=args.wire_only,
        current_version=args.current_version,
        baseline_version=args.baseline_version,
    )
    to_stdout = args.json is not None and str(args.json) == "-"
    if not to_stdout:  # an output that cannot be written is found before the work, not after
        writable_output(args.json.resolve() if args.json is not None else root / DEFAULT_JSON)
    if args.junit is not None:
        writable_output(args.junit.resolve(), "--junit")
    report = check(options)
    if to_stdout:
        sys.stdout.write(report.to_json())
    else:
        out: Path = args.json.resolve() if args.json is not None else root / DEFAULT_JSON
        report.write(out)
    if args.junit is not None:
        write_schema_junit(report, args.junit.resolve())
    people = sys.stderr if to_stdout else sys.stdout
    print(render_summary(report), file=people)
    if args.annotations == "github" or in_github_actions():
        folders = {spec: checkout_folder(spec, root) for spec in baselines}
        in_checkout = {spec: folder for spec, folder in folders.items() if folder is not None}
        for line in github_annotations(report, display_root(current, root), in_checkout):
            print(line, file=people)
    return EXIT_OK if report.verdict == "compatible" else EXIT_FAILED


def writable_output(path: Path, option: str = "--json") -> Path:
    """Refuse, in one line, an output path that is a folder, lies under a file, or sits in a
    folder this process may not write (root may write anywhere: the write itself decides)."""
    if path.is_dir():
        raise ToolkitError(f"{option} {path}: it is a folder; name a file")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ToolkitError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ToolkitError(f"{option} {path}: {parent} is not writable")
    try:  # the folder the output needs anyway; a refusal (e.g. under /proc) is known now
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolkitError(
            f"{option} {path}: cannot create {path.parent} ({exc.strerror})"
        ) from exc
    if path.exists() and not os.access(path, os.W_OK):
        raise ToolkitError(f"{option} {path}: the file is not writable")
    return path


def _spec(spec: str, base: Path, root: Path) -> str:
    """A schema source as given: git refs and shipped data as they are; a path made absolute
    against `base` (the working directory for the command line, the project root for its
    configuration) and shown relative to the project root when it lies inside it."""
    if spec.startswith(("git:", SHIPPED_PREFIX)):
        return spec
    path = Path(spec)
    path = path if path.is_absolute() else (base / path).resolve()
    try:
        return path.relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        return str(path)


def _mode(name: str) -> CompatMode:
    if name not in COMPAT_MODES:
        raise ToolkitError(f"compat mode {name!r}: use one of {', '.join(COMPAT_MODES)}")
    return name  # type: ignore[return-value]


def _shipped_baseline(folder: Path, root: Path) -> str:
    """The shipped baseline: by its path inside a source checkout, else by name (an
    installed wheel's site-packages path says nothing to a reader of the report)."""
    try:
        return folder.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return f"{SHIPPED_PREFIX}baseline"


def _accept_file(given: Path | None, configured: str | None, root: Path) -> Path | None:
    """An acceptance file named on the command line or in the configuration must exist; the
    default one is used only when it is there."""
    if given is not None:
        path = given.resolve()
        where = f"--accept {given}"
    elif configured is not None:
        path = configured_path = root / configured
        path = configured_path.resolve()
        where = f"[tool.engram-compat] accept = {configured!r}"
    else:
        default = root / DEFAULT_ACCEPT
        return default if default.is_file() else None
    if not path.is_file():
        raise ToolkitError(f"{where}: no such acceptance file ({path})")
    return path


def run_stubs(args: argparse.Namespace) -> int:
    from toolkit.project import find_project_root
    from toolkit.schema.stubs import check_drift, default_trees, generate

    root = find_project_root(args.project_root)
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
    from toolkit.annotations import Annotation, in_github_actions

    if in_github_actions():
        for label, names in (
            ("differs from what the schemas generate", drift.changed),
            ("is missing", drift.missing),
            ("is not generated by any schema", drift.unexpected),
        ):
            for name in names:
                generated = f"toolkit/generated/{name}"
                text = f"{generated} {label}: the stubs are stale; run `nox -s stubs` and commit"
                print(
                    Annotation("error", text, title="engram-compat drift", file=generated).render()
                )
    return EXIT_FAILED
