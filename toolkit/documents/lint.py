"""The record of `reports/lint.json`: what ruff, ruff format, mypy and buf lint said.

Written by `engram-compat lint`; read by the report stage. A tool that is not installed or
cannot run is recorded as `missing` with the reason, and fails the stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from toolkit.documents.base import Document

LINT_VERSION = 1
LINT_KIND = "engram-compat/lint"

ToolOutcome = Literal["passed", "failed", "missing"]


@dataclass(frozen=True)
class ToolRun:
    """One tool run: its name, the command line, its outcome, exit status and last output."""

    tool: str
    command: str
    outcome: ToolOutcome
    exit_code: int | None
    output: str


@dataclass(frozen=True)
class LintDocument(Document):
    SCHEMA_NAME: ClassVar[str] = "lint"
    KIND: ClassVar[str] = LINT_KIND
    SCHEMA_VERSION: ClassVar[int] = LINT_VERSION

    duration_s: float
    verdict: Literal["passed", "failed"]
    tools: tuple[ToolRun, ...]
