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
from toolkit.documents.schema import (
    Change,
    LintFinding,
    ReplayField,
    SchemaReport,
    SourceLine,
)
from toolkit.report.remedies import accept_snippet, check_remedy

BAD_REPLAY = frozenset({"PARSE_ERROR", "LOST", "CHANGED", "MISROUTED"})
CLIENTS = ("legacy", "new")
SERVERS = ("legacy", "current")
# Rollout findings that mean "old servers ignore the new field": from the schema stage's
# reverse replay and from the compat suite's matrix.
SERVERS_FIRST = frozenset({HAZARD_SERVERS_FIRST})
# Changes to a whole message are listed with services and RPCs, not under the message.
WHOLE_ELEMENT_KINDS = frozenset({"message_added", "message_removed"})
# Failing first, everywhere: the sort rank of a status or outcome (unknown ones after failed).
STATUS_RANK = {"breaking": 0, "failed": 0, "partial": 1, "not_run": 2, "accepted": 3}
PASSING = frozenset({"compatible", "passed"})


def rank(status: str) -> int:
    """0 for what fails; anything that is neither known nor passing sorts with the partial."""
    return STATUS_RANK.get(status, 4 if status in PASSING else 1)


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
    remedy: str
    snippet: str | None  # the `[[accept]]` entry, for a breaking change not yet accepted


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
    before_source: SourceLine | None
    after_source: SourceLine | None

    @property
    def breaking_changes(self) -> tuple[ChangeRow, ...]:
        return tuple(c for c in self.changes if c.breaking and c.accepted_reason is None)


@dataclass(frozen=True)
class ChangeGroup:
    baseline: str
    message: str | None
    elements: tuple[ElementFinding, ...]
    breaking: int

    @property
    def failing(self) -> tuple[ElementFinding, ...]:
        """The breaking and accepted elements: shown; the compatible ones are folded."""
        return tuple(e for e in self.elements if e.status != "compatible")

    @property
    def compatible(self) -> tuple[ElementFinding, ...]:
        return tuple(e for e in self.elements if e.status == "compatible")


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
    outcome: str  # passed | failed | partial | not_run (anything not passed is not passed)
    cases: tuple[CaseRow, ...]
    remedy: str | None  # what the server must do differently; None when passed

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"

    @property
    def failed_cases(self) -> tuple[CaseRow, ...]:
        return tuple(case for case in self.cases if case.outcome != "passed")

    @property
    def passed_count(self) -> int:
        return len(self.cases) - len(self.failed_cases)


@dataclass(frozen=True)
class StageRow:
    """One stage of the run in the report's stage strip."""

    stage: str
    label: str  # the name the strip shows (the compat stage is "runtime")
    status: str  # passed | failed | partial | missing | not_run
    document: str


def slug(value: Any) -> str:
    """An HTML id from a name: lower case, anything but letters and digits a hyphen."""
    return "".join(c if c.isalnum() else "-" for c in str(value).lower()).strip("-")


def _location(file: str | None, line: int | None) -> str | None:
    if file is None:
        return None
    return f"{file}:{line}" if line is not None else file


def _change_row(change: Change) -> ChangeRow:
    accepted = change.accepted
    open_break = change.breaking and accepted is None
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
        remedy=change.remedy,
        snippet=accept_snippet(change.id) if open_break else None,
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
    sources = [c for c in sorted(changes, key=lambda c: (not c.breaking, c.id))]
    return ElementFinding(
        element=element,
        name=element.removeprefix(f"{message}.") if message else element,
        location=_location(first.file, first.line),
        changes=rows,
        buf_rules=tuple(sorted({rule for c in changes for rule in c.buf_rules})),
        buf_messages=tuple(sorted({text for c in changes for text in c.buf_messages})),
        status=status,
        before_source=next((c.before_source for c in sources if c.before_source), None),
        after_source=next((c.after_source for c in sources if c.after_source), None),
    )


def change_groups(schema: SchemaReport) -> tuple[ChangeGroup, ...]:
    by_group: dict[tuple[str, str], dict[str, list[Change]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for change in schema.changes:
        message = "" if change.kind in WHOLE_ELEMENT_KINDS else change.message or ""
        by_group[(change.baseline, message)][change.element].append(change)
    groups = []
    # Messages first (alphabetical), then changes that belong to no message (services, files);
    # groups with a breaking element before the others, and within a group failing first.
    for baseline, message in sorted(by_group, key=lambda key: (key[0], key[1] == "", key[1])):
        found = [
            _element(element, message or None, changes)
            for element, changes in sorted(by_group[(baseline, message)].items())
        ]
        elements = tuple(sorted(found, key=lambda e: rank(e.status)))
        groups.append(
            ChangeGroup(
                baseline=baseline,
                message=message or None,
                elements=elements,
                breaking=sum(1 for e in elements if e.status == "breaking"),
            )
        )
    return tuple(sorted(groups, key=lambda g: min(rank(e.status) for e in g.elements)))


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
    """Every runtime check, failing first (the suite's order within an outcome)."""
    rows = [
        CheckRow(
            id=check.id,
            purpose=check.purpose,
            category=check.category,
            outcome=str(check.outcome),
            remedy=None if check.outcome == "passed" else check_remedy(check.id),
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
                for case in sorted(check.cases, key=lambda c: rank(str(c.outcome)))
            ),
        )
        for check in compat.checks
    ]
    return tuple(sorted(rows, key=lambda r: rank(r.outcome)))


STAGE_LABELS = {"compat": "runtime"}


def stage_rows(stages: tuple[StageStatus, ...]) -> tuple[StageRow, ...]:
    return tuple(
        StageRow(s.stage, STAGE_LABELS.get(s.stage, s.stage), s.status, s.document) for s in stages
    )
