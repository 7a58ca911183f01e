"""Fold buf's findings into the descriptor diff: one change per schema element keeps every
buf rule id that fired on it. buf's findings are listed, never judged: which of them appear
depends on the user's buf.yaml, so they never change the toolkit's own wire and JSON ratings.
A finding no change explains becomes a `buf_finding` change of its own (rated compatible).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.documents.schema import Change
from toolkit.schema.buf import BufFinding
from toolkit.schema.elements import SchemaIndex
from toolkit.schema.kinds import change_of_kind

QUOTED = re.compile(r'"([^"]+)"')


def _mentions(change: Change, names: set[str]) -> bool:
    candidates = {change.element.rpartition(".")[2], change.before or "", change.after or ""}
    return bool(candidates & names)


def _unexplained(finding: BufFinding, index: SchemaIndex, label: str) -> Change:
    at_line = index.by_line.get((finding.file, finding.line), [])
    element = at_line[-1] if at_line else finding.file
    known = index.elements.get(element)
    change = change_of_kind(
        "buf_finding",
        change_id=f"{element}:buf:{finding.rule}",
        baseline=label,
        element=element,
        message=known.message if known else None,
        file=finding.file or None,
        line=finding.line or None,
    )
    return dataclasses.replace(
        change, buf_rules=(finding.rule,), buf_messages=(finding.message,), remedy=finding.message
    )


@dataclass(frozen=True)
class _Positions:
    """Indices of the diff's changes by where they are and what they name, so each finding is
    matched in time independent of the number of changes (folding changes neither)."""

    at: dict[tuple[str | None, int | None], list[int]]
    element: dict[str, list[int]]
    after: dict[str, list[int]]
    message: dict[str, list[int]]

    @staticmethod
    def of(changes: Sequence[Change]) -> _Positions:
        found = _Positions({}, {}, {}, {})
        for i, change in enumerate(changes):
            found.at.setdefault((change.file, change.line), []).append(i)
            if change.kind == "buf_finding":
                continue
            found.element.setdefault(change.element, []).append(i)
            if change.after:
                found.after.setdefault(change.after, []).append(i)
            if change.message is not None:
                found.message.setdefault(change.message, []).append(i)
        return found


def _indices(table: dict[str, list[int]], keys: set[str]) -> list[int]:
    """The changes under any of `keys`, in the diff's order."""
    return sorted({i for key in keys for i in table.get(key, ())})


def _related(finding: BufFinding, positions: _Positions, index: SchemaIndex) -> list[int]:
    """Changes that explain a finding at a line no change starts at: the element there, its
    message, or the type the field there holds (a renamed message or enum)."""
    at_line = index.by_line.get((finding.file, finding.line), [])
    if not at_line:
        return []
    element = at_line[-1]
    known = index.elements.get(element)
    held = {
        str(getattr(known.proto, attribute, "") or "").lstrip(".")
        for attribute in ("type_name", "input_type", "output_type")
        if known is not None
    } - {""}
    parent = known.parent if known else None
    for found in (
        positions.element.get(element, []),
        sorted({*_indices(positions.element, held), *_indices(positions.after, held)}),
        _indices(positions.message, {element} | ({parent} if parent is not None else set())),
    ):
        if found:
            return found
    return []


def fold_buf_findings(
    changes: Sequence[Change], findings: Sequence[BufFinding], index: SchemaIndex, label: str
) -> list[Change]:
    folded = list(changes)
    positions = _Positions.of(folded)
    extra: dict[str, Change] = {}
    for finding in findings:
        at = positions.at.get((finding.file, finding.line), [])
        named = set(QUOTED.findall(finding.message))
        precise = [i for i in at if _mentions(folded[i], named)]
        targets = precise or at or _related(finding, positions, index)
        if not targets:
            change = _unexplained(finding, index, label)
            if change.id in extra:
                previous = extra[change.id]
                change = dataclasses.replace(
                    previous, buf_messages=(*previous.buf_messages, finding.message)
                )
            extra[change.id] = change
            continue
        for i in targets:
            change = folded[i]
            rules = change.buf_rules + (
                (finding.rule,) if finding.rule not in change.buf_rules else ()
            )
            folded[i] = dataclasses.replace(
                change,
                buf_rules=rules,
                buf_messages=(*change.buf_messages, finding.message),
            )
    return folded + list(extra.values())
