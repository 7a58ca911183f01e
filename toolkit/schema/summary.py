"""What `engram-compat check` prints: a short summary for people (verdict first, findings
grouped by message) and GitHub workflow annotations, both built only from the report records.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path

from toolkit.annotations import Annotation
from toolkit.documents.schema import Change, SchemaReport
from toolkit.errors import ToolkitError
from toolkit.junit import JunitCase, JunitSuite, write_junit
from toolkit.schema.kinds import KINDS

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
        lines.append(
            f"wire replay {direction}: {_count(len(results), 'message')} ({tally or 'none'})"
        )
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
        lines.append(f"buf lint: {_count(len(report.lint), 'finding')}")
        lines.extend(f"    {f.file}:{f.line}:{f.column} {f.rule}" for f in report.lint)
    return "\n".join(lines)


def _in_repository(schema_root: str, file: str) -> str:
    return f"{schema_root.rstrip('/')}/{file}" if schema_root else file


def _sentence(change: Change) -> str:
    """A change as a person reads it: what it is, what it breaks, what to do."""
    found = KINDS.get(change.kind)
    purpose = found.purpose if found else change.kind
    text = f"{change.element}: {purpose}; {_compat(change)}"
    if change.buf_rules:
        text += f" (buf {', '.join(change.buf_rules)})"
    return text + (f". Remedy: {change.remedy}" if change.remedy else "")


def _gone(change: Change) -> bool:
    found = KINDS.get(change.kind)
    return found is not None and found.aspect == "removed"


def change_annotation(
    change: Change, schema_root: str, baseline_roots: Mapping[str, str] | None = None
) -> Annotation:
    """A breaking change as a GitHub error: at its declaration in the current schema (file,
    line and the declaration's columns, where known); an element that is gone points into
    the baseline file when that file is part of the checkout (`baseline_roots`: a baseline
    label -> its folder in the repository), else at its nearest surviving enclosing element,
    the sentence naming where it was declared."""
    text = _sentence(change)
    title = f"{change.kind} ({change.baseline})"
    was = change.before_source if _gone(change) else None
    baseline_root = (baseline_roots or {}).get(change.baseline)
    if was is not None and baseline_root is not None:
        return Annotation(
            "error",
            text,
            title=title,
            file=_in_repository(baseline_root, was.file),
            line=was.line,
            column=was.column,
            end_line=was.end_line,
            end_column=was.end_column,
        )
    if was is not None:
        text += f" (it was declared at {was.file}:{was.line} in the baseline {change.baseline})"
    return Annotation(
        "error",
        text,
        title=title,
        file=_in_repository(schema_root, change.file) if change.file else None,
        line=change.line,
        column=change.column,
        end_line=change.end_line,
        end_column=change.end_column,
    )


def schema_annotations(
    report: SchemaReport, schema_root: str, baseline_roots: Mapping[str, str] | None = None
) -> list[Annotation]:
    """One error per breaking, unaccepted change and per failed version policy, located where
    the report knows (the file relative to the repository, the line and columns of the element
    or of the version comment; `change_annotation` says where a removed element points)."""
    found = [
        change_annotation(change, schema_root, baseline_roots)
        for change in report.changes
        if change.breaking and change.accepted is None
    ]
    for policy in report.version_policy:
        if policy.checked and not policy.satisfied:
            found.append(
                Annotation(
                    "error",
                    f"version policy: {policy.description}",
                    title=f"version policy ({policy.baseline})",
                    file=_in_repository(schema_root, policy.file) if policy.file else None,
                    line=policy.line,
                    column=policy.column,
                    end_line=policy.end_line,
                    end_column=policy.end_column,
                )
            )
    return found


def github_annotations(
    report: SchemaReport, schema_root: str, baseline_roots: Mapping[str, str] | None = None
) -> list[str]:
    """`::error` lines (toolkit.annotations, buf's github-actions format as model)."""
    found = schema_annotations(report, schema_root, baseline_roots)
    return [annotation.render() for annotation in found]


def junit_suites(report: SchemaReport) -> list[JunitSuite]:
    """The schema findings as JUnit, like buf's junit format: one suite per category of change
    (per baseline when there are several), one case per change, failing when it breaks the
    selected mode and is not accepted; the version policy as a suite of its own."""
    several = len(report.baselines) > 1
    grouped: dict[tuple[str, str], list[JunitCase]] = defaultdict(list)
    for change in report.changes:
        failed = change.breaking and change.accepted is None
        grouped[(change.baseline, change.category or "change")].append(
            JunitCase(
                name=f"{change.element}: {change.kind.replace('_', ' ')}",
                outcome="failed" if failed else "passed",
                message=_sentence(change) if failed else "",
                detail=(
                    f"{_sentence(change)}\nchange id: {change.id}\n"
                    f"before: {change.before or '-'}; after: {change.after or '-'}"
                    + (f"\nat {change.file}:{change.line}" if change.file and change.line else "")
                )
                if failed
                else "",
            )
        )
    suites = [
        JunitSuite(id=f"{category}@{baseline}" if several else category, category=category,
                   cases=tuple(cases))
        for (baseline, category), cases in sorted(grouped.items())
    ]  # fmt: skip
    policy_cases = []
    for policy in report.version_policy:
        failed = policy.checked and not policy.satisfied
        policy_cases.append(
            JunitCase(
                name=f"version against {policy.baseline}",
                outcome="failed" if failed else ("passed" if policy.checked else "skipped"),
                message=policy.description if (failed or not policy.checked) else "",
                detail=policy.description
                + (f"\nat {policy.file}:{policy.line}" if policy.file and policy.line else ""),
            )
        )
    if policy_cases:
        suites.append(JunitSuite("version_policy", "version", tuple(policy_cases)))
    if not report.changes:
        suites.append(
            JunitSuite(
                "schema", "schema",
                tuple(JunitCase(f"no changes against {b.source}", "passed")
                      for b in report.baselines),
            )
        )  # fmt: skip
    return suites


def write_schema_junit(report: SchemaReport, path: Path) -> Path:
    try:
        write_junit(path, junit_suites(report), "engram-compat schema check")
    except OSError as exc:
        raise ToolkitError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def _count(n: int, noun: str) -> str:
    """`1 message`, `3 messages`."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
