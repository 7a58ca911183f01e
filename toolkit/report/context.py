"""Gather the view rows, checklists and facts of a results document into the template context."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.documents.compat import MatrixCell
from toolkit.documents.rehearsal import Counts, RehearsalDocument, RollbackRecord
from toolkit.documents.results import ResultsDocument
from toolkit.documents.schema import (
    AcceptanceUse,
    BaselineCompatibility,
    SchemaReport,
    SourceInfo,
    VersionPolicy,
)
from toolkit.report.charts import BarChart, Timeline, bar_chart, counted, timeline
from toolkit.report.checklists import (
    ChecklistItem,
    Command,
    client_checklist,
    commands,
    operator_checklist,
)
from toolkit.report.rows import (
    CLIENTS,
    SERVERS,
    ChangeGroup,
    CheckRow,
    ElementFinding,
    LintRow,
    ReplayRow,
    RolloutStep,
    StageRow,
    change_groups,
    check_rows,
    lint_rows,
    matrix_rows,
    replay_rows,
    rollout_steps,
    slug,
    stage_rows,
)
from toolkit.report.verdict import (
    Verdict,
    judge,
    parts_of,
    predicted_safe,
    rehearsal_broken,
    stage_statuses,
)

# The Markdown report must fit a pull-request comment (65,536 characters): it shows the failed
# cases of a check (up to this many) or one sample case, and cuts long evidence values. The
# HTML report and results.json keep everything.
MARKDOWN_CASE_LIMIT = 10
MARKDOWN_VALUE_LIMIT = 240


@dataclass(frozen=True)
class Timing:
    name: str
    seconds: float | None


@dataclass(frozen=True)
class GlanceItem:
    """One failing thing on the first screen; `kind` selects the sentence, `remedy` the fix."""

    kind: str  # change | version | replay | check | matrix | rehearsal
    name: str
    anchor: str
    outcome: str
    remedy: str | None
    detail: str | None = None


@dataclass(frozen=True)
class RehearsalRow:
    order: str
    predicted_safe: bool | None  # None: the schema check makes no claim for this order
    observed_safe: bool
    broken: bool  # an invariant broke (a lost write, unreadable seed data, a misplaced write
    # in an order predicted safe)
    totals: Counts
    seed_written: int
    seed_readable: int
    rollback: RollbackRecord | None
    hazard: str | None
    wall_s: float

    @property
    def agrees(self) -> bool:
        return self.predicted_safe is None or self.predicted_safe == self.observed_safe


@dataclass(frozen=True)
class RehearsalView:
    servers: int
    seed: int
    duration_s: float
    rollback: bool
    rows: tuple[RehearsalRow, ...]
    timelines: tuple[Timeline, ...]
    observed_safe_orders: tuple[str, ...]


@dataclass(frozen=True)
class ReportContext:
    verdict: Verdict
    glance: tuple[GlanceItem, ...]
    charts: tuple[BarChart, ...]
    compatibility: tuple[BaselineCompatibility, ...]
    rehearsal: RehearsalView | None
    compatible_elements: int
    identical_replay: int
    generated_by: str
    baseline_version: str
    current_version: str
    stages: tuple[StageRow, ...]
    schema_present: bool
    compat_present: bool
    current: SourceInfo | None
    baselines: tuple[SourceInfo, ...]
    version_policy: tuple[VersionPolicy, ...]
    change_groups: tuple[ChangeGroup, ...]
    several_baselines: bool
    lint: tuple[LintRow, ...]
    acceptances: tuple[AcceptanceUse, ...]
    replay: tuple[ReplayRow, ...]
    matrix: tuple[tuple[MatrixCell | None, ...], ...]
    matrix_clients: tuple[str, ...]
    matrix_servers: tuple[str, ...]
    rollout: tuple[RolloutStep, ...]
    checks: tuple[CheckRow, ...]
    failing_checks: tuple[str, ...]
    markdown_case_limit: int
    markdown_value_limit: int
    target: str | None
    started_server: bool | None
    operator_checklist: tuple[ChecklistItem, ...]
    client_checklist: tuple[ChecklistItem, ...]
    commands: tuple[Command, ...]
    environment: tuple[tuple[str, str], ...]
    stage_timings: tuple[Timing, ...]
    check_timings: tuple[Timing, ...]


def _glance(
    groups: tuple[ChangeGroup, ...],
    schema: SchemaReport | None,
    replay: tuple[ReplayRow, ...],
    checks: tuple[CheckRow, ...],
    matrix: tuple[MatrixCell, ...],
    rehearsal: RehearsalView | None,
) -> tuple[GlanceItem, ...]:
    """Everything that fails, in the order a fix would go: schema, version, replay, runtime."""
    items: list[GlanceItem] = []
    for group in groups:
        for element in group.elements:
            for change in element.breaking_changes:
                items.append(
                    GlanceItem(
                        "change",
                        element.element,
                        f"change-{slug(element.element)}",
                        change.kind,
                        change.remedy,
                        change.id,
                    )
                )
    for policy in schema.version_policy if schema else ():
        if not policy.satisfied:
            items.append(
                GlanceItem(
                    "version",
                    policy.baseline,
                    "versions",
                    policy.required_bump,
                    policy.minimum_version,
                    policy.declared,
                )
            )
    for row in replay:
        if row.bad:
            items.append(
                GlanceItem("replay", row.message, "replay", row.outcome, None, row.direction)
            )
    for check in checks:
        if not check.passed:
            items.append(
                GlanceItem(
                    "check", check.id, f"check-{slug(check.id)}", check.outcome, check.remedy
                )
            )
    for cell in matrix:
        if not cell.passed:
            items.append(
                GlanceItem(
                    "matrix",
                    f"{cell.client}->{cell.server}",
                    "matrix",
                    cell.observed,
                    cell.expected,
                )
            )
    for run in rehearsal.rows if rehearsal else ():
        if run.broken or not run.agrees:
            items.append(
                GlanceItem(
                    "rehearsal",
                    run.order,
                    "rehearsal",
                    "broken" if run.broken else "disagrees",
                    run.rollback.remedy if run.rollback and run.rollback.unsafe else None,
                )
            )
    return tuple(items)


def _rehearsal(
    schema: SchemaReport | None, document: RehearsalDocument | None
) -> RehearsalView | None:
    if document is None:
        return None
    broken = set(rehearsal_broken(schema, document))
    observed = set(document.observed_safe_orders)
    rows = tuple(
        RehearsalRow(
            order=run.order,
            predicted_safe=predicted_safe(schema, run),
            observed_safe=run.order in observed,
            broken=run.order in broken,
            totals=run.totals,
            seed_written=run.seed_written,
            seed_readable=run.seed_readable,
            rollback=run.rollback,
            hazard=run.hazard,
            wall_s=run.wall_s,
        )
        for run in document.runs
    )
    return RehearsalView(
        servers=document.servers,
        seed=document.seed,
        duration_s=document.duration_s,
        rollback=document.rollback,
        rows=tuple(sorted(rows, key=lambda r: (not r.broken, r.agrees))),
        timelines=tuple(timeline(run) for run in document.runs),
        observed_safe_orders=document.observed_safe_orders,
    )


def _charts(
    elements: list[ElementFinding], replay: tuple[ReplayRow, ...], checks: tuple[CheckRow, ...]
) -> tuple[BarChart, ...]:
    charts = []
    if elements:
        statuses = counted((e.status for e in elements), ("breaking", "accepted", "compatible"))
        charts.append(
            bar_chart(
                "chart-changes",
                "schema elements by status",
                [(status, [(status, n)]) for status, n in statuses if n],
            )
        )
    if replay:
        names = {"old_to_new": "old → new", "new_to_old": "new → old"}
        rows = [
            (
                names.get(direction, direction),
                counted((r.outcome for r in replay if r.direction == direction), ("IDENTICAL",)),
            )
            for direction in dict.fromkeys(r.direction for r in replay)
        ]
        charts.append(bar_chart("chart-replay", "replayed messages by direction", rows))
    if checks:
        outcomes = counted((c.outcome for c in checks), ("failed", "partial", "not_run", "passed"))
        charts.append(
            bar_chart(
                "chart-checks",
                "runtime checks by outcome",
                [(outcome, [(outcome, n)]) for outcome, n in outcomes if n],
            )
        )
    return tuple(charts)


def build_context(results: ResultsDocument) -> ReportContext:
    schema, compat = results.schema, results.compat
    verdict = judge(results)
    rollout = rollout_steps(schema, compat)
    checks = check_rows(compat) if compat else ()
    timings = results.timings
    environment = results.environment
    groups = change_groups(schema) if schema else ()
    elements = [e for g in groups for e in g.elements]
    replay = replay_rows(schema) if schema else ()
    shown_replay = tuple(r for r in replay if r.outcome != "IDENTICAL")
    rehearsal = _rehearsal(schema, results.rehearsal)
    return ReportContext(
        verdict=verdict,
        glance=_glance(groups, schema, replay, checks, compat.matrix if compat else (), rehearsal),
        charts=_charts(elements, replay, checks),
        compatibility=schema.compatibility if schema else (),
        rehearsal=rehearsal,
        compatible_elements=sum(1 for e in elements if e.status == "compatible"),
        identical_replay=len(replay) - len(shown_replay),
        generated_by=results.generated_by,
        baseline_version=results.versions.baseline,
        current_version=results.versions.current,
        stages=stage_rows(stage_statuses(parts_of(results))),
        schema_present=schema is not None,
        compat_present=compat is not None,
        current=schema.current if schema else None,
        baselines=schema.baselines if schema else (),
        version_policy=schema.version_policy if schema else (),
        change_groups=groups,
        several_baselines=schema is not None and len(schema.baselines) > 1,
        lint=lint_rows(schema.lint) if schema else (),
        acceptances=schema.acceptances if schema else (),
        replay=shown_replay,
        matrix=matrix_rows(compat),
        matrix_clients=CLIENTS,
        matrix_servers=SERVERS,
        rollout=rollout,
        checks=checks,
        failing_checks=tuple(c.id for c in checks if not c.passed),
        markdown_case_limit=MARKDOWN_CASE_LIMIT,
        markdown_value_limit=MARKDOWN_VALUE_LIMIT,
        target=compat.target if compat else None,
        started_server=compat.started_server if compat else None,
        operator_checklist=operator_checklist(results, verdict, rollout),
        client_checklist=client_checklist(results, verdict),
        commands=commands(results),
        environment=tuple(
            (key, "—" if value is None else value)
            for key, value in (
                ("python", environment.python),
                ("grpcio", environment.grpcio),
                ("protobuf", environment.protobuf),
                ("buf", environment.buf),
                ("git_commit", environment.git_commit),
                ("git_branch", environment.git_branch),
            )
        ),
        stage_timings=(
            Timing("drift", timings.drift if results.drift else None),
            Timing("lint", timings.lint if results.lint else None),
            Timing("schema", timings.schema if schema else None),
            Timing("compat", timings.compat if compat else None),
            Timing(
                "rehearsal",
                sum(r.wall_s for r in results.rehearsal.runs) if results.rehearsal else None,
            ),
            Timing("report", timings.report),
        ),
        check_timings=tuple(Timing(c.id, c.duration_s) for c in (compat.checks if compat else ())),
    )
