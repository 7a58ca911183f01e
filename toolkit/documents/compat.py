"""The records of `reports/compat.json`: the runtime suite's checks, matrix and rollout rules.

The compat stage builds them (`toolkit.compat.results`) and writes them through
`CompatResults.to_json`; the report stage reads them back through `CompatResults.from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from toolkit.documents.base import Document

# A case or check that verified only part of its promise is `partial` (its evidence says what
# was not verified); one whose RPCs the target does not implement is `not_run` (the preflight's
# cause). Neither counts as passed.
Outcome = Literal["passed", "failed", "partial", "not_run"]
Verdict = Literal["passed", "failed", "partial"]
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
    not_verified: str | None = None  # for a partial case: what it could not verify
    cause: str | None = None  # for a not_run case: why (the preflight's shared cause)


@dataclass(frozen=True)
class CheckResult:
    id: str
    purpose: str
    category: Category
    outcome: Outcome
    duration_s: float
    cases: tuple[CaseEntry, ...]
    not_verified: tuple[str, ...] = ()  # what its partial cases could not verify, deduplicated
    cause: str | None = None  # why it did not run (not_run), as the preflight says it


@dataclass(frozen=True)
class Preflight:
    """What the target said it implements before the checks, against the schema under test."""

    services: tuple[str, ...]  # as server reflection lists them (empty: reflection not served)
    missing: tuple[str, ...]  # `Service/Rpc` of the schema the target does not implement
    cause: str | None  # the one sentence every not_run check refers to (None: nothing missing)
    reflection: str | None = None  # the reflection service that answered (v1 or v1alpha)


@dataclass(frozen=True)
class Cleanup:
    """What the suite removed from an external target after the run."""

    spaces_deleted: tuple[str, ...] = ()
    memories_forgotten: tuple[str, ...] = ()  # legacy writes to the default space, by id
    failures: tuple[str, ...] = ()  # what could not be removed, one sentence each


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
    verdict: Verdict
    checks: tuple[CheckResult, ...]
    matrix: tuple[MatrixCell, ...]
    rollout: tuple[RolloutRule, ...]
    # Defaults for documents built in code; compat.json always carries them.
    allow_partial: bool = False
    preflight: Preflight | None = None
    cleanup: Cleanup | None = None
    server_log: str | None = None  # the log file the suite read for an external target

    @property
    def partial_checks(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.checks if c.outcome in ("partial", "not_run"))
