"""The `check` stage: judge a current schema against one or more released baselines.

The steps run in the order they are listed in `check`, each taking the previous results:
load (compile, cached) → buf lint → per baseline: diff, buf breaking, wire replay → accept →
rollout orders and per-direction compatibility → version policy → verdict (by `--compat`
mode). buf's findings are listed, never judged: the ratings come from the toolkit's own rule
table and replay. The result is a `SchemaReport`; printing is someone else's job.
"""

from __future__ import annotations

import dataclasses
import datetime
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from toolkit.data import SHIPPED_PREFIX
from toolkit.documents.schema import (
    BaselineCompatibility,
    Change,
    CompatMode,
    Hazard,
    LintFinding,
    ReplayResult,
    SchemaReport,
    SourceInfo,
    Verdict,
    VersionPolicy,
)
from toolkit.schema import buf
from toolkit.schema.accept import AcceptanceEntry, apply_acceptances, read_acceptances
from toolkit.schema.cache import ensure_cache_dir
from toolkit.schema.diff import Names, diff_schemas, schema_names, with_span
from toolkit.schema.elements import SchemaIndex, build_index, span_of
from toolkit.schema.fold import fold_buf_findings
from toolkit.schema.kinds import change_of_kind
from toolkit.schema.policy import version_policy
from toolkit.schema.replay import ReplayRun, replay
from toolkit.schema.rollout import (
    baseline_compatibility,
    breaks_mode,
    message_roles,
    mode_holds,
    rollout_hazards,
)
from toolkit.schema.sources import (
    LoadedSchema,
    SchemaSourceError,
    load_all,
    locate_schema_source,
)
from toolkit.schema.version import VersionDeclaration

# Replay outcomes that mean data written by one side is not what the other side reads.
BAD_OUTCOMES = frozenset({"MISROUTED", "PARSE_ERROR", "CHANGED", "LOST"})
BUF_FAILED = "BUF_FAILED"


@dataclass(frozen=True)
class CheckOptions:
    project_root: Path
    baselines: tuple[str, ...]
    current: str
    accept: Path | None
    cache_dir: Path
    today: datetime.date
    mode: CompatMode = "rpc"
    wire_only: bool = False
    current_version: Version | None = None
    baseline_version: Version | None = None


@dataclass(frozen=True)
class BaselineFindings:
    """Everything found against one baseline, before acceptances."""

    schema: LoadedSchema
    changes: tuple[Change, ...]
    replay: ReplayRun
    names: Names
    roles: dict[str, frozenset[str]]
    problems: tuple[LintFinding, ...] = ()  # buf breaking could not run: listed, not judged


def _buf_problem(exc: buf.BufError) -> LintFinding:
    return LintFinding(BUF_FAILED, "", 0, 0, str(exc))


def _lint(run: buf.BufRun) -> tuple[LintFinding, ...]:
    """buf lint's findings; buf failing on the user's configuration (an unknown rule, a
    plugin that is not installed) is a finding too, never a reason to stop."""
    try:
        return tuple(buf.collect(run))
    except buf.BufError as exc:
        return (_buf_problem(exc),)


def _field_type(element: str, indexes: Sequence[SchemaIndex]) -> str | None:
    for index in indexes:
        found = index.elements.get(element)
        type_name = getattr(found.proto, "type_name", "") if found else ""
        if type_name:
            return str(type_name).lstrip(".")
    return None


def _dotted_prefixes(name: str) -> Iterator[str]:
    """`name` and every name it is nested in (`a.b.c`, `a.b`, `a`)."""
    while name:
        yield name
        name = name.rpartition(".")[0]


@dataclass(frozen=True)
class _Explained:
    """Where the changes breaking on the wire in one direction are (their elements and
    messages, in both schemas' names), with every enclosing name, looked up in O(1)."""

    where: frozenset[str]
    within: frozenset[str]  # every name of `where` and every name it is nested in

    @staticmethod
    def of(changes: Sequence[Change], names: Names, direction: str) -> _Explained:
        where: set[str] = set()
        for change in changes:
            rating = change.backward if direction == "old_to_new" else change.forward
            if rating.wire != "breaking":
                continue
            where |= {change.element, names.current(change.element)}
            if change.message is not None:
                where |= {change.message, names.current(change.message)}
        within = {prefix for name in where for prefix in _dotted_prefixes(name)}
        return _Explained(frozenset(where), frozenset(within))


