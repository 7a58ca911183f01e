"""Gather the view rows, checklists and facts of a results document into the template context."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.documents.compat import MatrixCell
from toolkit.documents.results import ResultsDocument
from toolkit.documents.schema import AcceptanceUse, SourceInfo, VersionPolicy
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
    stage_rows,
)
from toolkit.report.verdict import Verdict, judge

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
class ReportContext:
    verdict: Verdict
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


def build_context(results: ResultsDocument) -> ReportContext:
    schema, compat = results.schema, results.compat
    verdict = judge(results)
    rollout = rollout_steps(schema, compat)
    checks = check_rows(compat) if compat else ()
    timings = results.timings
    environment = results.environment
    return ReportContext(
        verdict=verdict,
        generated_by=results.generated_by,
        baseline_version=results.versions.baseline,
        current_version=results.versions.current,
        stages=stage_rows(results.stages),
        schema_present=schema is not None,
        compat_present=compat is not None,
        current=schema.current if schema else None,
        baselines=schema.baselines if schema else (),
        version_policy=schema.version_policy if schema else (),
        change_groups=change_groups(schema) if schema else (),
        several_baselines=schema is not None and len(schema.baselines) > 1,
        lint=lint_rows(schema.lint) if schema else (),
        acceptances=schema.acceptances if schema else (),
        replay=replay_rows(schema) if schema else (),
        matrix=matrix_rows(compat),
        matrix_clients=CLIENTS,
        matrix_servers=SERVERS,
        rollout=rollout,
        checks=checks,
        failing_checks=tuple(c.id for c in checks if c.outcome == "failed"),
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
            Timing("report", timings.report),
        ),
        check_timings=tuple(Timing(c.id, c.duration_s) for c in (compat.checks if compat else ())),
    )
