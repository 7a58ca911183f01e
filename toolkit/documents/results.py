"""The record of `reports/results.json`: every stage of one run and the one verdict of the run.

Written by the report stage's merge; it is the only input of rendering. Each stage appears as
its own document (or `null` when it wrote none) and as a `StageStatus` row, in pipeline order.
`rehearsal` is the rolling-upgrade rehearsal (`nox -s rehearse`), not part of the default run:
`null` and `not_run` when it wrote no document, which never makes the run INCOMPLETE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from toolkit.documents.base import Document
from toolkit.documents.compat import CompatResults
from toolkit.documents.drift import DriftDocument
from toolkit.documents.lint import LintDocument
from toolkit.documents.rehearsal import RehearsalDocument
from toolkit.documents.schema import SchemaReport

RESULTS_VERSION = 2
RESULTS_KIND = "engram-compat/results"

RunVerdict = Literal["SAFE", "SAFE_WITH_ROLLOUT_ORDER", "BREAKING", "INCOMPLETE"]
StageName = Literal["drift", "lint", "schema", "compat", "rehearsal"]
# passed: it ran and found nothing wrong; failed: it ran and found a problem; partial: it ran,
# found nothing broken, but did not verify everything (a runtime check that was partial or did
# not run, a rehearsal that disagrees with the prediction); missing: a stage of the default run
# wrote no document (it crashed, or did not run); not_run: an optional stage that did not run.
StageState = Literal["passed", "failed", "partial", "missing", "not_run"]
# The stages of a run, in pipeline order; the optional ones may be missing without harm.
STAGES: tuple[StageName, ...] = ("drift", "lint", "schema", "compat")
OPTIONAL_STAGES: tuple[StageName, ...] = ("rehearsal",)


FailOn = Literal["breaking", "rollout"]


@dataclass(frozen=True)
class StageStatus:
    stage: StageName
    status: StageState
    document: str  # the file name under reports/


@dataclass(frozen=True)
class Environment:
    python: str
    grpcio: str
    protobuf: str
    buf: str
    git_commit: str | None
    git_branch: str | None


@dataclass(frozen=True)
class Versions:
    baseline: str
    current: str


@dataclass(frozen=True)
class Timings:
    drift: float
    lint: float
    schema: float
    compat: float
    report: float


@dataclass(frozen=True)
class ResultsDocument(Document):
    SCHEMA_NAME: ClassVar[str] = "results"
    KIND: ClassVar[str] = RESULTS_KIND
    SCHEMA_VERSION: ClassVar[int] = RESULTS_VERSION

    generated_by: str
    verdict: RunVerdict
    exit_code: int
    fail_on: FailOn  # breaking: only BREAKING/INCOMPLETE fail; rollout: a rollout order too
    stages: tuple[StageStatus, ...]
    drift: DriftDocument | None
    lint: LintDocument | None
    schema: SchemaReport | None
    compat: CompatResults | None
    rehearsal: RehearsalDocument | None
    environment: Environment
    versions: Versions
    timings: Timings

    def stage(self, name: str) -> StageStatus | None:
        return next((s for s in self.stages if s.stage == name), None)
