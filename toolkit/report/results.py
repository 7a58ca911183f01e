"""The results document: merge this run's stage documents, with the verdict of the run.

Every stage document is read through its typed definition in `toolkit.documents` (validated
against its packaged JSON Schema first); a stage that wrote nothing is `None` and makes the run
INCOMPLETE. The report stage reads nothing else: no descriptor sets, no other stage's code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from toolkit import __version__
from toolkit.documents.base import Document, DocumentError, dump_json, read_json, validate
from toolkit.documents.compat import CompatResults
from toolkit.documents.drift import DriftDocument
from toolkit.documents.lint import LintDocument
from toolkit.documents.rehearsal import RehearsalDocument
from toolkit.documents.results import Environment, FailOn, ResultsDocument, Timings, Versions
from toolkit.documents.schema import SchemaReport
from toolkit.report.verdict import STAGE_FILES, Parts, judge_parts, parts_of, stage_statuses

RESULTS_FILE = "results.json"
SCHEMA_FILE = STAGE_FILES["schema"]
COMPAT_FILE = STAGE_FILES["compat"]
DRIFT_FILE = STAGE_FILES["drift"]
LINT_FILE = STAGE_FILES["lint"]
REHEARSAL_FILE = STAGE_FILES["rehearsal"]
UNKNOWN_VERSION = "unknown"

ResultsError = DocumentError

__all__ = [
    "RESULTS_FILE",
    "ResultsError",
    "Timings",
    "Versions",
    "build_results",
    "dump_json",
    "read_json",
    "read_parts",
    "read_results",
    "validate_results",
]

D = TypeVar("D", bound=Document)


def validate_results(document: Any, label: str) -> None:
    """Raise ResultsError naming the first missing or wrong part of a results document."""
    validate("results", document, label)


def read_part(path: Path, kind: type[D]) -> D | None:
    """A stage document, or None when the stage wrote none (it crashed or did not run)."""
    if not path.exists():
        return None
    return kind.read(path)


def read_parts(out: Path) -> Parts:
    return Parts(
        drift=read_part(out / DRIFT_FILE, DriftDocument),
        lint=read_part(out / LINT_FILE, LintDocument),
        schema=read_part(out / SCHEMA_FILE, SchemaReport),
        compat=read_part(out / COMPAT_FILE, CompatResults),
        rehearsal=read_part(out / REHEARSAL_FILE, RehearsalDocument),
    )


def read_results(path: Path) -> ResultsDocument:
    """results.json, validated, typed, and checked: its verdict and exit code must be the ones
    its stage documents give, so the report, the summary and the exit code cannot disagree."""
    results = ResultsDocument.read(path)
    verdict = judge_parts(parts_of(results), results.fail_on)
    if (results.verdict, results.exit_code) != (verdict.code, verdict.exit_code):
        raise ResultsError(
            f"{path}: verdict {results.verdict} (exit {results.exit_code}) disagrees with its "
            f"stage documents, which give {verdict.code} (exit {verdict.exit_code})"
        )
    return results


def results_from_dict(document: Any, label: str = "results") -> ResultsDocument:
    return ResultsDocument.from_dict(document, label)


def versions_from(schema: SchemaReport | None) -> Versions:
    """The versions the schema stage found; unknown when it wrote nothing."""
    if schema is None:
        return Versions(baseline=UNKNOWN_VERSION, current=UNKNOWN_VERSION)
    baselines = ", ".join(b.version for b in schema.baselines) or UNKNOWN_VERSION
    return Versions(baseline=baselines, current=schema.current.version)


def build_results(
    parts: Parts, environment: Environment, report_s: float, fail_on: FailOn = "breaking"
) -> ResultsDocument:
    verdict = judge_parts(parts, fail_on)
    document = ResultsDocument(
        generated_by=f"engram-compat {__version__}",
        verdict=verdict.code,
        exit_code=verdict.exit_code,
        fail_on=fail_on,
        stages=stage_statuses(parts),
        drift=parts.drift,
        lint=parts.lint,
        schema=parts.schema,
        compat=parts.compat,
        rehearsal=parts.rehearsal,
        environment=environment,
        versions=versions_from(parts.schema),
        timings=Timings(
            drift=parts.drift.duration_s if parts.drift else 0.0,
            lint=parts.lint.duration_s if parts.lint else 0.0,
            schema=parts.schema.duration_s if parts.schema else 0.0,
            compat=parts.compat.duration_s if parts.compat else 0.0,
            report=round(report_s, 3),
        ),
    )
    validate_results(document.to_dict(), "merged results")
    return document
