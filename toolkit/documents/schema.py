"""The records of `reports/schema.json`: what the schema check found, as plain frozen data.

Field names and shapes follow `schemas/schema.schema.json` exactly; `SchemaReport.to_json` is
the only serializer and `SchemaReport.from_dict` the only reader. Nothing here builds sentences
for people (see `toolkit.schema.summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from toolkit.documents.base import Document

Compat = Literal["compatible", "breaking"]
Rollout = Literal["any", "servers_first", "clients_first"]
CompatMode = Literal["rpc", "backward", "forward", "full"]
Verdict = Literal["compatible", "incompatible"]
Bump = Literal["major", "minor", "patch", "none"]
Direction = Literal["old_to_new", "new_to_old"]
AcceptanceStatus = Literal["used", "unused", "expired"]

SCHEMA_REPORT_VERSION = 1
SCHEMA_REPORT_KIND = "engram-compat/schema"


@dataclass(frozen=True)
class Encodings:
    """A rating per encoding: the binary wire and JSON."""

    wire: Compat
    json: Compat


@dataclass(frozen=True)
class SourceInfo:
    source: str
    version: str


@dataclass(frozen=True)
class VersionPolicy:
    baseline: str
    baseline_version: str | None
    declared: str | None
    required_bump: Bump
    minimum_version: str
    satisfied: bool
    checked: bool  # False when neither schema declares a version
    file: str | None  # where the current schema declares its version
    line: int | None
    description: str
    # The declaration `engram-schema-version: X.Y.Z` within its comment on `line` (1-based;
    # end_column one past its last character, as GitHub and buf count); None when not known.
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True)
class LintFinding:
    rule: str
    file: str
    line: int
    column: int
    message: str


@dataclass(frozen=True)
class Acceptance:
    reason: str
    expires: str | None


@dataclass(frozen=True)
class SourceLine:
    """One line of a .proto file as it reads: the declaration of a changed element, and the
    declaration's span in that schema (1-based; end_column one past its last character, as
    GitHub and buf count; None when the schema carries no source info)."""

    file: str
    line: int
    text: str
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True)
class Change:
    id: str
    baseline: str
    kind: str
    element: str
    message: str | None
    file: str | None
    line: int | None
    wire: Compat
    json: Compat
    source: Compat
    breaking: bool
    buf_rules: tuple[str, ...]
    buf_messages: tuple[str, ...]
    before: str | None
    after: str | None
    accepted: Acceptance | None
    category: str
    backward: Encodings
    forward: Encodings
    remedy: str
    # The element's declaration in the baseline and in the current schema (None: absent there,
    # or its source is not known); filled in by the diff, after the rating from the table.
    before_source: SourceLine | None = None
    after_source: SourceLine | None = None
    # The span of the declaration `file` and `line` name, always in the CURRENT schema: the
    # element, or for an element that is gone its nearest surviving enclosing element (or the
    # file's package line); the gone element's own span in the baseline is `before_source`'s.
    # 1-based, end_column one past the last character; None when not known (never guessed).
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True)
class ReplayField:
    field: str
    outcome: str
    detail: str


@dataclass(frozen=True)
class ReplayResult:
    baseline: str
    direction: Direction
    message: str
    outcome: str
    samples: int
    fields: tuple[ReplayField, ...]


@dataclass(frozen=True)
class Hazard:
    id: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class AcceptanceUse:
    id: str
    reason: str
    expires: str | None
    status: AcceptanceStatus


@dataclass(frozen=True)
class DirectionCompat:
    """Whether every unaccepted change holds in one direction, per encoding."""

    wire: bool
    json: bool


@dataclass(frozen=True)
class Compatibility:
    backward: DirectionCompat
    forward: DirectionCompat


@dataclass(frozen=True)
class RolloutBlock:
    """A rollout order that is not safe, and the messages (or RPCs) that decide it."""

    rollout: Rollout
    elements: tuple[str, ...]


@dataclass(frozen=True)
class BaselineCompatibility:
    baseline: str
    compatibility: Compatibility
    safe_rollouts: tuple[Rollout, ...]
    blocked: tuple[RolloutBlock, ...]


@dataclass(frozen=True)
class SchemaReport(Document):
    SCHEMA_NAME: ClassVar[str] = "schema"
    KIND: ClassVar[str] = SCHEMA_REPORT_KIND
    SCHEMA_VERSION: ClassVar[int] = SCHEMA_REPORT_VERSION

    duration_s: float
    verdict: Verdict
    current: SourceInfo
    baselines: tuple[SourceInfo, ...]
    version_policy: tuple[VersionPolicy, ...]
    lint: tuple[LintFinding, ...]
    changes: tuple[Change, ...]
    replay: tuple[ReplayResult, ...]
    hazards: tuple[Hazard, ...]
    acceptances: tuple[AcceptanceUse, ...]
    mode: CompatMode
    wire_only: bool
    compatibility: tuple[BaselineCompatibility, ...]
