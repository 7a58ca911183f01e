"""Subcommands of the server stage: `serve` and `space create|get|list|delete`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from toolkit.contract import DEFAULT_SPACE, SPACE_ENV
from toolkit.errors import EXIT_FAILED, EXIT_OK, ToolkitError

DATA_DIR_ENV = "ENGRAM_DATA_DIR"
DEFAULT_DATA_DIR = ".engram-data"
MAX_PORT = 65535
# Mirrors toolkit.server.registry (not imported here: `--help` stays fast).
DEFAULT_MAX_SPACES = 10_000
DEFAULT_MAX_OPEN_SPACES = 128


class UsageError(ToolkitError):
    """A command-line value out of its range: one line, exit 2."""


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def register(subparsers: Any) -> None:
    """Add this stage's subcommands to `engram-compat`."""
    serve = subparsers.add_parser(
        "serve",
        help="run the reference memory-space registry server",
        description="Run the reference Engram server. Prints `listening on HOST:PORT` once "
        "ready; logs go to stderr; SIGTERM or SIGINT stop it gracefully.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=50051, help="port; 0 picks a free one")
    serve.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where spaces persist (default ${DATA_DIR_ENV}, else ./{DEFAULT_DATA_DIR})",
    )
    serve.add_argument("--default-space", default=DEFAULT_SPACE, help="space of legacy requests")
    serve.add_argument("--log-format", choices=("json", "text"), default="json")
    serve.add_argument(
        "--schema",
        choices=("current", "legacy"),
        default="current",
        help="`legacy` serves the released 1.0.0 schema as the pre-migration server did",
    )
    serve.add_argument(
        "--subscriber-buffer",
        type=int,
        default=1024,
        help="events a stream subscriber may fall behind before it is ended (at least 1)",
    )
    serve.add_argument(
        "--max-spaces",
        type=int,
        default=DEFAULT_MAX_SPACES,
        help="most memory spaces the server holds; CreateSpace beyond it gets "
        f"RESOURCE_EXHAUSTED (default {DEFAULT_MAX_SPACES})",
    )
    serve.add_argument(
        "--max-open-spaces",
        type=int,
        default=DEFAULT_MAX_OPEN_SPACES,
        help="most space stores kept open at once (3 file descriptors each); the least "
        f"recently used is closed first (default {DEFAULT_MAX_OPEN_SPACES})",
    )
    serve.set_defaults(func=run_serve)

    space = subparsers.add_parser(
        "space",
        help="create, get, list or delete memory spaces on a running server",
        description="Manage the memory spaces of a running server (MemorySpaceService). "
        "Exit 1 when the server refuses, 2 when it cannot be reached.",
    )
    actions = space.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in (
        ("create", "create a space (idempotent) and print its provisioned path"),
        ("get", "describe one space"),
        ("list", "list every space"),
        ("delete", "close a space's store and remove its data"),
    ):
        parser = actions.add_parser(action, help=text, description=text)
        if action != "list":
            parser.add_argument("space_id", metavar="ID")
        if action == "delete":
            parser.add_argument(
                "--yes",
                action="store_true",
                help="delete without asking (required when stdin is not a terminal)",
            )
        parser.add_argument("--target", default="127.0.0.1:50051", help="server HOST:PORT")
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
        parser.set_defaults(func=run_space)


def run_serve(args: argparse.Namespace) -> int:
    from toolkit.server.app import ServerConfig, serve_until_signalled
    from toolkit.server.logs import configure_logging
    from toolkit.server.space_id import MemorySpaceId

    check_serve_arguments(args)
    configure_logging(args.log_format, verbose=args.verbose)
    config = ServerConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir or default_data_dir(),
        default_space=MemorySpaceId(args.default_space),
        schema=args.schema,
        subscriber_buffer=args.subscriber_buffer,
        log_format=args.log_format,
        max_spaces=args.max_spaces,
        max_open_spaces=args.max_open_spaces,
    )

    def announce(line: str) -> None:
        print(line, flush=True)

    asyncio.run(serve_until_signalled(config, announce=announce))
    return EXIT_OK


def check_serve_arguments(args: argparse.Namespace) -> None:
    """Refuse out-of-range values with one line (exit 2) before anything starts."""
    if not 0 <= args.port <= MAX_PORT:
        raise UsageError(f"--port {args.port} is not a port: use 0 (any free port) to {MAX_PORT}")
    for flag, value in (
        ("--subscriber-buffer", args.subscriber_buffer),
        ("--max-spaces", args.max_spaces),
        ("--max-open-spaces", args.max_open_spaces),
    ):
        if value < 1:
            raise UsageError(f"{flag} {value} is out of range: it must be at least 1")


def confirm_delete(space_id: str, *, yes: bool) -> bool:
    """True when the delete may go ahead; refuses an empty id whatever the environment says."""
    if not space_id.strip():
        raise UsageError(
            "space delete needs a non-empty space id; it never falls back to "
            f"{SPACE_ENV} or the default space"
        )
    if yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(
            f"space delete removes every memory of '{space_id}'; pass --yes to confirm "
            "(stdin is not a terminal, so it cannot ask)"
        )
    answer = input(f"delete memory space '{space_id}' and all its memories? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def run_space(args: argparse.Namespace) -> int:
    from toolkit.server.space_client import run_space_command

    space_id: str | None = getattr(args, "space_id", None)
    if args.action == "delete":
        assert space_id is not None
        if not confirm_delete(space_id, yes=args.yes):
            print("not deleted", file=sys.stderr)
            return EXIT_FAILED
    return run_space_command(args.action, space_id, args.target, args.timeout)
