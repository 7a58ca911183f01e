"""Subcommands of the compat stage: `record` (legacy recordings) and `runtime` (the suite).

`replay` is the deprecated old name of `runtime`, kept for one release.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from toolkit.errors import EXIT_FAILED, EXIT_OK


def register(subparsers: Any) -> None:
    """Add this stage's subcommands to `engram-compat`."""
    record = subparsers.add_parser(
        "record",
        help="write the wire bytes of the recorded legacy requests from their text (or check them)",
        description="Encode every fixtures/legacy_requests/<Rpc>/<case>/NN.txtpb with the baseline "
        "(1.0.0) schema and write the exact wire bytes beside it as NN.binpb.",
    )
    record.add_argument(
        "--recordings",
        type=Path,
        default=None,
        help="the recordings folder (default: the recordings the toolkit ships; "
        "fixtures/legacy_requests in a source checkout)",
    )
    record.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail (exit 1) naming each .binpb that is missing or differs",
    )
    record.set_defaults(func=run_record)

    runtime = subparsers.add_parser(
        "runtime",
        help="run the runtime compatibility suite (legacy and new clients) against a server",
        description=RUNTIME_DESCRIPTION,
    )
    _suite_arguments(runtime)
    runtime.set_defaults(func=run_runtime)

    replay = subparsers.add_parser(
        "replay",
        help="deprecated: the old name of `runtime` (removed in the next release)",
        description=f"Deprecated alias of `engram-compat runtime`. {RUNTIME_DESCRIPTION}",
    )
    _suite_arguments(replay)
    replay.set_defaults(func=run_replay_alias)


RUNTIME_DESCRIPTION = (
    "Send recorded legacy requests and new clients to a server and check routing, "
    "deprecation, errors, isolation and streams. Without --target it starts the reference "
    "server once for the run (its pytest-xdist workers share it). Writes compat.json and "
    "junit-compat.xml."
)
REPLAY_DEPRECATION = (
    "engram-compat replay: deprecated, use `engram-compat runtime` (same options); "
    "`replay` will be removed in the next release"
)


def _suite_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target",
        help="HOST:PORT of the server to check (default: `target` in [tool.engram-compat] or "
        "$ENGRAM_COMPAT_TARGET, else start the reference server)",
    )
    parser.add_argument(
        "--legacy-target",
        help="HOST:PORT of a 1.0.0 server for the MATRIX check (default: start the reference "
        "server with --schema legacy)",
    )
    parser.add_argument(
        "--reports", type=Path, default=Path("reports"), help="folder for compat.json and JUnit XML"
    )
    parser.add_argument(
        "--recordings",
        type=Path,
        default=None,
        help="the legacy recordings folder (default: the recordings the toolkit ships)",
    )
    parser.add_argument(
        "--checks", default=None, help="comma-separated check IDs to run (default: every check)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiplies the sizes of the stream checks (events, writers); < 1 for quick runs",
    )
    parser.add_argument(
        "-n",
        "--workers",
        default="auto",
        help="pytest-xdist workers ('auto', or 0 to run in this process)",
    )
    parser.add_argument(
        "--server-log",
        type=Path,
        default=None,
        metavar="FILE",
        help="the log file the --target server writes, read for DEPRECATION_WARNING's WARNING "
        "records (default: `server-log` in [tool.engram-compat] or $ENGRAM_COMPAT_SERVER_LOG; "
        "without one that check is partial against --target)",
    )
    parser.add_argument(
        "--server-log-pattern",
        default=None,
        metavar="REGEX",
        help="for a log that is not JSON lines: a regular expression whose named groups "
        "level, rpc and peer (optionally message) are read from each line (default: JSON lines "
        'as the reference server writes them, e.g. {"level": "WARNING", "rpc": ..., "peer": ...})',
    )
    parser.add_argument(
        "--allow-partial",
        action="store_true",
        help="a check that could verify only part of its promise (partial) does not fail the "
        "run; recorded in compat.json as allow_partial (default: partial fails)",
    )
    parser.add_argument(
        "--server-factory",
        default=None,
        help="module:function that starts the server under test (for testing the suite itself)",
    )


def run_record(args: argparse.Namespace) -> int:
    from toolkit.compat.recordings import load_recordings, wire_mismatches, write_wire
    from toolkit.compat.settings import default_recordings_dir

    root: Path = args.recordings or default_recordings_dir()
    cases = load_recordings(root)
    if args.check:
        mismatches = wire_mismatches(cases)
        if not mismatches:
            print(f"{len(cases)} recorded cases: wire bytes agree with their text")
            return EXIT_OK
        print(
            "recorded wire bytes disagree with their text; run `engram-compat record`:",
            file=sys.stderr,
        )
        for mismatch in mismatches:
            print(f"  {mismatch.reason}: {mismatch.wire_path}", file=sys.stderr)
        return EXIT_FAILED
    for path in write_wire(cases):
        print(f"recorded {path}")
    return EXIT_OK


def run_runtime(args: argparse.Namespace) -> int:
    from toolkit.project import find_project_root, load_config

    root = find_project_root(None)
    config = load_config(root)
    target = args.target or config.target
    from toolkit.compat.started import run_directory, start_servers

    workdir = run_directory()
    started = None
    try:
        if not target and not args.server_factory:
            # The reference server boots while pytest and its workers start (started.py).
            started = start_servers(workdir)
        from toolkit.compat.runner import SuiteOptions, run_suite

        server_log = args.server_log
        if server_log is None and config.server_log is not None:
            server_log = root / config.server_log
        options = SuiteOptions(
            target=target,
            legacy_target=args.legacy_target,
            reports=args.reports,
            recordings=args.recordings,
            checks=tuple(c.strip() for c in args.checks.split(",") if c.strip())
            if args.checks
            else (),
            scale=args.scale,
            workers=args.workers,
            server_factory=args.server_factory,
            server_log=server_log,
            server_log_pattern=args.server_log_pattern,
            allow_partial=args.allow_partial,
        )
        return run_suite(options, workdir, started)
    finally:
        if started is not None:
            started.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def run_replay_alias(args: argparse.Namespace) -> int:
    """`engram-compat replay`: one line of deprecation on stderr, then `runtime`."""
    print(REPLAY_DEPRECATION, file=sys.stderr)
    return run_runtime(args)
