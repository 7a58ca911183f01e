"""The one verdict of a run, from its stage documents.

BREAKING when the schema is incompatible, the declared version is too low, a runtime check or
matrix cell failed or was partial, or the rehearsal broke an invariant (an acknowledged write lost,
seed data unreadable, writes misplaced in an order the schema check predicts safe). INCOMPLETE
when nothing is shown broken but a stage of the run failed (stale stubs, lint), wrote no document
(it crashed or did not run), a runtime check did not run, or the rehearsal's observed safe orders
disagree with the predicted ones: the migration is then not shown safe. SAFE WITH ROLLOUT ORDER
when safe, but old servers ignore the new field (servers go first). SAFE otherwise, and only when
every stage of the run wrote a document and passed. The rehearsal is optional: without its
document it is `not_run` and changes nothing.

Exit code: 0 for both safe verdicts; 1 when a stage found a problem; 2 when the only reason is a
missing stage document (nothing could be judged wrong, nor shown right).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from toolkit.documents.compat import CompatResults
from toolkit.documents.drift import DriftDocument
from toolkit.documents.lint import LintDocument
from toolkit.documents.rehearsal import RehearsalDocument, RehearsalRun
from toolkit.documents.results import (
    OPTIONAL_STAGES,
    STAGES,
    ResultsDocument,
    RunVerdict,
    StageState,
    StageStatus,
)
from toolkit.documents.schema import SchemaReport
from toolkit.errors import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE

SAFE = "SAFE"
SAFE_WITH_ROLLOUT_ORDER = "SAFE WITH ROLLOUT ORDER"
BREAKING = "BREAKING"
INCOMPLETE = "INCOMPLETE"
STAGE_FILES = {stage: f"{stage}.json" for stage in (*STAGES, *OPTIONAL_STAGES)}
PASSED = "passed"
NOT_RUN = "not_run"
# The rehearsal's order names, and the schema check's rollout names they are predicted by.
REHEARSAL_ROLLOUTS = {"servers-first": "servers_first", "clients-first": "clients_first"}


@dataclass(frozen=True)
class Reason:
    """One fact behind the verdict; `kind` selects the sentence in the templates."""

    kind: str  # drift_failed | lint_failed | part_missing | schema_incompatible
    # | version_too_low | checks_failed | checks_partial | checks_not_run | matrix_failed
    # | rehearsal_broken | rehearsal_disagrees | rollout_hazard | rollout_confirmed
    # | rollout_rule
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
    rehearsal: RehearsalDocument | None = None


def parts_of(results: ResultsDocument) -> Parts:
    return Parts(results.drift, results.lint, results.schema, results.compat, results.rehearsal)


def checks_with(compat: CompatResults | None, outcome: str) -> tuple[str, ...]:
    """The ids of the runtime checks with this outcome (`other`: neither passed, failed, nor
    not_run, e.g. partial), read defensively: anything not `passed` is not passed."""
    return tuple(c.id for c in (compat.checks if compat else ()) if str(c.outcome) == outcome)


def _partly(compat: CompatResults) -> bool:
    """Some check verified only part of its promise (by its outcome or the stage's verdict)."""
    return (compat.verdict == "partial" and not checks_with(compat, NOT_RUN)) or bool(
        checks_with(compat, "partial")
    )


def predicted_safe(schema: SchemaReport | None, run: RehearsalRun) -> bool | None:
    """Whether the schema check predicts this rehearsed order safe (every baseline agrees);
    None when it makes no claim: a random order (unless any order is safe), or no schema
    document of this run."""
    if schema is None or not schema.compatibility:
        return None
    if all("any" in b.safe_rollouts for b in schema.compatibility):
        return True
    rollout = REHEARSAL_ROLLOUTS.get(run.order)
    if rollout is None:
        return None
    return all(rollout in b.safe_rollouts for b in schema.compatibility)


def rehearsal_broken(schema: SchemaReport | None, rehearsal: RehearsalDocument) -> tuple[str, ...]:
    """The orders whose run broke an invariant: an acknowledged write lost, seed data unreadable
    without a rollback (after one, the unreadable writes are counted as rollback unsafe), or a
    misplaced write in an order the schema check predicts safe."""
    return tuple(
        run.order
        for run in rehearsal.runs
        if run.totals.lost
        or (run.rollback is None and run.seed_readable < run.seed_written)
        or (run.totals.misplaced and _expected_safe(schema, run))
    )


def _expected_safe(schema: SchemaReport | None, run: RehearsalRun) -> bool:
    """The prediction, or without a schema document the rehearsal's own expectation."""
    predicted = predicted_safe(schema, run)
    return run.expected_safe if predicted is None and schema is None else predicted is True


def rehearsal_disagreements(
    schema: SchemaReport | None, rehearsal: RehearsalDocument
) -> tuple[str, ...]:
    """The rehearsed orders whose observed safety differs from the schema check's prediction."""
    observed = set(rehearsal.observed_safe_orders)
    disagree = []
    for run in rehearsal.runs:
        predicted = predicted_safe(schema, run)
        if predicted is not None and (run.order in observed) != predicted:
            disagree.append(run.order)
    return tuple(disagree)


def _status(present: object, failed: bool, partial: bool = False) -> StageState:
    if present is None:
        return "missing"
    return "failed" if failed else "partial" if partial else "passed"


def stage_statuses(parts: Parts) -> tuple[StageStatus, ...]:
    """passed / failed / partial / missing for every stage of the run, in pipeline order, then
    the optional rehearsal (not_run without its document)."""
    compat = parts.compat
    compat_failed = compat is not None and (
        compat.verdict == "failed" or bool(checks_with(compat, "failed"))
    )
    compat_partial = compat is not None and any(str(c.outcome) != PASSED for c in compat.checks)
    statuses = {
        "drift": _status(parts.drift, parts.drift is not None and parts.drift.verdict == "failed"),
        "lint": _status(parts.lint, parts.lint is not None and parts.lint.verdict == "failed"),
        "schema": _status(
            parts.schema, parts.schema is not None and parts.schema.verdict == "incompatible"
        ),
        "compat": _status(compat, compat_failed, compat_partial),
    }
    rows = [StageStatus(stage, statuses[stage], STAGE_FILES[stage]) for stage in STAGES]
    rehearsal = parts.rehearsal
    if rehearsal is None:
        rehearsal_status: StageState = "not_run"
    else:
        rehearsal_status = _status(
            rehearsal,
            bool(rehearsal_broken(parts.schema, rehearsal)),
            bool(rehearsal_disagreements(parts.schema, rehearsal)),
        )
    rows.append(StageStatus("rehearsal", rehearsal_status, STAGE_FILES["rehearsal"]))
    return tuple(rows)


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
    # (A check that did not run is its own reason, `checks_not_run`.)
    if compat is not None and _partly(compat) and not compat.allow_partial:
        found.append(Reason("checks_partial", checks_with(compat, "partial")))
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
        failed = checks_with(compat, "failed")
        if failed or compat.verdict == "failed":
            found.append(Reason("checks_failed", failed))
        cells = tuple(f"{cell.client}->{cell.server}" for cell in compat.matrix if not cell.passed)
        if cells:
            found.append(Reason("matrix_failed", cells))
    return found


def _rehearsal_findings(
    schema: SchemaReport | None, rehearsal: RehearsalDocument | None
) -> tuple[list[Reason], list[Reason]]:
    """(problems, doubts): invariants the rehearsal saw broken; orders it disagrees on."""
    if rehearsal is None:
        return [], []
    broken = rehearsal_broken(schema, rehearsal)
    disagree = tuple(o for o in rehearsal_disagreements(schema, rehearsal) if o not in broken)
    return (
        [Reason("rehearsal_broken", broken)] if broken else [],
        [Reason("rehearsal_disagrees", disagree)] if disagree else [],
    )


def _rollout(schema: SchemaReport | None, compat: CompatResults | None) -> list[Reason]:
    """The rollout findings; a rule of the matrix that names a hazard the schema check already
    found confirms it (`rollout_confirmed`, no ids: the verdict names each id once)."""
    found: list[Reason] = []
    hazards = tuple(sorted({h.id for h in schema.hazards})) if schema else ()
    rules = tuple(sorted({r.id for r in compat.rollout})) if compat else ()
    if hazards:
        found.append(Reason("rollout_hazard", hazards))
    if set(rules) & set(hazards):
        found.append(Reason("rollout_confirmed", ()))
    other_rules = tuple(r for r in rules if r not in hazards)
    if other_rules:
        found.append(Reason("rollout_rule", other_rules))
    return found


def judge_parts(parts: Parts, fail_on: str = "breaking") -> Verdict:
    statuses: Sequence[StageStatus] = stage_statuses(parts)
    missing = tuple(s.stage for s in statuses if s.status == "missing")
    stage_failures = _stage_failures(parts)
    failed_stages = tuple(
        "compat" if r.kind == "checks_partial" else r.kind.removesuffix("_failed")
        for r in stage_failures
    )
    rehearsal_problems, doubts = _rehearsal_findings(parts.schema, parts.rehearsal)
    problems = [*_problems(parts.schema, parts.compat), *rehearsal_problems]
    not_run = checks_with(parts.compat, NOT_RUN)
    if not_run:
        doubts.insert(0, Reason("checks_not_run", not_run))
    # The failed stage comes first, so the report's first line names it and its fix.
    reasons = [*stage_failures, *([Reason("part_missing", missing)] if missing else []), *doubts]
    if problems:
        return Verdict(
            BREAKING, "breaking", tuple(reasons + problems), missing, failed_stages, EXIT_FAILED
        )
    if reasons:
        code = EXIT_FAILED if stage_failures or doubts else EXIT_UNUSABLE
        return Verdict(INCOMPLETE, "incomplete", tuple(reasons), missing, failed_stages, code)
    rollout = _rollout(parts.schema, parts.compat)
    allowed: tuple[Reason, ...] = ()
    if parts.compat is not None and parts.compat.allow_partial and _partly(parts.compat):
        # Allowed, and said: the verdict names what was only partly verified.
        allowed = (Reason("checks_partial_allowed", checks_with(parts.compat, "partial")),)
    if rollout:
        # A pipeline that accepts only SAFE (`--fail-on rollout`) fails here, and says why.
        refused = (Reason("rollout_refused", ()),) if fail_on == "rollout" else ()
        return Verdict(
            SAFE_WITH_ROLLOUT_ORDER,
            "safe-with-rollout-order",
            (*rollout, *allowed, *refused),
            (),
            (),
            EXIT_FAILED if refused else EXIT_OK,
        )
    return Verdict(SAFE, "safe", allowed, (), (), EXIT_OK)


def judge(results: ResultsDocument) -> Verdict:
    return judge_parts(parts_of(results), results.fail_on)
