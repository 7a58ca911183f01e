"""The server stage's subcommand: `serve` (`space ...` is the client's: `toolkit.client`)."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from toolkit.contract import DEFAULT_SPACE
from toolkit.errors import EXIT_OK

DATA_DIR_ENV = "ENGRAM_DATA_DIR"
DEFAULT_DATA_DIR = ".engram-data"


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
        help="events a stream subscriber may fall behind before it is ended",
    )
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from toolkit.server.app import ServerConfig, serve_until_signalled
    from toolkit.server.logs import configure_logging
    from toolkit.server.space_id import MemorySpaceId

    configure_logging(args.log_format, verbose=args.verbose)
    config = ServerConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir or default_data_dir(),
        default_space=MemorySpaceId(args.default_space),
        schema=args.schema,
        subscriber_buffer=args.subscriber_buffer,
        log_format=args.log_format,
    )

    def announce(line: str) -> None:
        print(line, flush=True)

    asyncio.run(serve_until_signalled(config, announce=announce))
    return EXIT_OK
