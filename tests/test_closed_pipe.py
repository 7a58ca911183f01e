"""`engram-compat ... | head -1`: a subcommand whose stdout reader went away ends quietly with
the shell's usual status for it (141, 128 + SIGPIPE), never "internal error (BrokenPipeError)",
a traceback or Python's "Exception ignored" at exit. The real command runs with its stdout a
pipe whose reading end is closed before it starts, so every write it makes meets the closed
pipe (deterministic, unlike racing `head`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from toolkit.cli import EXIT_BROKEN_PIPE


def _command() -> list[str]:
    """The console script the user runs (beside the interpreter), else the module."""
    script = Path(sys.executable).with_name("engram-compat")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "toolkit"]


def run_into_closed_pipe(args: Sequence[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["ENGRAM_COMPAT_CACHE_DIR"] = str(tmp_path / "cache")
    env["BUF_CACHE_DIR"] = str(tmp_path / "buf-cache")
    env.pop("GITHUB_ACTIONS", None)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line is written
    try:
        return subprocess.run(
            [*_command(), *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        os.close(write_end)


def _assert_quiet(completed: subprocess.CompletedProcess[str]) -> None:
    assert completed.returncode == EXIT_BROKEN_PIPE, completed.stderr
    for noise in ("BrokenPipe", "internal error", "Traceback", "Exception ignored", "Errno 32"):
        assert noise not in completed.stderr, completed.stderr


def test_check_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    completed = run_into_closed_pipe(["check", "--json", str(tmp_path / "schema.json")], tmp_path)
    _assert_quiet(completed)
    assert completed.stderr == ""
    # The work itself was done: the document was written before the summary was printed.
    assert (tmp_path / "schema.json").is_file()


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--json", "-"],  # the document itself goes to the closed pipe
        ["schema-doc", "results"],
        ["stubs", "--check"],
        ["record", "--check"],
        # pytest, run as a child with this stdout, stops at the closed pipe
        ["runtime", "--reports", "{tmp}/reports"],
    ],
    ids=["check-json-stdout", "schema-doc", "stubs-check", "record-check", "runtime"],
)
def test_every_writing_subcommand_ends_quietly(args: list[str], tmp_path: Path) -> None:
    _assert_quiet(run_into_closed_pipe([a.format(tmp=tmp_path) for a in args], tmp_path))


def test_an_open_pipe_is_not_affected(tmp_path: Path) -> None:
    """The guard changes nothing while the reader is there: exit 0 and the whole output."""
    completed = subprocess.run(
        [*_command(), "schema-doc", "results"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.rstrip().endswith("}")
