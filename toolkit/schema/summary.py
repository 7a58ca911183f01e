"""What `engram-compat check` prints: a short summary for people (verdict first, findings
grouped by message) and GitHub workflow annotations, both built only from the report records.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from toolkit.documents.schema import Change, SchemaReport

# Outcomes that mean data written by one side is not what the other side reads.
BAD_OUTCOMES = ("MISROUTED", "PARSE_ERROR", "CHANGED", "LOST")


def _compat(change: Change) -> str:
    broken = [
        f"{direction} {encoding}"
        for direction in ("backward", "forward")
        for encoding in ("wire", "json")
        if getattr(getattr(change, direction), encoding) == "breaking"
    ]
    if change.source == "breaking":
        broken.append("source")
    return "breaks " + ", ".join(broken) if broken else "compatible"


def _change_line(change: Change) -> str:
    status = "ACCEPTED" if change.accepted else ("BREAKING" if change.breaking else "ok")
    shift = ""
    if change.before or change.after:
        shift = f" ({change.before or '-'} -> {change.after or '-'})"
    rules = f" [buf: {', '.join(change.buf_rules)}]" if change.buf_rules else ""
    line = f"    {status:<8} {change.id}: {change.kind}{shift}, {_compat(change)}{rules}"
    if change.breaking and change.accepted is None and change.remedy:
        line += f"\n             remedy: {change.remedy}"
    return line


def _yes(flag: bool) -> str:
    return "ok" if flag else "BREAKS"


def render_summary(report: SchemaReport) -> str:
    lines = [
        f"schema check: {report.verdict.upper()}: {report.current.source} "
        f"({report.current.version}) against "
        + ", ".join(f"{b.source} ({b.version})" for b in report.baselines)
    ]
    for per_baseline in report.compatibility:
        c = per_baseline.compatibility
        lines.append(
            f"compatibility with {per_baseline.baseline} (mode {report.mode}"
            + (", wire only" if report.wire_only else "")
            + f"): backward wire {_yes(c.backward.wire)}, json {_yes(c.backward.json)}; "
            f"forward wire {_yes(c.forward.wire)}, json {_yes(c.forward.json)}; safe rollouts: "
            + (", ".join(per_baseline.safe_rollouts) or "none")
        )
        for block in per_baseline.blocked:
            lines.append(f"    {block.rollout} is unsafe because of: {', '.join(block.elements)}")
    for policy in report.version_policy:
        if not policy.checked:
            lines.append(f"version: {policy.description}")
            continue
        state = "ok" if policy.satisfied else "TOO LOW"
        lines.append(
            f"version: {policy.declared or 'none'} declared; changes since {policy.baseline} "
            + (
                f"need no version bump (any version from {policy.minimum_version}): {state}"
                if policy.required_bump == "none"
                else f"need a {policy.required_bump} bump (at least {policy.minimum_version}): "
                f"{state}"
            )
        )
        if not policy.satisfied:
            where = f" ({policy.file}:{policy.line})" if policy.file and policy.line else ""
            lines.append(f"    {policy.description}{where}")
    breaking = [c for c in report.changes if c.breaking and c.accepted is None]
    lines.append(
        f"changes: {len(report.changes)}, breaking: {len(breaking)}, "
        f"accepted: {sum(1 for c in report.changes if c.accepted)}"
    )
    grouped: dict[str, list[Change]] = defaultdict(list)
    for change in report.changes:
        grouped[change.message or change.element].append(change)
    for group in sorted(grouped, key=lambda g: (not any(c.breaking for c in grouped[g]), g)):
        lines.append(f"  {group}")
        lines.extend(_change_line(c) for c in grouped[group])
    for direction in ("old_to_new", "new_to_old"):
        results = [r for r in report.replay if r.direction == direction]
        counts = Counter(r.outcome for r in results)
        tally = ", ".join(f"{outcome} {n}" for outcome, n in sorted(counts.items()))
        lines.append(f"wire replay {direction}: {len(results)} messages ({tally or 'none'})")
        for result in results:
            if result.outcome in BAD_OUTCOMES:
                worst = [f for f in result.fields if f.outcome == result.outcome]
                lines.append(
                    f"    {result.outcome:<11} {result.message}"
                    + (f".{worst[0].field}: {worst[0].detail}" if worst else "")
                )
    for hazard in report.hazards:
        lines.append(f"hazard {hazard.id}: {len(hazard.fields)} fields")
        lines.extend(f"    {field}" for field in hazard.fields)
    for use in report.acceptances:
        lines.append(f"acceptance {use.id}: {use.status}")
    if report.lint:
        lines.append(f"buf lint: {len(report.lint)} findings")
        lines.extend(f"    {f.file}:{f.line}:{f.column} {f.rule}" for f in report.lint)
    return "\n".join(lines)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(report: SchemaReport, schema_root: str) -> list[str]:
    """`::error` lines for breaking, unaccepted changes, paths relative to the repository."""
    lines = []
    for change in report.changes:
        if not change.breaking or change.accepted is not None:
            continue
        text = f"{change.id}: {change.kind}, {_compat(change)}"
        if change.buf_rules:
            text += f" (buf {', '.join(change.buf_rules)})"
        where = ""
        if change.file:
            path = f"{schema_root.rstrip('/')}/{change.file}" if schema_root else change.file
            where = f" file={_escape_property(path)}"
            if change.line:
                where += f",line={change.line}"
        lines.append(f"::error{where}::{_escape_data(text)}")
    for policy in report.version_policy:
        if policy.checked and not policy.satisfied:
            where = ""
            if policy.file:
                path = f"{schema_root.rstrip('/')}/{policy.file}" if schema_root else policy.file
                where = f" file={_escape_property(path)}"
                if policy.line:
                    where += f",line={policy.line}"
            lines.append(f"::error{where}::{_escape_data('version policy: ' + policy.description)}")
    return lines
