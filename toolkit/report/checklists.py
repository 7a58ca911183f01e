"""The migration checklists (operators, client teams) and the commands that reproduce a run."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.documents.results import ResultsDocument
from toolkit.report.facts import default_space, passed_checks, space_messages
from toolkit.report.rows import RolloutStep
from toolkit.report.verdict import SAFE, Verdict


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


def operator_checklist(
    results: ResultsDocument, verdict: Verdict, rollout: tuple[RolloutStep, ...]
) -> tuple[ChecklistItem, ...]:
    schema, compat = results.schema, results.compat
    passed = passed_checks(compat)
    items: list[ChecklistItem] = []
    if not verdict.safe:
        items.append(ChecklistItem("do_not_release", tuple(r.kind for r in verdict.reasons)))
    for stage in verdict.failed_stages:
        items.append(ChecklistItem("fix_stage", value=stage))
    for part in verdict.missing_parts:
        items.append(ChecklistItem("rerun_stage", value=part))
    if rollout:
        items.append(
            ChecklistItem(
                "upgrade_servers_first",
                tuple(i for s in rollout for i in s.ids),
                value=results.versions.current,
            )
        )
    if "ROUTE_DEFAULT_LEGACY" in passed:
        items.append(ChecklistItem("keep_default_space", value=default_space(compat)))
    if "ERR_UNKNOWN_SPACE" in passed:
        items.append(ChecklistItem("create_spaces_first"))
    if "DEPRECATION_WARNING" in passed:
        items.append(ChecklistItem("watch_deprecations"))
    if schema is not None:
        for acceptance in schema.acceptances:
            if acceptance.status in ("unused", "expired"):
                items.append(ChecklistItem(f"acceptance_{acceptance.status}", (acceptance.id,)))
            elif acceptance.expires:
                items.append(
                    ChecklistItem("acceptance_expires", (acceptance.id,), acceptance.expires)
                )
    return tuple(items)


def client_checklist(results: ResultsDocument, verdict: Verdict) -> tuple[ChecklistItem, ...]:
    schema = results.schema
    current = results.versions.current
    items: list[ChecklistItem] = []
    if not verdict.safe:
        items.append(ChecklistItem("wait_for_fix", value=current))
        return tuple(items)
    items.append(ChecklistItem("regenerate_stubs", value=current))
    messages = space_messages(schema)
    if messages:
        items.append(ChecklistItem("set_space", messages))
    if verdict.label != SAFE and messages:
        items.append(ChecklistItem("wait_for_servers", value=current))
    for change in schema.changes if schema else ():
        if change.accepted is not None and change.source == "breaking":
            items.append(
                ChecklistItem("update_code", (change.element,), change.after or change.kind)
            )
    return tuple(items)


def commands(results: ResultsDocument) -> tuple[Command, ...]:
    schema, compat = results.schema, results.compat
    check = ["engram-compat", "check"]
    if schema is not None:
        for baseline in schema.baselines:
            check += ["--baseline", baseline.source]
        check += ["--current", schema.current.source]
    check += ["--json", "reports/schema.json"]
    runtime = ["engram-compat", "runtime", "--reports", "reports"]
    if compat is not None and compat.target:
        runtime += ["--target", compat.target]
    return (
        Command("whole", "nox"),
        Command("check", " ".join(check)),
        Command("runtime", " ".join(runtime)),
        Command("report", "engram-compat report --out reports"),
        Command("rerender", "engram-compat report --results reports/results.json --out reports"),
    )
