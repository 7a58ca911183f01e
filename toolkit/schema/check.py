"""The `check` stage: judge a current schema against one or more released baselines.

The steps run in the order they are listed in `check`, each taking the previous results:
load (compile, cached) → buf lint → per baseline: diff, buf breaking, wire replay → accept →
version policy → verdict. The result is a `SchemaReport`; printing is someone else's job.
"""

from __future__ import annotations

import datetime
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from toolkit.schema import buf
from toolkit.schema.accept import AcceptanceEntry, apply_acceptances, read_acceptances
from toolkit.schema.diff import Names, diff_schemas
from toolkit.schema.elements import SchemaIndex, build_index
from toolkit.schema.findings import (
    Change,
    Hazard,
    LintFinding,
    ReplayResult,
    SchemaReport,
    SourceInfo,
    Verdict,
    VersionPolicy,
)
from toolkit.schema.fold import fold_buf_findings
from toolkit.schema.policy import version_policy
from toolkit.schema.replay import ReplayRun, replay
from toolkit.schema.sources import (
    LoadedSchema,
    SchemaSourceError,
    load_all,
    locate_schema_source,
)


@dataclass(frozen=True)
class CheckOptions:
    project_root: Path
    baselines: tuple[str, ...]
    current: str
    accept: Path | None
    cache_dir: Path
    today: datetime.date


@dataclass(frozen=True)
class BaselineFindings:
    """Everything found against one baseline, before acceptances."""

    schema: LoadedSchema
    changes: tuple[Change, ...]
    replay: ReplayRun


def _lint(run: buf.BufRun) -> tuple[LintFinding, ...]:
    return tuple(LintFinding(f.rule, f.file, f.line, f.column, f.message) for f in buf.collect(run))


def _field_type(element: str, indexes: Sequence[SchemaIndex]) -> str | None:
    for index in indexes:
        found = index.elements.get(element)
        type_name = getattr(found.proto, "type_name", "") if found else ""
        if type_name:
            return str(type_name).lstrip(".")
    return None


def _covered(
    element: str, changes: Sequence[Change], names: Names, indexes: Sequence[SchemaIndex]
) -> bool:
    """Whether a breaking change already explains a replay outcome on `element`: one on the
    field, its message, or the message or enum type the field holds."""
    message = element.rpartition(".")[0]
    held = _field_type(element, indexes)
    for change in changes:
        if not change.breaking:
            continue
        where = {change.element, names.current(change.element)}
        if change.message is not None:
            where |= {change.message, names.current(change.message)}
        if where & {element, message}:
            return True
        if held and any(w == held or w.startswith(held + ".") for w in where):
            return True
    return False


def _replay_changes(
    run: ReplayRun,
    changes: Sequence[Change],
    indexes: tuple[SchemaIndex, SchemaIndex],
    names: Names,
    label: str,
) -> list[Change]:
    """A breaking replay outcome no diff change explains becomes a change of its own."""
    extra = []
    index = indexes[0]
    for element in sorted(run.breaking_elements):
        if _covered(element, changes, names, indexes):
            continue
        located = index.elements.get(element) or index.elements.get(element.rpartition(".")[0])
        extra.append(
            Change(
                id=f"{element}:replay",
                baseline=label,
                kind="wire_replay",
                element=element,
                message=element.rpartition(".")[0],
                file=located.file if located else None,
                line=located.line if located else None,
                wire="breaking",
                json="compatible",
                source="compatible",
                breaking=True,
                buf_rules=(),
                buf_messages=(),
                before=None,
                after=None,
                accepted=None,
            )
        )
    return extra


