"""The command line imports only the module of the subcommand it runs."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from toolkit.cli import COMMANDS, build_parser, module_of


@pytest.mark.parametrize("module", sorted(COMMANDS))
def test_the_table_names_what_each_module_registers(module: str) -> None:
    subparsers = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).register(subparsers)
    assert tuple(subparsers.choices) == COMMANDS[module]


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["runtime", "-n", "0"], "toolkit.compat.commands"),
        (["-v", "serve", "--port", "0"], "toolkit.server.commands"),
        (["schema-doc"], "toolkit.documents.commands"),
        (["--help", "runtime"], None),
        (["--version"], None),
        (["-v"], None),
        (["no-such-command"], None),
        ([], None),
    ],
)
def test_the_subcommand_picks_its_module(argv: list[str], module: str | None) -> None:
    assert module_of(argv) == module


def test_one_module_parses_its_own_subcommand() -> None:
    args = build_parser("toolkit.compat.commands").parse_args(["runtime", "-n", "0", "-v"])
    assert args.workers == "0" and args.verbose is True


def test_a_run_of_one_subcommand_imports_no_other_stage() -> None:
    code = (
        "import sys; from toolkit.cli import main; main(['record', '--check']); "
        "print(sorted(m for m in sys.modules if m.endswith('.commands')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    last = result.stdout.strip().splitlines()[-1]
    assert last == "['toolkit.compat.commands']", result.stdout + result.stderr
