"""Fold buf's findings into the descriptor diff: one change per schema element keeps every
buf rule id that fired on it. A finding no change explains becomes a change of its own, so
the toolkit never calls compatible what buf calls breaking.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from toolkit.documents.schema import Change
from toolkit.schema.buf import BufFinding
from toolkit.schema.elements import SchemaIndex

QUOTED = re.compile(r'"([^"]+)"')


def _mentions(change: Change, names: set[str]) -> bool:
    candidates = {change.element.rpartition(".")[2], change.before or "", change.after or ""}
    return bool(candidates & names)


def _unexplained(finding: BufFinding, index: SchemaIndex, label: str) -> Change:
    at_line = index.by_line.get((finding.file, finding.line), [])
    element = at_line[-1] if at_line else finding.file
    known = index.elements.get(element)
    return Change(
        id=f"{element}:buf:{finding.rule}",
        baseline=label,
        kind="buf_finding",
        element=element,
        message=known.message if known else None,
        file=finding.file or None,
        line=finding.line or None,
        wire="breaking",
        json="breaking",
        source="breaking",
        breaking=True,
        buf_rules=(finding.rule,),
        buf_messages=(finding.message,),
        before=None,
        after=None,
        accepted=None,
    )


def fold_buf_findings(
    changes: Sequence[Change], findings: Sequence[BufFinding], index: SchemaIndex, label: str
) -> list[Change]:
    folded = list(changes)
    extra: dict[str, Change] = {}
    for finding in findings:
        at = [i for i, c in enumerate(folded) if (c.file, c.line) == (finding.file, finding.line)]
        named = set(QUOTED.findall(finding.message))
        precise = [i for i in at if _mentions(folded[i], named)]
        targets = precise or at
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
                breaking=True,
            )
    return folded + list(extra.values())