def judge_baseline(
    baseline: LoadedSchema,
    current: LoadedSchema,
    current_index: SchemaIndex,
    breaking_run: buf.BufRun,
) -> BaselineFindings:
    """Diff and replay while `buf breaking` (already started) runs; then fold its findings."""
    label = baseline.label
    baseline_index = build_index(baseline.files)
    changes = diff_schemas(baseline_index, current_index, label)
    names = Names(
        tuple(
            sorted(
                (baseline_index.packages[f], current_index.packages[f])
                for f in baseline_index.packages.keys() & current_index.packages.keys()
                if baseline_index.packages[f] != current_index.packages[f]
            )
        )
    )
    try:
        run = replay(baseline.schema, current.schema, names, label)
    except RecursionError as exc:
        raise SchemaSourceError(f"baseline {label}: messages nest too deeply to replay") from exc
    changes = fold_buf_findings(changes, buf.collect(breaking_run), current_index, label)
    changes += _replay_changes(run, changes, (current_index, baseline_index), names, label)
    return BaselineFindings(baseline, tuple(changes), run)


def _merge_hazards(runs: Sequence[ReplayRun]) -> tuple[Hazard, ...]:
    fields: dict[str, set[str]] = {}
    for run in runs:
        for hazard in run.hazards:
            fields.setdefault(hazard.id, set()).update(hazard.fields)
    return tuple(Hazard(key, tuple(sorted(value))) for key, value in sorted(fields.items()))


def decide(changes: Sequence[Change], policies: Sequence[VersionPolicy]) -> Verdict:
    broken = any(c.breaking and c.accepted is None for c in changes)
    return "incompatible" if broken or not all(p.satisfied for p in policies) else "compatible"


def check(options: CheckOptions) -> SchemaReport:
    started = time.perf_counter()
    options.cache_dir.mkdir(parents=True, exist_ok=True)
    entries: list[AcceptanceEntry] = read_acceptances(options.accept) if options.accept else []
    with tempfile.TemporaryDirectory(prefix="check-", dir=options.cache_dir) as tmp:
        located = [
            locate_schema_source(spec, project_root=options.project_root, workdir=Path(tmp))
            for spec in (options.current, *options.baselines)
        ]
        module_root = located[0].path
        if located[0].kind == "image":
            raise SchemaSourceError(f"current schema {options.current}: must be a folder")
        # buf runs in the background while the toolkit compiles and judges; collected last.
        runs = [buf.start_lint(module_root, options.cache_dir)]
        try:
            runs += [
                buf.start_breaking(module_root, b.path, options.cache_dir) for b in located[1:]
            ]
            current, *baselines = load_all(located, options.cache_dir)
            current_index = build_index(current.files)
            try:
                judged = [
                    judge_baseline(b, current, current_index, run)
                    for b, run in zip(baselines, runs[1:], strict=True)
                ]
            except buf.BufError:
                _lint(runs[0])  # a broken buf config is reported as lint's failure first
                raise
            lint = _lint(runs[0])
        finally:
            for run in runs:
                buf.stop(run)
    changes, acceptances = apply_acceptances(
        [c for j in judged for c in j.changes], entries, options.today
    )
    policies = tuple(
        version_policy(
            j.schema.label,
            [c for c in changes if c.baseline == j.schema.label],
            j.schema.files,
            current.files,
            j.schema.version,
            current.version,
        )
        for j in judged
    )
    replays: tuple[ReplayResult, ...] = tuple(r for j in judged for r in j.replay.results)
    return SchemaReport(
        duration_s=round(time.perf_counter() - started, 3),
        verdict=decide(changes, policies),
        current=SourceInfo(current.label, str(current.version)),
        baselines=tuple(SourceInfo(j.schema.label, str(j.schema.version)) for j in judged),
        version_policy=policies,
        lint=lint,
        changes=tuple(changes),
        replay=replays,
        hazards=_merge_hazards([j.replay for j in judged]),
        acceptances=tuple(acceptances),
    )


def display_root(spec: str, project_root: Path) -> str:
    """The current schema's folder as a path relative to the repository, for annotations."""
    if spec.startswith("git:"):
        _, _, inner = spec[4:].partition(":")
        return inner.strip("/") or "proto"
    path = Path(spec)
    if not path.is_absolute():
        path = project_root / path
    try:
        return path.resolve().relative_to(project_root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
