"""The client's subcommand: `engram-compat space create|get|list|delete` (MemorySpaceService)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from toolkit.errors import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from toolkit.client.spaces import SpaceAnswer, SpaceRecord

ACTIONS = (
    ("create", "create a space (idempotent) and print its provisioned path"),
    ("get", "describe one space"),
    ("list", "list every space"),
    ("delete", "close a space's store and remove its data"),
)


def register(subparsers: Any) -> None:
    """Add this package's subcommands to `engram-compat`."""
    space = subparsers.add_parser(
        "space",
        help="create, get, list or delete memory spaces on a running server",
        description="Manage the memory spaces of a running server (MemorySpaceService). "
        "Exit 1 when the server refuses, 2 when it cannot be reached.",
    )
    actions = space.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in ACTIONS:
        parser = actions.add_parser(action, help=text, description=text)
        if action != "list":
            parser.add_argument("space_id", metavar="ID")
        parser.add_argument("--target", default="127.0.0.1:50051", help="server HOST:PORT")
        parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call")
        parser.set_defaults(func=run_space)


def _describe(space: SpaceRecord) -> str:
    return (
        f"{space.id}\tmemories={space.memory_count}\tcreated_at={space.created_at}"
        f"\tpath={space.persistence_path}"
    )


def print_answer(answer: SpaceAnswer) -> None:
    """Print a `SpaceAnswer` as `engram-compat space` shows it."""
    if answer.action == "create":
        (space,) = answer.spaces
        verb = "created" if answer.created else "already exists:"
        print(f"{verb} memory space {space.id}")
        print(f"  path: {space.persistence_path}")
    elif answer.action == "delete":
        print(f"deleted memory space {answer.deleted}")
    else:
        for space in answer.spaces:
            print(_describe(space))


def run_space(args: argparse.Namespace) -> int:
    from toolkit.client.spaces import SpaceRefused, manage_space

    space_id: str | None = getattr(args, "space_id", None)
    try:
        answer = manage_space(args.action, space_id, args.target, timeout=args.timeout)
    except SpaceRefused as refused:
        print(f"engram-compat space {args.action}: {refused.details}", file=sys.stderr)
        return EXIT_FAILED
    print_answer(answer)
    return EXIT_OK
