"""The one verdict of a run, from its stage documents.

BREAKING when the schema is incompatible, the declared version is too low, or a runtime check or
matrix cell failed. INCOMPLETE when nothing is shown broken but a stage of the run failed (stale
stubs, lint) or wrote no document (it crashed or did not run): the migration is then not shown
safe. SAFE WITH ROLLOUT ORDER when safe, but old servers ignore the new field (servers go first).
SAFE otherwise, and only when every stage of the run wrote a document and passed.

Exit code: 0 for both safe verdicts; 1 when a stage found a problem; 2 when the only reason is a
missing stage document (nothing could be judged wrong, nor shown right).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.documents.compat import CompatResults
from toolkit.documents.drift import DriftDocument
from toolkit.documents.lint import LintDocument
from toolkit.documents.results import STAGES, ResultsDocument, RunVerdict, StageStatus
from toolkit.documents.schema import SchemaReport
from toolkit.errors import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE

SAFE = "SAFE"
SAFE_WITH_ROLLOUT_ORDER = "SAFE WITH ROLLOUT ORDER"
BREAKING = "BREAKING"
INCOMPLETE = "INCOMPLETE"
STAGE_FILES = {stage: f"{stage}.json" for stage in (*STAGES, "rehearsal")}


@dataclass(frozen=True)
class Reason:
    """One fact behind the verdict; `kind` selects the sentence in the templates."""

    kind: str  # drift_failed | lint_failed | checks_partial | part_missing | schema_incompatible
    # | version_too_low | checks_failed | matrix_failed | rollout_hazard | rollout_rule
    items: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    label: str
    anchor: str
    reasons: tuple[Reason, ...]
    missing_parts: tuple[str, ...]
    failed_stages: tuple[str, ...]
    exit_code: int

    @property
    def breaking(self) -> bool:
        return self.label == BREAKING

    @property
    def safe(self) -> bool:
        return self.label in (SAFE, SAFE_WITH_ROLLOUT_ORDER)

    @property
    def code(self) -> RunVerdict:
        """The verdict as results.json spells it."""
        codes: dict[str, RunVerdict] = {
            SAFE: "SAFE",
            SAFE_WITH_ROLLOUT_ORDER: "SAFE_WITH_ROLLOUT_ORDER",
            BREAKING: "BREAKING",
            INCOMPLETE: "INCOMPLETE",
        }
        return codes[self.label]


@dataclass(frozen=True)
class Parts:
    """The stage documents of one run (None: the stage wrote none)."""

    drift: DriftDocument | None
    lint: LintDocument | None
    schema: SchemaReport | None
    compat: CompatResults | None


def parts_of(results: ResultsDocument) -> Parts:
    return Parts(results.drift, results.lint, results.schema, results.compat)


def stage_statuses(parts: Parts) -> tuple[StageStatus, ...]:
    """passed / failed / missing for every stage of the run, in pipeline order."""
    failed = {
        "drift": parts.drift is not None and parts.drift.verdict == "failed",
        "lint": parts.lint is not None and parts.lint.verdict == "failed",
        "schema": parts.schema is not None and parts.schema.verdict == "incompatible",
        "compat": parts.compat is not None and parts.compat.verdict == "failed",
    }
    present = {
        "drift": parts.drift,
        "lint": parts.lint,
        "schema": parts.schema,
        "compat": parts.compat,
    }
    return tuple(
        StageStatus(
            stage=stage,
            status="missing" if present[stage] is None else "failed" if failed[stage] else "passed",
            document=STAGE_FILES[stage],
        )
        for stage in STAGES
    )


def _unaccepted_breaking(schema: SchemaReport) -> tuple[str, ...]:
    return tuple(sorted({c.element for c in schema.changes if c.breaking and c.accepted is None}))


def _stage_failures(parts: Parts) -> list[Reason]:
    found: list[Reason] = []
    if parts.drift is not None and parts.drift.verdict == "failed":
        drift = parts.drift
        found.append(Reason("drift_failed", (*drift.changed, *drift.missing, *drift.unexpected)))
    if parts.lint is not None and parts.lint.verdict == "failed":
        tools = tuple(t.tool for t in parts.lint.tools if t.outcome != "passed")
        found.append(Reason("lint_failed", tools))
    # A partial runtime check verified only part of its promise: never SAFE unless allowed.
    compat = parts.compat
    if compat is not None and compat.verdict == "partial" and not compat.allow_partial:
        found.append(Reason("checks_partial", compat.partial_checks))
    return found


def _problems(schema: SchemaReport | None, compat: CompatResults | None) -> list[Reason]:
    found: list[Reason] = []
    if schema is not None:
        if schema.verdict == "incompatible":
            found.append(Reason("schema_incompatible", _unaccepted_breaking(schema)))
        too_low = tuple(
            f"{policy.declared}<{policy.minimum_version}"
            for policy in schema.version_policy
            if not policy.satisfied
        )
        if too_low:
            found.append(Reason("version_too_low", too_low))
    if compat is not None:
        failed = tuple(c.id for c in compat.checks if c.outcome == "failed")
        if failed or compat.verdict == "failed":
            found.append(Reason("checks_failed", failed))
        cells = tuple(f"{cell.client}->{cell.server}" for cell in compat.matrix if not cell.passed)
        if cells:
            found.append(Reason("matrix_failed", cells))
    return found


def _rollout(schema: SchemaReport | None, compat: CompatResults | None) -> list[Reason]:
    found: list[Reason] = []
    if schema is not None and schema.hazards:
        found.append(Reason("rollout_hazard", tuple(sorted(h.id for h in schema.hazards))))
    if compat is not None and compat.rollout:
        found.append(Reason("rollout_rule", tuple(sorted(r.id for r in compat.rollout))))
    return found


def judge_parts(parts: Parts) -> Verdict:
    statuses: Sequence[StageStatus] = stage_statuses(parts)
    missing = tuple(s.stage for s in statuses if s.status == "missing")
    stage_failures = _stage_failures(parts)
    failed_stages = tuple(
        "compat" if r.kind == "checks_partial" else r.kind.removesuffix("_failed")
        for r in stage_failures
    )
    problems = _problems(parts.schema, parts.compat)
    # The failed stage comes first, so the report's first line names it and its fix.
    reasons = [*stage_failures, *([Reason("part_missing", missing)] if missing else [])]
    if problems:
        return Verdict(
            BREAKING, "breaking", tuple(reasons + problems), missing, failed_stages, EXIT_FAILED
        )
    if reasons:
        code = EXIT_FAILED if stage_failures else EXIT_UNUSABLE
        return Verdict(INCOMPLETE, "incomplete", tuple(reasons), missing, failed_stages, code)
    rollout = _rollout(parts.schema, parts.compat)
    if rollout:
        return Verdict(
            SAFE_WITH_ROLLOUT_ORDER, "safe-with-rollout-order", tuple(rollout), (), (), EXIT_OK
        )
    return Verdict(SAFE, "safe", (), (), (), EXIT_OK)


def judge(results: ResultsDocument) -> Verdict:
    return judge_parts(parts_of(results))
