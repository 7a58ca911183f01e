"""The record of `reports/rehearsal.json`: what `engram-compat rehearse` observed.

Written by `engram-compat rehearse --json FILE` (`nox -s rehearse`); merged into results.json
by the report stage when present. A `Document` like the others: `to_dict` adds `$schema`,
`schema_version` and `kind`, `from_dict` validates against `schemas/rehearsal.schema.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from toolkit.documents import base
from toolkit.documents.base import Document

REHEARSAL_VERSION = 1
REHEARSAL_KIND = "engram-compat/rehearsal"


@dataclass(frozen=True)
class Counts:
    """Writes of a step (or a run): acknowledged, failed, and the verdicts of the acknowledged."""

    acknowledged: int = 0
    failed: int = 0
    ok: int = 0
    misplaced: int = 0
    lost: int = 0
    rollback_unsafe: int = 0


@dataclass(frozen=True)
class PlannedStep:
    number: int
    action: str  # upgrade | move_cohort | move_back | rollback
    target: str  # a server (s1...) or a client cohort (c1...)
    description: str


@dataclass(frozen=True)
class StepRecord:
    """One step on the timeline (step 0: the seed data on the legacy fleet).

    `writes`: the writes made during the step, judged at the end of the run. `check`: every
    write acknowledged so far, judged when the step ended (the continuous invariant check).
    `legacy_servers`: the servers still (or again) on the legacy schema after the step.
    """

    number: int
    action: str
    target: str
    description: str
    started_s: float
    ended_s: float
    writes: Counts
    check: Counts
    legacy_servers: tuple[str, ...]


@dataclass(frozen=True)
class ServerRecord:
    name: str
    address: str
    starts: int
    adopted: bool | None  # its log recorded the adoption (None: an external server's log)


@dataclass(frozen=True)
class RollbackRecord:
    server: str
    unsafe: int
    remedy: str


@dataclass(frozen=True)
class RehearsalRun:
    """One order on a fresh fleet."""

    order: str
    seed: int
    plan: tuple[PlannedStep, ...]
    steps: tuple[StepRecord, ...]
    totals: Counts
    seed_written: int
    seed_readable: int
    rollback: RollbackRecord | None
    expected_safe: bool  # the schema check predicts this order safe
    observed_safe: bool  # 0 misplaced, 0 lost, all seed data readable
    hazard: str | None  # the contract's hazard id when the run observed it
    servers: tuple[ServerRecord, ...]
    wall_s: float


@dataclass(frozen=True)
class RehearsalDocument(Document):
    SCHEMA_NAME: ClassVar[str] = "rehearsal"
    KIND: ClassVar[str] = REHEARSAL_KIND
    SCHEMA_VERSION: ClassVar[int] = REHEARSAL_VERSION

    servers: int
    seed: int
    duration_s: float
    rollback: bool
    runs: tuple[RehearsalRun, ...]
    observed_safe_orders: tuple[str, ...]
    exit_code: int


def json_schema() -> dict[str, Any]:
    """The packaged JSON Schema of rehearsal.json (`engram-compat schema-doc rehearsal`)."""
    return base.json_schema("rehearsal")
