"""`engram-compat`: parse the command line, call one stage, map its result to an exit code.

Each stage package contributes its subcommands through a `commands` module with a
`register(subparsers)` function; handlers return an exit code (see `toolkit.errors`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from toolkit import __version__
from toolkit.errors import ToolkitError

# Each stage's commands module and the subcommands it registers (`register(subparsers)`). A
# run imports only the module of its own subcommand: the others import grpc, asyncio and
# jsonschema as they load, a tenth of a second before any work starts. `--help`, `--version`
# and a missing or unknown subcommand build the whole parser.
COMMANDS: dict[str, tuple[str, ...]] = {
    "toolkit.schema.commands": ("stubs", "check"),
    "toolkit.server.commands": ("serve",),
    "toolkit.client.commands": ("space",),
    "toolkit.compat.commands": ("record", "runtime", "replay"),
    "toolkit.report.commands": ("report", "changelog"),
    "toolkit.lint.commands": ("lint",),
    "toolkit.documents.commands": ("schema-doc",),
    "toolkit.rehearse.commands": ("rehearse",),
}
COMMAND_MODULES = tuple(COMMANDS)
TOP_LEVEL_ACTIONS = ("-h", "--help", "--version")


def module_of(argv: Sequence[str]) -> str | None:
    """The commands module of the subcommand `argv` names: its first word that is not an
    option (the top-level options take no value). None when it names none it knows, or asks
    for the top-level help or version first."""
    for argument in argv:
        if argument in TOP_LEVEL_ACTIONS:
            return None
        if not argument.startswith("-"):
            return next((m for m, names in COMMANDS.items() if argument in names), None)
    return None


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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, that commands module's subcommands alone."""
    parser = argparse.ArgumentParser(
        prog="engram-compat",
        description="Prove that an Engram gRPC schema migration is safe before it ships.",
        epilog="Exit codes: 0 success, 1 the check found a problem, 2 it could not judge "
        "(bad input, missing tool).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _verbose(parser, False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES if only is None else (only,):
        importlib.import_module(name).register(subparsers)
    for subparser in set(subparsers.choices.values()):
        subparser.formatter_class = HelpFormatter
        # `-v` after the subcommand too; SUPPRESS keeps a `-v` given before it.
        _verbose(subparser, argparse.SUPPRESS)
    return parser


# What a shell reports for a writer whose reader went away (128 + SIGPIPE), e.g. the first
# command of `yes | head -1`: a closed pipe ends the command quietly with the usual status.
EXIT_BROKEN_PIPE = 141


def _discard_output() -> None:
    """Point stdout and stderr at the null device, so nothing more (not even the interpreter's
    final flush) writes to the closed pipe (Python's documented way, `signal` module notes)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):  # not a real file (e.g. captured)
            continue
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point: every subcommand writing to a pipe its reader closed early
    (`engram-compat check | head -1`) ends quietly with EXIT_BROKEN_PIPE."""
    try:
        try:
            return _main(argv)
        finally:  # buffered output meets the closed pipe here, not at interpreter exit
            sys.stdout.flush()
    except BrokenPipeError:
        _discard_output()
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(module_of(arguments))
    args = parser.parse_args(arguments)
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