def _covered(element: str, explained: _Explained, indexes: Sequence[SchemaIndex]) -> bool:
    """Whether a change breaking on the wire in that direction already explains a replay
    outcome on `element`: one on the field, its message, or the type the field holds."""
    message = element.rpartition(".")[0]
    if element in explained.where or message in explained.where:
        return True
    held = _field_type(element, indexes)
    return bool(held) and held in explained.within


def _bad_by_message(run: ReplayRun) -> dict[str, set[str]]:
    """Message -> the directions in which its replay was bad."""
    found: dict[str, set[str]] = {}
    for result in run.results:
        if result.outcome in BAD_OUTCOMES:
            found.setdefault(result.message, set()).add(result.direction)
    return found


def _bad_directions(bad: dict[str, set[str]], element: str) -> set[str]:
    message = element.rpartition(".")[0]
    found = bad.get(element, set()) | bad.get(message, set())
    return found or {"old_to_new", "new_to_old"}


def _replay_changes(
    run: ReplayRun,
    changes: Sequence[Change],
    indexes: tuple[SchemaIndex, SchemaIndex],
    names: Names,
    label: str,
) -> list[Change]:
    """A breaking replay outcome no diff change explains becomes a change of its own, in the
    direction the replay saw it."""
    extra = []
    index = indexes[0]
    bad = _bad_by_message(run)
    explained = {d: _Explained.of(changes, names, d) for d in ("old_to_new", "new_to_old")}
    for element in sorted(run.breaking_elements):
        located = index.elements.get(element) or index.elements.get(element.rpartition(".")[0])
        for direction in sorted(_bad_directions(bad, element)):
            if _covered(element, explained[direction], indexes):
                continue
            backward = direction == "old_to_new"
            change = change_of_kind(
                "wire_replay_backward" if backward else "wire_replay_forward",
                change_id=f"{element}:replay" + ("" if backward else ":forward"),
                baseline=label,
                element=element,
                message=element.rpartition(".")[0],
                file=located.file if located else None,
                line=located.line if located else None,
            )
            extra.append(with_span(change, span_of(located.span) if located else None))
    return extra


def judge_baseline(
    baseline: LoadedSchema,
    current: LoadedSchema,
    current_index: SchemaIndex,
    breaking_run: buf.BufRun,
) -> BaselineFindings:
    """Diff and replay while `buf breaking` (already started) runs; then fold its findings."""
    label = baseline.label
    # Changes are located in the current schema; the baseline's lines show the declarations
    # of changes that may break (nearly every real migration has one), read in this one walk.
    baseline_index = build_index(baseline.files)
    roots = (baseline.module_root, current.module_root)
    names = schema_names(baseline_index, current_index)
    changes = diff_schemas(
        baseline_index, current_index, label, baseline.files, current.files, roots, names
    )
    try:
        run = replay(baseline.schema, current.schema, names, label)
    except RecursionError as exc:
        raise SchemaSourceError(f"baseline {label}: messages nest too deeply to replay") from exc
    problems: tuple[LintFinding, ...] = ()
    try:
        findings = buf.collect(breaking_run)
    except buf.BufError as exc:  # the user's buf configuration: listed, never a reason to stop
        findings, problems = [], (_buf_problem(exc),)
    changes = fold_buf_findings(changes, findings, current_index, label)
    changes += _replay_changes(run, changes, (current_index, baseline_index), names, label)
    roles = message_roles(baseline_index, current_index, names)
    return BaselineFindings(baseline, tuple(changes), run, names, roles, problems)


def _merge_hazards(runs: Sequence[ReplayRun], extra: Sequence[Hazard]) -> tuple[Hazard, ...]:
    fields: dict[str, set[str]] = {}
    for hazard in [h for run in runs for h in run.hazards] + list(extra):
        fields.setdefault(hazard.id, set()).update(hazard.fields)
    return tuple(Hazard(key, tuple(sorted(value))) for key, value in sorted(fields.items()))


def decide(
    results: Sequence[BaselineCompatibility],
    policies: Sequence[VersionPolicy],
    mode: CompatMode = "rpc",
    wire_only: bool = False,
) -> Verdict:
    """Compatible when the selected mode holds against every baseline and every checked
    version policy is satisfied (an unchecked policy does not change the verdict)."""
    holds = all(mode_holds(r, mode, wire_only) for r in results)
    return "compatible" if holds and all(p.satisfied for p in policies) else "incompatible"


