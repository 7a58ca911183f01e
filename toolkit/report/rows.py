"""The report's own view rows, built from the typed stage documents.

Nothing here builds a sentence: values are ids, names, counts and raw tool messages; the
templates turn them into prose. Records the stage documents already define (sources, version
policy, acceptances, replay fields, matrix cells) are used as they are, not copied.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from toolkit.contract import HAZARD_SERVERS_FIRST
from toolkit.documents.compat import CompatResults, MatrixCell
from toolkit.documents.results import StageStatus
from toolkit.documents.schema import Change, LintFinding, ReplayField, SchemaReport

BAD_REPLAY = frozenset({"PARSE_ERROR", "LOST", "CHANGED", "MISROUTED"})
CLIENTS = ("legacy", "new")
SERVERS = ("legacy", "current")
# Rollout findings that mean "old servers ignore the new field": from the schema stage's
# reverse replay and from the compat suite's matrix.
SERVERS_FIRST = frozenset({HAZARD_SERVERS_FIRST})
# Changes to a whole message are listed with services and RPCs, not under the message.
WHOLE_ELEMENT_KINDS = frozenset({"message_added", "message_removed"})


@dataclass(frozen=True)
class ChangeRow:
    id: str
    kind: str
    before: str | None
    after: str | None
    wire: str
    json: str
    source: str
    breaking: bool
    accepted_reason: str | None
    accepted_expires: str | None


@dataclass(frozen=True)
class ElementFinding:
    """Every change of one schema element, with buf's rule ids folded together."""

    element: str
    name: str
    location: str | None
    changes: tuple[ChangeRow, ...]
    buf_rules: tuple[str, ...]
    buf_messages: tuple[str, ...]
    status: str  # breaking | accepted | compatible


@dataclass(frozen=True)
class ChangeGroup:
    baseline: str
    message: str | None
    elements: tuple[ElementFinding, ...]
    breaking: int


@dataclass(frozen=True)
class LintRow:
    rule: str
    location: str
    message: str


@dataclass(frozen=True)
class ReplayRow:
    baseline: str
    direction: str
    message: str
    outcome: str
    samples: int
    bad: bool
    fields: tuple[ReplayField, ...]


@dataclass(frozen=True)
class RolloutStep:
    """One step of the rollout order; `kind` selects the sentence."""

    kind: str  # servers_first | clients_after | other
    ids: tuple[str, ...]
    fields: tuple[str, ...]
    checks: tuple[str, ...]


@dataclass(frozen=True)
class Evidence:
    key: str
    value: str


@dataclass(frozen=True)
class CaseRow:
    name: str
    outcome: str
    expected: str | None
    observed: str | None
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class CheckRow:
    id: str
    purpose: str
    category: str
    outcome: str
    cases: tuple[CaseRow, ...]

    @property
    def failed_cases(self) -> tuple[CaseRow, ...]:
        return tuple(case for case in self.cases if case.outcome == "failed")

    @property
    def passed_count(self) -> int:
        return len(self.cases) - len(self.failed_cases)


@dataclass(frozen=True)
class StageRow:
    """One stage of the run in the report's stage strip."""

    stage: str
    status: str  # passed | failed | missing
    document: str


def _location(file: str | None, line: int | None) -> str | None:
    if file is None:
        return None
    return f"{file}:{line}" if line is not None else file


def _change_row(change: Change) -> ChangeRow:
    accepted = change.accepted
    return ChangeRow(
        id=change.id,
        kind=change.kind,
        before=change.before,
        after=change.after,
        wire=change.wire,
        json=change.json,
        source=change.source,
        breaking=change.breaking,
        accepted_reason=accepted.reason if accepted else None,
        accepted_expires=accepted.expires if accepted else None,
    )


def _element(element: str, message: str | None, changes: list[Change]) -> ElementFinding:
    rows = tuple(_change_row(c) for c in sorted(changes, key=lambda c: c.id))
    if any(row.breaking and row.accepted_reason is None for row in rows):
        status = "breaking"
    elif any(row.breaking for row in rows):
        status = "accepted"
    else:
        status = "compatible"
    first = min(changes, key=lambda c: c.id)
    return ElementFinding(
        element=element,
        name=element.removeprefix(f"{message}.") if message else element,
        location=_location(first.file, first.line),
        changes=rows,
        buf_rules=tuple(sorted({rule for c in changes for rule in c.buf_rules})),
        buf_messages=tuple(sorted({text for c in changes for text in c.buf_messages})),
        status=status,
    )


