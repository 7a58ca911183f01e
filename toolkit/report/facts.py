"""Facts read off the stage documents that both the report and the changelog entry state."""

from __future__ import annotations

from toolkit.contract import SPACE_FIELD, SPACE_HEADER
from toolkit.documents.compat import CompatResults
from toolkit.documents.schema import SchemaReport

ROUTE_DEFAULT_CHECK = "ROUTE_DEFAULT_LEGACY"


def space_messages(schema: SchemaReport | None) -> tuple[str, ...]:
    """Messages that gained the space field (the requests client teams must now fill in)."""
    if schema is None:
        return ()
    return tuple(
        sorted(
            {
                change.message
                for change in schema.changes
                if change.kind == "field_added"
                and change.element.endswith(f".{SPACE_FIELD}")
                and change.message
            }
        )
    )


def default_space(compat: CompatResults | None) -> str | None:
    """The default space the server routed legacy requests to, as the compat suite saw it."""
    for check in compat.checks if compat else ():
        if check.id != ROUTE_DEFAULT_CHECK:
            continue
        for case in check.cases:
            for key in ("default_space", SPACE_HEADER, "resolved_space"):
                value = case.evidence.get(key)
                if case.outcome == "passed" and isinstance(value, str) and value:
                    return value
    return None


def passed_checks(compat: CompatResults | None) -> frozenset[str]:
    return frozenset(c.id for c in (compat.checks if compat else ()) if c.outcome == "passed")
