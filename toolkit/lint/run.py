"""Run the lint tools the way the nox `lint` session does and record each outcome.

A tool that is not installed, or cannot be started, is recorded as `missing` with the reason;
it fails the stage instead of crashing it, so the run's verdict can say what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from toolkit.documents.lint import LintDocument, ToolOutcome, ToolRun
from toolkit.tools import find_buf

# Enough of a tool's output to show what failed; the full output goes to the terminal.
OUTPUT_LIMIT = 4000
TIMEOUT_S = 900
BUF_MODULES = ("proto", "fixtures/baseline/proto")
INSTALL_HINT = "install the test extra: pip install 'engram-compat[test]'"


@dataclass(frozen=True)
class LintStep:
    tool: str
    argv: tuple[str, ...]
    cwd: str = "."  # relative to the project root

    @property
    def command(self) -> str:
        where = f" (in {self.cwd})" if self.cwd != "." else ""
        return " ".join(self.argv) + where


def default_steps() -> tuple[LintStep, ...]:
    return (
        LintStep("ruff", ("ruff", "check", ".")),
        LintStep("ruff-format", ("ruff", "format", "--check", ".")),
        LintStep("mypy", ("mypy",)),
        *(LintStep("buf", ("buf", "lint"), module) for module in BUF_MODULES),
    )


def find_executable(name: str) -> str | None:
    """`name` beside the running interpreter (a venv's bin/), else on PATH."""
    if name == "buf":
        return find_buf()
    beside = Path(sys.executable).parent / (f"{name}.exe" if os.name == "nt" else name)
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name)


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= OUTPUT_LIMIT else "…" + text[-OUTPUT_LIMIT:]


def run_step(step: LintStep, project_root: Path) -> ToolRun:
    executable = find_executable(step.argv[0])
    if executable is None:
        reason = f"{step.argv[0]} not found beside the Python interpreter or on PATH: "
        return ToolRun(step.tool, step.command, "missing", None, reason + INSTALL_HINT)
    cwd = project_root / step.cwd
    try:
        completed = subprocess.run(
            [executable, *step.argv[1:]],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ToolRun(step.tool, step.command, "missing", None, f"cannot run: {exc}")
    output = _tail(completed.stdout + completed.stderr)
    outcome: ToolOutcome = "passed" if completed.returncode == 0 else "failed"
    return ToolRun(step.tool, step.command, outcome, completed.returncode, output)


def run_lint(project_root: Path, steps: Sequence[LintStep] | None = None) -> LintDocument:
    started = time.perf_counter()
    runs = tuple(run_step(step, project_root) for step in (steps or default_steps()))
    return LintDocument(
        duration_s=round(time.perf_counter() - started, 3),
        verdict="passed" if all(r.outcome == "passed" for r in runs) else "failed",
        tools=runs,
    )
