"""`engram-compat`: parse the command line, call one stage, map its result to an exit code.

Each stage package contributes its subcommands through a `commands` module with a
`register(subparsers)` function; handlers return an exit code (see `toolkit.errors`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from toolkit import __version__
from toolkit.errors import ToolkitError

COMMAND_MODULES = (
    "toolkit.schema.commands",
    "toolkit.server.commands",
    "toolkit.client.commands",
    "toolkit.compat.commands",
    "toolkit.report.commands",
    "toolkit.lint.commands",
    "toolkit.documents.commands",
    "toolkit.rehearse.commands",
)


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help names its default, unless the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default in (None, False, argparse.SUPPRESS)
            or action.option_strings == []
            or isinstance(default, bool)
        ):
            return text
        shown = ",".join(map(str, default)) if isinstance(default, list | tuple) else default
        return f"{text} (default: {shown})"


def _verbose(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="log debugging detail (DEBUG lines) to stderr",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engram-compat",
        description="Prove that an Engram gRPC schema migration is safe before it ships.",
        epilog="Exit codes: 0 success, 1 the check found a problem, 2 it could not judge "
        "(bad input, missing tool).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _verbose(parser, False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for subparser in set(subparsers.choices.values()):
        subparser.formatter_class = HelpFormatter
        # `-v` after the subcommand too; SUPPRESS keeps a `-v` given before it.
        _verbose(subparser, argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.func(args)
    except ToolkitError as exc:
        print(f"engram-compat {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"engram-compat {args.command}: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
