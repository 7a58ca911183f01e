"""The facts of the Keep a Changelog entry for the current schema version."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.contract import SPACE_FIELD
from toolkit.documents.results import ResultsDocument
from toolkit.documents.schema import Change, SchemaReport
from toolkit.report.facts import ROUTE_DEFAULT_CHECK, default_space, passed_checks, space_messages
from toolkit.report.verdict import judge

DEFAULT_REPORT_LINK = "reports/migration-report.md"


@dataclass(frozen=True)
class ChangeNote:
    element: str
    kind: str
    before: str | None
    after: str | None
    breaking: bool
    accepted_reason: str | None


@dataclass(frozen=True)
class ChangelogEntry:
    version: str
    date: str | None
    verdict: str
    breaking: bool
    space_messages: tuple[str, ...]
    default_space: str | None
    default_routing_verified: bool
    deprecation_verified: bool
    services_added: tuple[str, ...]
    rpcs_added: tuple[str, ...]
    messages_added: tuple[str, ...]
    fields_added: tuple[str, ...]
    other_added: tuple[ChangeNote, ...]
    changed: tuple[ChangeNote, ...]
    removed: tuple[ChangeNote, ...]
    servers_first: bool
    isolation_verified: bool
    unknown_space_not_found: bool
    report_link: str

    @property
    def has_changes(self) -> bool:
        return bool(self.space_messages or self.changed or self.removed or self.fields_added)


def _note(change: Change) -> ChangeNote:
    accepted = change.accepted
    return ChangeNote(
        element=change.element,
        kind=change.kind,
        before=change.before,
        after=change.after,
        breaking=change.breaking,
        accepted_reason=accepted.reason if accepted else None,
    )


def _servers_first_is_safe(schema: SchemaReport | None) -> bool:
    """The entry names the servers-first order only where the schema check finds it safe."""
    return schema is None or all(
        "servers_first" in b.safe_rollouts or "any" in b.safe_rollouts for b in schema.compatibility
    )


def _notes(changes: list[Change]) -> tuple[ChangeNote, ...]:
    """One note per distinct change: the same change against several baselines is one line."""
    return tuple(dict.fromkeys(_note(c) for c in changes))


def _elements(changes: list[Change], kind: str) -> tuple[str, ...]:
    return tuple(sorted({c.element for c in changes if c.kind == kind}))


def build_entry(
    results: ResultsDocument, *, date: str | None = None, report_link: str = DEFAULT_REPORT_LINK
) -> ChangelogEntry:
    schema, compat = results.schema, results.compat
    verdict = judge(results)
    changes: list[Change] = sorted(schema.changes if schema else (), key=lambda c: c.id)
    known_added = {"service_added", "rpc_added", "message_added", "field_added"}
    passed = passed_checks(compat)
    return ChangelogEntry(
        version=results.versions.current,
        date=date,
        verdict=verdict.label,
        breaking=not verdict.safe,
        space_messages=space_messages(schema),
        default_space=default_space(compat),
        default_routing_verified=ROUTE_DEFAULT_CHECK in passed,
        deprecation_verified="DEPRECATION_WARNING" in passed,
        services_added=_elements(changes, "service_added"),
        rpcs_added=_elements(changes, "rpc_added"),
        messages_added=_elements(changes, "message_added"),
        fields_added=tuple(
            e for e in _elements(changes, "field_added") if not e.endswith(f".{SPACE_FIELD}")
        ),
        other_added=_notes(
            [c for c in changes if c.kind.endswith("_added") and c.kind not in known_added]
        ),
        changed=_notes(
            [
                c
                for c in changes
                if not c.kind.endswith("_added") and not c.kind.endswith("_removed")
            ]
        ),
        removed=_notes([c for c in changes if c.kind.endswith("_removed")]),
        servers_first=(
            any(r.kind.startswith("rollout_") for r in verdict.reasons)
            or bool(schema and schema.hazards)
            or bool(compat and compat.rollout)
        )
        and _servers_first_is_safe(schema),
        isolation_verified={"ISOLATION_DATA", "STREAM_ISOLATION"} <= passed,
        unknown_space_not_found="ERR_UNKNOWN_SPACE" in passed,
        report_link=report_link,
    )
