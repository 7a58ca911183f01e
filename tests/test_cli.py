"""The command line's common behaviour: -v anywhere, defaults in every option's help."""

from __future__ import annotations

import argparse

import pytest

from toolkit.cli import build_parser


@pytest.mark.parametrize(
    ("argv", "verbose"),
    [(["-v", "check"], True), (["check", "-v"], True), (["check"], False)],
)
def test_verbose_before_or_after_the_subcommand(argv: list[str], verbose: bool) -> None:
    assert build_parser().parse_args(argv).verbose is verbose


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_with_a_default_shows_it_in_help() -> None:
    missing = []
    for name, sub in _subparsers(build_parser()).items():
        text = sub.format_help()
        for action in sub._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS:
                continue
            default = action.default
            if default in (None, False, argparse.SUPPRESS) or isinstance(default, bool):
                continue
            if not action.help:
                missing.append(f"{name} {action.option_strings[0]}: no help")
        if "(default" not in text and any(
            a.default not in (None, False, argparse.SUPPRESS) and a.option_strings
            for a in sub._actions
            if not isinstance(a.default, bool) and a.help != argparse.SUPPRESS
        ):
            missing.append(f"{name}: no default shown")
    assert missing == []
