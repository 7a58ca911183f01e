"""Gather the facts of a results document into the small context the templates render.

Nothing here builds a sentence: values are ids, names, counts and raw tool messages; the
templates turn them into prose.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from toolkit.contract import HAZARD_SERVERS_FIRST, SPACE_FIELD, SPACE_HEADER
from toolkit.report.verdict import Verdict, judge

BAD_REPLAY = frozenset({"PARSE_ERROR", "LOST", "CHANGED", "MISROUTED"})
# The Markdown report must fit a pull-request comment (65,536 characters): it shows the failed
# cases of a check (up to this many) or one sample case, and cuts long evidence values. The
# HTML report and results.json keep everything.
MARKDOWN_CASE_LIMIT = 10
MARKDOWN_VALUE_LIMIT = 240
CLIENTS = ("legacy", "new")
SERVERS = ("legacy", "current")
# Rollout findings that mean "old servers ignore the new field": from the schema stage's
# reverse replay and from the compat suite's matrix.
SERVERS_FIRST = frozenset({HAZARD_SERVERS_FIRST})
# Changes to a whole message are listed with services and RPCs, not under the message.
WHOLE_ELEMENT_KINDS = frozenset({"message_added", "message_removed"})


@dataclass(frozen=True)
class Source:
    source: str
    version: str


@dataclass(frozen=True)
class VersionPolicy:
    baseline: str
    baseline_version: str
    declared: str
    required_bump: str
    minimum_version: str
    satisfied: bool


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
class LintFinding:
    rule: str
    location: str
    message: str


@dataclass(frozen=True)
class Acceptance:
    id: str
    reason: str
    expires: str | None
    status: str


@dataclass(frozen=True)
class ReplayField:
    field: str
    outcome: str
    detail: str


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
class MatrixCell:
    client: str
    server: str
    expected: str
    observed: str
    passed: bool


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
class ChecklistItem:
    """One thing to do; `kind` selects the sentence, `items` and `value` fill it."""

    kind: str
    items: tuple[str, ...] = ()
    value: str | None = None


@dataclass(frozen=True)
class Command:
    purpose: str  # whole | check | replay | report | rerender
    argv: str


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: float | None


@dataclass(frozen=True)
class ReportContext:
    verdict: Verdict
    generated_by: str
    baseline_version: str
    current_version: str
    schema_present: bool
    compat_present: bool
    current: Source | None
    baselines: tuple[Source, ...]
    version_policy: tuple[VersionPolicy, ...]
    change_groups: tuple[ChangeGroup, ...]
    several_baselines: bool
    lint: tuple[LintFinding, ...]
    acceptances: tuple[Acceptance, ...]
    replay: tuple[ReplayRow, ...]
    matrix: tuple[tuple[MatrixCell | None, ...], ...]
    matrix_clients: tuple[str, ...]
    matrix_servers: tuple[str, ...]
    rollout: tuple[RolloutStep, ...]
    checks: tuple[CheckRow, ...]
    failing_checks: tuple[str, ...]
    markdown_case_limit: int
    markdown_value_limit: int
    target: str | None
    started_server: bool | None
    operator_checklist: tuple[ChecklistItem, ...]
    client_checklist: tuple[ChecklistItem, ...]
    commands: tuple[Command, ...]
    environment: tuple[tuple[str, str], ...]
    stage_timings: tuple[Timing, ...]
    check_timings: tuple[Timing, ...]


def _location(file: str | None, line: int | None) -> str | None:
    if file is None:
        return None
    return f"{file}:{line}" if line is not None else file


def _change_row(change: dict[str, Any]) -> ChangeRow:
    accepted = change["accepted"]
    return ChangeRow(
        id=change["id"],
        kind=change["kind"],
        before=change["before"],
        after=change["after"],
        wire=change["wire"],
        json=change["json"],
        source=change["source"],
        breaking=change["breaking"],
        accepted_reason=accepted["reason"] if accepted else None,
        accepted_expires=accepted["expires"] if accepted else None,
    )


def _element(element: str, message: str | None, changes: list[dict[str, Any]]) -> ElementFinding:
    rows = tuple(_change_row(c) for c in sorted(changes, key=lambda c: c["id"]))
    if any(row.breaking and row.accepted_reason is None for row in rows):
        status = "breaking"
    elif any(row.breaking for row in rows):
        status = "accepted"
    else:
        status = "compatible"
    first = min(changes, key=lambda c: c["id"])
    return ElementFinding(
        element=element,
        name=element.removeprefix(f"{message}.") if message else element,
        location=_location(first["file"], first["line"]),
        changes=rows,
        buf_rules=tuple(sorted({rule for c in changes for rule in c["buf_rules"]})),
        buf_messages=tuple(sorted({text for c in changes for text in c["buf_messages"]})),
        status=status,
    )


def _change_groups(schema: dict[str, Any]) -> tuple[ChangeGroup, ...]:
    by_group: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for change in schema["changes"]:
        message = "" if change["kind"] in WHOLE_ELEMENT_KINDS else change["message"] or ""
        by_group[(change["baseline"], message)][change["element"]].append(change)
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


def _replay(schema: dict[str, Any]) -> tuple[ReplayRow, ...]:
    order = {"old_to_new": 0, "new_to_old": 1}
    rows = [
        ReplayRow(
            baseline=row["baseline"],
            direction=row["direction"],
            message=row["message"],
            outcome=row["outcome"],
            samples=row["samples"],
            bad=row["outcome"] in BAD_REPLAY,
            fields=tuple(
                ReplayField(f["field"], f["outcome"], f["detail"])
                for f in row["fields"]
                if f["outcome"] != "IDENTICAL"
            ),
        )
        for row in schema["replay"]
    ]
    return tuple(sorted(rows, key=lambda r: (r.baseline, order[r.direction], r.message)))


def _matrix(compat: dict[str, Any] | None) -> tuple[tuple[MatrixCell | None, ...], ...]:
    cells = {
        (c["client"], c["server"]): MatrixCell(
            c["client"], c["server"], c["expected"], c["observed"], c["passed"]
        )
        for c in (compat["matrix"] if compat else [])
    }
    return tuple(tuple(cells.get((client, server)) for server in SERVERS) for client in CLIENTS)


def _rollout(
    schema: dict[str, Any] | None, compat: dict[str, Any] | None
) -> tuple[RolloutStep, ...]:
    hazards = schema["hazards"] if schema else []
    rules = compat["rollout"] if compat else []
    first = [h for h in hazards if h["id"] in SERVERS_FIRST]
    first_rules = [r for r in rules if r["id"] in SERVERS_FIRST]
    steps = []
    if first or first_rules:
        ids = tuple(sorted({h["id"] for h in first} | {r["id"] for r in first_rules}))
        fields = tuple(sorted({f for h in first for f in h["fields"]}))
        checks = tuple(sorted({r["reason_check"] for r in first_rules}))
        steps.append(RolloutStep("servers_first", ids, fields, checks))
        steps.append(RolloutStep("clients_after", (), fields, ()))
    steps += [
        RolloutStep("other", (h["id"],), tuple(sorted(h["fields"])), ())
        for h in sorted(hazards, key=lambda h: str(h["id"]))
        if h["id"] not in SERVERS_FIRST
    ]
    steps += [
        RolloutStep("other", (r["id"],), (), (r["reason_check"],))
        for r in sorted(rules, key=lambda r: str(r["id"]))
        if r["id"] not in SERVERS_FIRST
    ]
    return tuple(steps)


def _evidence_value(value: Any) -> str:
    if isinstance(value, str) and value:
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _checks(compat: dict[str, Any]) -> tuple[CheckRow, ...]:
    return tuple(
        CheckRow(
            id=check["id"],
            purpose=check["purpose"],
            category=check["category"],
            outcome=check["outcome"],
            cases=tuple(
                CaseRow(
                    name=case["name"],
                    outcome=case["outcome"],
                    expected=case["expected"],
                    observed=case["observed"],
                    evidence=tuple(
                        Evidence(key, _evidence_value(value))
                        for key, value in sorted(case["evidence"].items())
                    ),
                )
                for case in check["cases"]
            ),
        )
        for check in compat["checks"]
    )


def space_messages(schema: dict[str, Any] | None) -> tuple[str, ...]:
    """Messages that gained `memory_space_id` (the requests client teams must now fill in)."""
    if schema is None:
        return ()
    return tuple(
        sorted(
            {
                change["message"]
                for change in schema["changes"]
                if change["kind"] == "field_added"
                and change["element"].endswith(f".{SPACE_FIELD}")
                and change["message"]
            }
        )
    )


def default_space(compat: dict[str, Any] | None) -> str | None:
    """The default space the server routed legacy requests to, as the compat suite saw it."""
    for check in compat["checks"] if compat else []:
        if check["id"] != "ROUTE_DEFAULT_LEGACY":
            continue
        for case in check["cases"]:
            for key in ("default_space", SPACE_HEADER, "resolved_space"):
                value = case["evidence"].get(key)
                if case["outcome"] == "passed" and isinstance(value, str) and value:
                    return value
    return None


def passed_checks(compat: dict[str, Any] | None) -> frozenset[str]:
    return frozenset(
        c["id"] for c in (compat["checks"] if compat else []) if c["outcome"] == "passed"
    )


def _operator_checklist(
    results: dict[str, Any], verdict: Verdict, rollout: tuple[RolloutStep, ...]
) -> tuple[ChecklistItem, ...]:
    schema, compat = results["schema"], results["compat"]
    passed = passed_checks(compat)
    items: list[ChecklistItem] = []
    if verdict.breaking:
        items.append(ChecklistItem("do_not_release", tuple(r.kind for r in verdict.reasons)))
    for part in verdict.missing_parts:
        items.append(ChecklistItem("rerun_stage", value=part))
    if rollout:
        items.append(
            ChecklistItem(
                "upgrade_servers_first",
                tuple(i for s in rollout for i in s.ids),
                value=results["versions"]["current"],
            )
        )
    if "ROUTE_DEFAULT_LEGACY" in passed:
        items.append(ChecklistItem("keep_default_space", value=default_space(compat)))
    if "ERR_UNKNOWN_SPACE" in passed:
        items.append(ChecklistItem("create_spaces_first"))
    if "DEPRECATION_WARNING" in passed:
        items.append(ChecklistItem("watch_deprecations"))
    if schema is not None:
        for acceptance in schema["acceptances"]:
            if acceptance["status"] in ("unused", "expired"):
                items.append(
                    ChecklistItem(f"acceptance_{acceptance['status']}", (acceptance["id"],))
                )
            elif acceptance["expires"]:
                items.append(
                    ChecklistItem("acceptance_expires", (acceptance["id"],), acceptance["expires"])
                )
    return tuple(items)


def _client_checklist(results: dict[str, Any], verdict: Verdict) -> tuple[ChecklistItem, ...]:
    schema = results["schema"]
    current = results["versions"]["current"]
    items: list[ChecklistItem] = []
    if verdict.breaking:
        items.append(ChecklistItem("wait_for_fix", value=current))
        return tuple(items)
    items.append(ChecklistItem("regenerate_stubs", value=current))
    messages = space_messages(schema)
    if messages:
        items.append(ChecklistItem("set_space", messages))
    if verdict.label != "SAFE" and messages:
        items.append(ChecklistItem("wait_for_servers", value=current))
    for change in schema["changes"] if schema else []:
        if change["accepted"] is not None and change["source"] == "breaking":
            items.append(
                ChecklistItem(
                    "update_code", (change["element"],), change["after"] or change["kind"]
                )
            )
    return tuple(items)


def _commands(results: dict[str, Any]) -> tuple[Command, ...]:
    schema, compat = results["schema"], results["compat"]
    check = ["engram-compat", "check"]
    if schema is not None:
        for baseline in schema["baselines"]:
            check += ["--baseline", baseline["source"]]
        check += ["--current", schema["current"]["source"]]
    check += ["--json", "reports/schema.json"]
    replay = ["engram-compat", "replay", "--reports", "reports"]
    if compat is not None and compat["target"]:
        replay += ["--target", compat["target"]]
    return (
        Command("whole", "nox"),
        Command("check", " ".join(check)),
        Command("replay", " ".join(replay)),
        Command("report", "engram-compat report --out reports"),
        Command("rerender", "engram-compat report --results reports/results.json --out reports"),
    )


def build_context(results: dict[str, Any]) -> ReportContext:
    schema, compat = results["schema"], results["compat"]
    verdict = judge(results)
    rollout = _rollout(schema, compat)
    checks = _checks(compat) if compat else ()
    timings = results["timings"]
    environment = results["environment"]
    return ReportContext(
        verdict=verdict,
        generated_by=results["generated_by"],
        baseline_version=results["versions"]["baseline"],
        current_version=results["versions"]["current"],
        schema_present=schema is not None,
        compat_present=compat is not None,
        current=Source(**schema["current"]) if schema else None,
        baselines=tuple(Source(**b) for b in schema["baselines"]) if schema else (),
        version_policy=tuple(VersionPolicy(**p) for p in schema["version_policy"])
        if schema
        else (),
        change_groups=_change_groups(schema) if schema else (),
        several_baselines=bool(schema) and len(schema["baselines"]) > 1,
        lint=tuple(
            LintFinding(f["rule"], f"{f['file']}:{f['line']}:{f['column']}", f["message"])
            for f in (schema["lint"] if schema else [])
        ),
        acceptances=tuple(Acceptance(**a) for a in schema["acceptances"]) if schema else (),
        replay=_replay(schema) if schema else (),
        matrix=_matrix(compat),
        matrix_clients=CLIENTS,
        matrix_servers=SERVERS,
        rollout=rollout,
        checks=checks,
        failing_checks=tuple(c.id for c in checks if c.outcome == "failed"),
        markdown_case_limit=MARKDOWN_CASE_LIMIT,
        markdown_value_limit=MARKDOWN_VALUE_LIMIT,
        target=compat["target"] if compat else None,
        started_server=compat["started_server"] if compat else None,
        operator_checklist=_operator_checklist(results, verdict, rollout),
        client_checklist=_client_checklist(results, verdict),
        commands=_commands(results),
        environment=tuple(
            (key, "—" if environment[key] is None else str(environment[key]))
            for key in ("python", "grpcio", "protobuf", "buf", "git_commit", "git_branch")
        ),
        stage_timings=(
            Timing("schema", timings["schema"] if schema else None),
            Timing("compat", timings["compat"] if compat else None),
            Timing("report", timings["report"]),
        ),
        check_timings=tuple(
            Timing(c["id"], c["duration_s"]) for c in (compat["checks"] if compat else [])
        ),
    )
