"""The client's subcommand: `engram-compat space create|get|list|delete` (MemorySpaceService)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from toolkit.contract import SPACE_ENV, SPACE_SERVICE_NAME
from toolkit.errors import EXIT_FAILED, EXIT_OK, ToolkitError

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
        description="Manage the memory spaces of a running server "
        f"({SPACE_SERVICE_NAME}). "
        "Exit 1 when the server refuses, 2 when it cannot be reached.",
    )
    actions = space.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text in ACTIONS:
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


def _describe(space: SpaceRecord) -> str:
    if space.quarantined is not None:
        return (
            f"{space.id}\tquarantined: {space.quarantined}\tcreated_at={space.created_at}"
            f"\tpath={space.persistence_path}"
        )
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


class UsageError(ToolkitError):
    """A command-line value the command refuses: one line, exit 2."""


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
    from toolkit.client.spaces import SpaceRefused, manage_space

    space_id: str | None = getattr(args, "space_id", None)
    if args.action == "delete":
        assert space_id is not None
        if not confirm_delete(space_id, yes=args.yes):
            print("not deleted", file=sys.stderr)
            return EXIT_FAILED
    try:
        answer = manage_space(args.action, space_id, args.target, timeout=args.timeout)
    except SpaceRefused as refused:
        print(f"engram-compat space {args.action}: {refused.details}", file=sys.stderr)
        return EXIT_FAILED
    print_answer(answer)
    return EXIT_OK
