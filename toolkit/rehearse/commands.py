"""`engram-compat rehearse`: the rolling-upgrade rehearsal on a fleet of real processes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError
from toolkit.rehearse.plan import ORDERS

DEFAULT_SERVERS = 3
DEFAULT_DURATION_S = 4.0
MAX_SERVERS = 16


def register(subparsers: Any) -> None:
    """Add `rehearse` to `engram-compat`."""
    parser = subparsers.add_parser(
        "rehearse",
        help="rehearse the rolling upgrade on a fleet of reference servers",
        description="Start N legacy servers, write seed data, print a seeded plan, then run it "
        "(upgrade servers, move client cohorts, optionally roll back) while legacy and new "
        "clients write through round_robin; count acknowledged, failed, misplaced, lost and "
        "rollback-unsafe writes. Exit 0 when the invariants hold for the order predicted safe "
        "(servers-first) and nothing was lost, 1 when violated, 2 when it cannot run.",
    )
    parser.add_argument("--servers", type=int, default=DEFAULT_SERVERS, help="fleet size")
    parser.add_argument("--seed", type=int, default=0, help="the plan's seed (repeat a run)")
    parser.add_argument(
        "--order", choices=(*ORDERS, "all"), default="servers-first", help="rollout order"
    )
    parser.add_argument(
        "--rollback",
        action="store_true",
        help="end by moving the cohorts back and rolling one server back to the legacy schema",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_DURATION_S,
        help=f"seconds of workload spread over the steps (default {DEFAULT_DURATION_S})",
    )
    parser.add_argument("--json", type=Path, default=None, help="write rehearsal.json here")
    parser.add_argument(
        "--work-dir", type=Path, default=None, help="keep the servers' data dirs and logs here"
    )
    parser.add_argument(
        "--fleet",
        metavar="HOST:PORT,...",
        default=None,
        help="rehearse on servers something else runs (legacy schema at the start) instead "
        "of a fleet of our own; needs --upgrade-hook",
    )
    parser.add_argument(
        "--upgrade-hook",
        metavar="CMD",
        default=None,
        help="with --fleet: run as `CMD ADDRESS upgrade STEP`; exits 0 once the server at "
        "ADDRESS serves the current schema",
    )
    parser.add_argument(
        "--rollback-hook",
        metavar="CMD",
        default=None,
        help="with --fleet --rollback: run as `CMD ADDRESS rollback STEP`",
    )
    parser.set_defaults(func=run_rehearse)


def run_rehearse(args: argparse.Namespace) -> int:
    from toolkit.rehearse.fleet import parse_fleet
    from toolkit.rehearse.output import summary_lines
    from toolkit.rehearse.runner import RehearsalOptions, run_rehearsal

    if not 1 <= args.servers <= MAX_SERVERS:
        raise ToolkitError(f"--servers must be between 1 and {MAX_SERVERS}, not {args.servers}")
    if args.duration < 0:
        raise ToolkitError(f"--duration must not be negative, not {args.duration}")
    orders = ORDERS if args.order == "all" else (args.order,)
    external: tuple[tuple[str, int], ...] = ()
    if args.fleet is not None:
        if not args.upgrade_hook:
            raise ToolkitError("--fleet needs --upgrade-hook CMD (how a server is upgraded)")
        if args.rollback and not args.rollback_hook:
            raise ToolkitError("--fleet --rollback needs --rollback-hook CMD")
        if len(orders) > 1:
            raise ToolkitError("--order all needs a fresh fleet per order: not with --fleet")
        external = tuple(parse_fleet(args.fleet))
    elif args.upgrade_hook or args.rollback_hook:
        raise ToolkitError("--upgrade-hook and --rollback-hook need --fleet HOST:PORT,...")
    options = RehearsalOptions(
        servers=args.servers,
        seed=args.seed,
        orders=orders,
        rollback=args.rollback,
        duration_s=args.duration,
        work_dir=args.work_dir,
        external=external,
        upgrade_hook=args.upgrade_hook or "",
        rollback_hook=args.rollback_hook,
    )
    document = run_rehearsal(options, announce=lambda line: print(line, flush=True))
    for line in summary_lines(document):
        print(line)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(document.to_json())
    return document.exit_code
