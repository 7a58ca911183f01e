"""`rehearsal.json`: what `engram-compat rehearse` observed, for the results document.

Self-contained for now (`to_dict` / `from_dict` of its own); its JSON Schema is
`schemas/rehearsal.schema.json` beside this module.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from importlib import resources
from typing import Any

SCHEMA_VERSION = "1"
KIND = "rehearsal"


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
class RehearsalDocument:
    servers: int
    seed: int
    duration_s: float
    rollback: bool
    runs: tuple[RehearsalRun, ...]
    observed_safe_orders: tuple[str, ...]
    exit_code: int
    schema_version: str = SCHEMA_VERSION
    kind: str = KIND

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (tuples as lists)."""
        data: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RehearsalDocument:
        document: RehearsalDocument = _build(cls, data)
        return document


def _build(cls: type[Any], data: dict[str, Any]) -> Any:
    nested: dict[str, type[Any]] = {
        "totals": Counts,
        "writes": Counts,
        "check": Counts,
        "rollback": RollbackRecord,
    }
    sequences: dict[str, type[Any] | None] = {
        "runs": RehearsalRun,
        "plan": PlannedStep,
        "steps": StepRecord,
        "servers": ServerRecord,
        "legacy_servers": None,
        "observed_safe_orders": None,
    }
    values: dict[str, Any] = {}
    for item in fields(cls):
        if item.name not in data:
            continue
        value = data[item.name]
        if item.name in nested and isinstance(value, dict):
            value = _build(nested[item.name], value)
        elif item.name in sequences and isinstance(value, list):
            element = sequences[item.name]
            value = tuple(_build(element, v) if element else v for v in value)
        values[item.name] = value
    return cls(**values)


def json_schema() -> dict[str, Any]:
    text = resources.files("toolkit.documents").joinpath("schemas/rehearsal.schema.json")
    schema: dict[str, Any] = json.loads(text.read_text())
    return schema