def change_groups(schema: SchemaReport) -> tuple[ChangeGroup, ...]:
    by_group: dict[tuple[str, str], dict[str, list[Change]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for change in schema.changes:
        message = "" if change.kind in WHOLE_ELEMENT_KINDS else change.message or ""
        by_group[(change.baseline, message)][change.element].append(change)
    groups = []
    # Messages first (alphabetical), then changes that belong to no message (services, files).
    for baseline, message in sorted(by_group, key=lambda key: (key[0], key[1] == "", key[1])):
        elements = tuple(
            _element(element, message or None, changes)
            for element, changes in sorted(by_group[(baseline, message)].items())
        )
        groups.append(
            ChangeGroup(
                baseline=baseline,
                message=message or None,
                elements=elements,
                breaking=sum(1 for e in elements if e.status == "breaking"),
            )
        )
    return tuple(groups)


def lint_rows(findings: tuple[LintFinding, ...]) -> tuple[LintRow, ...]:
    return tuple(LintRow(f.rule, f"{f.file}:{f.line}:{f.column}", f.message) for f in findings)


def replay_rows(schema: SchemaReport) -> tuple[ReplayRow, ...]:
    order = {"old_to_new": 0, "new_to_old": 1}
    rows = [
        ReplayRow(
            baseline=row.baseline,
            direction=row.direction,
            message=row.message,
            outcome=row.outcome,
            samples=row.samples,
            bad=row.outcome in BAD_REPLAY,
            fields=tuple(f for f in row.fields if f.outcome != "IDENTICAL"),
        )
        for row in schema.replay
    ]
    return tuple(sorted(rows, key=lambda r: (r.baseline, order[r.direction], r.message)))


def matrix_rows(compat: CompatResults | None) -> tuple[tuple[MatrixCell | None, ...], ...]:
    cells: dict[tuple[str, str], MatrixCell] = {
        (c.client, c.server): c for c in (compat.matrix if compat else ())
    }
    return tuple(tuple(cells.get((client, server)) for server in SERVERS) for client in CLIENTS)


def rollout_steps(
    schema: SchemaReport | None, compat: CompatResults | None
) -> tuple[RolloutStep, ...]:
    hazards = schema.hazards if schema else ()
    rules = compat.rollout if compat else ()
    first = [h for h in hazards if h.id in SERVERS_FIRST]
    first_rules = [r for r in rules if r.id in SERVERS_FIRST]
    steps = []
    if first or first_rules:
        ids = tuple(sorted({h.id for h in first} | {r.id for r in first_rules}))
        fields = tuple(sorted({f for h in first for f in h.fields}))
        checks = tuple(sorted({r.reason_check for r in first_rules}))
        steps.append(RolloutStep("servers_first", ids, fields, checks))
        steps.append(RolloutStep("clients_after", (), fields, ()))
    steps += [
        RolloutStep("other", (h.id,), tuple(sorted(h.fields)), ())
        for h in sorted(hazards, key=lambda h: h.id)
        if h.id not in SERVERS_FIRST
    ]
    steps += [
        RolloutStep("other", (r.id,), (), (r.reason_check,))
        for r in sorted(rules, key=lambda r: r.id)
        if r.id not in SERVERS_FIRST
    ]
    return tuple(steps)


def _evidence_value(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def check_rows(compat: CompatResults) -> tuple[CheckRow, ...]:
    return tuple(
        CheckRow(
            id=check.id,
            purpose=check.purpose,
            category=check.category,
            outcome=check.outcome,
            cases=tuple(
                CaseRow(
                    name=case.name,
                    outcome=case.outcome,
                    expected=case.expected,
                    observed=case.observed,
                    evidence=tuple(
                        Evidence(key, _evidence_value(value))
                        for key, value in sorted(case.evidence.items())
                    ),
                )
                for case in check.cases
            ),
        )
        for check in compat.checks
    )


def stage_rows(stages: tuple[StageStatus, ...]) -> tuple[StageRow, ...]:
    return tuple(StageRow(s.stage, s.status, s.document) for s in stages)
