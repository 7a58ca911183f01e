"""The server stage's subcommand: `serve` (`space ...` is the client's: `toolkit.client`)."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from toolkit.contract import DEFAULT_SPACE
from toolkit.errors import EXIT_OK, ToolkitError

DATA_DIR_ENV = "ENGRAM_DATA_DIR"
DEFAULT_DATA_DIR = ".engram-data"
MAX_PORT = 65535
# Mirrors toolkit.server.registry (not imported here: `--help` stays fast).
DEFAULT_MAX_SPACES = 10_000
DEFAULT_MAX_OPEN_SPACES = 128
# Mirrors toolkit.server.hub.DEFAULT_BUFFER_BYTES.
DEFAULT_SUBSCRIBER_BUFFER_BYTES = 8 * 1024 * 1024


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
    serve.add_argument(
        "--log-format", choices=("json", "text"), default="json", help="how log records are written"
    )
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
        "--subscriber-buffer-bytes",
        type=int,
        default=DEFAULT_SUBSCRIBER_BUFFER_BYTES,
        help="bytes of events a stream subscriber may fall behind before it is ended "
        f"(default {DEFAULT_SUBSCRIBER_BUFFER_BYTES}, 8 MiB)",
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
        subscriber_buffer_bytes=args.subscriber_buffer_bytes,
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
        ("--subscriber-buffer-bytes", args.subscriber_buffer_bytes),
        ("--max-spaces", args.max_spaces),
        ("--max-open-spaces", args.max_open_spaces),
    ):
        if value < 1:
            raise UsageError(f"{flag} {value} is out of range: it must be at least 1")
