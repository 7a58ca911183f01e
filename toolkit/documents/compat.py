"""The records of `reports/compat.json`: the runtime suite's checks, matrix and rollout rules.

The compat stage builds them (`toolkit.compat.results`) and writes them through
`CompatResults.to_json`; the report stage reads them back through `CompatResults.from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from toolkit.documents.base import Document

Outcome = Literal["passed", "failed"]
Category = Literal["routing", "deprecation", "errors", "isolation", "streams", "matrix"]
COMPAT_VERSION = 1
COMPAT_KIND = "engram-compat/compat"


@dataclass(frozen=True)
class CaseEntry:
    name: str
    outcome: Outcome
    duration_s: float
    expected: str | None
    observed: str | None
    evidence: dict[str, Any]


@dataclass(frozen=True)
class CheckResult:
    id: str
    purpose: str
    category: Category
    outcome: Outcome
    duration_s: float
    cases: tuple[CaseEntry, ...]


@dataclass(frozen=True)
class MatrixCell:
    client: Literal["legacy", "new"]
    server: Literal["legacy", "current"]
    expected: str
    observed: str
    passed: bool


@dataclass(frozen=True)
class RolloutRule:
    id: str
    reason_check: str


@dataclass(frozen=True)
class CompatResults(Document):
    SCHEMA_NAME: ClassVar[str] = "compat"
    KIND: ClassVar[str] = COMPAT_KIND
    SCHEMA_VERSION: ClassVar[int] = COMPAT_VERSION

    duration_s: float
    target: str | None
    started_server: bool
    verdict: Outcome
    checks: tuple[CheckResult, ...]
    matrix: tuple[MatrixCell, ...]
    rollout: tuple[RolloutRule, ...]
