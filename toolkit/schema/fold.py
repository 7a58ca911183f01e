"""Fold buf's findings into the descriptor diff: one change per schema element keeps every
buf rule id that fired on it. buf's findings are listed, never judged: which of them appear
depends on the user's buf.yaml, so they never change the toolkit's own wire and JSON ratings.
A finding no change explains becomes a `buf_finding` change of its own (rated compatible).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

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


def _related(finding: BufFinding, changes: Sequence[Change], index: SchemaIndex) -> list[int]:
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
    for wanted in (
        lambda c: c.element == element,
        lambda c: bool(held & {c.element, c.after or ""}),
        lambda c: c.message is not None and c.message in (element, parent),
    ):
        found = [i for i, c in enumerate(changes) if c.kind != "buf_finding" and wanted(c)]
        if found:
            return found
    return []


def fold_buf_findings(
    changes: Sequence[Change], findings: Sequence[BufFinding], index: SchemaIndex, label: str
) -> list[Change]:
    folded = list(changes)
    extra: dict[str, Change] = {}
    for finding in findings:
        at = [i for i, c in enumerate(folded) if (c.file, c.line) == (finding.file, finding.line)]
        named = set(QUOTED.findall(finding.message))
        precise = [i for i in at if _mentions(folded[i], named)]
        targets = precise or at or _related(finding, folded, index)
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