def _judged_by_mode(
    changes: Sequence[Change],
    judged: Sequence[BaselineFindings],
    results: Sequence[BaselineCompatibility],
    options: CheckOptions,
) -> list[Change]:
    """`breaking` is relative to the selected mode: a change the mode cannot take."""
    by_label = {j.schema.label: (j, r) for j, r in zip(judged, results, strict=True)}
    marked = []
    for change in changes:
        found, result = by_label[change.baseline]
        breaking = breaks_mode(
            change, result, found.roles, found.names, options.mode, options.wire_only
        )
        marked.append(dataclasses.replace(change, breaking=breaking))
    return marked


def _declaration(loaded: LoadedSchema, override: Version | None) -> VersionDeclaration | None:
    if override is not None:
        return VersionDeclaration(override, None, None)
    return loaded.declaration


def check(options: CheckOptions) -> SchemaReport:
    started = time.perf_counter()
    ensure_cache_dir(options.cache_dir)
    entries: list[AcceptanceEntry] = read_acceptances(options.accept) if options.accept else []
    if options.baseline_version is not None and len(options.baselines) != 1:
        raise SchemaSourceError("--baseline-version needs exactly one --baseline")
    with tempfile.TemporaryDirectory(prefix="check-", dir=options.cache_dir) as tmp:
        located = [
            locate_schema_source(spec, project_root=options.project_root, workdir=Path(tmp))
            for spec in (options.current, *options.baselines)
        ]
        module_root = located[0].path
        if located[0].kind == "image":
            raise SchemaSourceError(f"current schema {options.current}: must be a folder")
        # buf runs in the background while the toolkit compiles and judges; collected last.
        plan = buf.start_plan(
            module_root,
            [(b.path, b.kind == "image") for b in located[1:]],
            options.cache_dir,
            Path(tmp),
        )
        try:
            current, *baselines = load_all(located, options.cache_dir)
            current_index = build_index(current.files)
            judged = [
                judge_baseline(b, current, current_index, run)
                for b, run in zip(baselines, plan.breaking, strict=True)
            ]
            lint = _lint(plan.lint)
        finally:
            plan.stop()
    changes, acceptances = apply_acceptances(
        [c for j in judged for c in j.changes], entries, options.today
    )
    results = tuple(
        baseline_compatibility(
            j.schema.label,
            [c for c in changes if c.baseline == j.schema.label],
            j.roles,
            j.names,
            wire_only=options.wire_only,
        )
        for j in judged
    )
    changes = _judged_by_mode(changes, judged, results, options)
    declared = _declaration(current, options.current_version)
    policies = tuple(
        version_policy(
            j.schema.label,
            [c for c in changes if c.baseline == j.schema.label],
            j.schema.files,
            current.files,
            (_declaration(j.schema, options.baseline_version) or _NO_VERSION).version,
            declared,
            compatible=mode_holds(result, options.mode, options.wire_only),
        )
        for j, result in zip(judged, results, strict=True)
    )
    replays: tuple[ReplayResult, ...] = tuple(r for j in judged for r in j.replay.results)
    return SchemaReport(
        duration_s=round(time.perf_counter() - started, 3),
        verdict=decide(results, policies, options.mode, options.wire_only),
        current=SourceInfo(current.label, _version_text(declared)),
        baselines=tuple(
            SourceInfo(
                j.schema.label, _version_text(_declaration(j.schema, options.baseline_version))
            )
            for j in judged
        ),
        version_policy=policies,
        lint=lint + tuple(p for j in judged for p in j.problems),
        changes=tuple(changes),
        replay=replays,
        hazards=_merge_hazards(
            [j.replay for j in judged],
            rollout_hazards(
                results,
                changes,
                {j.schema.label: j.roles for j in judged},
                {j.schema.label: j.names for j in judged},
                options.wire_only,
            ),
        ),
        acceptances=tuple(acceptances),
        mode=options.mode,
        wire_only=options.wire_only,
        compatibility=results,
    )


class _NoVersion:
    version = None


_NO_VERSION = _NoVersion()


def _version_text(declaration: VersionDeclaration | None) -> str:
    return str(declaration.version) if declaration else "unversioned"


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


def checkout_folder(spec: str, project_root: Path) -> str | None:
    """A baseline's folder relative to the repository when its files are part of the checkout
    (a folder inside the project), so an annotation may point into them; None for a git ref,
    an image, the shipped baseline or a folder elsewhere."""
    if spec.startswith(("git:", SHIPPED_PREFIX)):
        return None
    path = Path(spec) if Path(spec).is_absolute() else project_root / spec
    if not path.is_dir():
        return None
    try:
        return path.resolve().relative_to(project_root.resolve()).as_posix()
    except ValueError:
        return None
