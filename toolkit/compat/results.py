"""The compat suite's results: build the records of `compat.json` and write it.

The record types are defined once, in `toolkit.documents.compat`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from toolkit.compat.checks import CHECKS
from toolkit.contract import HAZARD_SERVERS_FIRST
from toolkit.documents.compat import (
    CaseEntry,
    CheckResult,
    Cleanup,
    CompatResults,
    MatrixCell,
    Outcome,
    Preflight,
    RolloutRule,
    Verdict,
)

__all__ = [
    "CaseEntry",
    "CaseResult",
    "CheckResult",
    "CompatResults",
    "MatrixCell",
    "Outcome",
    "RolloutRule",
    "build_results",
    "write_results",
]

# The MATRIX cell outcome that means a legacy server dropped the space a new client named.
SPACE_IGNORED = "OK_SPACE_IGNORED"


@dataclass(frozen=True)
class CaseResult:
    """A case as a worker reports it: the check it belongs to and its compat.json entry."""

    check: str
    entry: CaseEntry

    @classmethod
    def from_json(cls, text: str) -> CaseResult:
        document = json.loads(text)
        return cls(check=document["check"], entry=CaseEntry(**document["entry"]))


def group_cases(cases: list[CaseResult]) -> list[CheckResult]:
    """One result per check that ran, in the order of CHECKS; a check fails if any case does."""
    by_check: dict[str, list[CaseResult]] = {}
    for case in cases:
        by_check.setdefault(case.check, []).append(case)
    results: list[CheckResult] = []
    for check_id, spec in CHECKS.items():
        entries = sorted((c.entry for c in by_check.get(check_id, [])), key=lambda e: e.name)
        if not entries:
            continue
        results.append(
            CheckResult(
                id=check_id,
                purpose=spec.purpose,
                category=spec.category,
                outcome=check_outcome([e.outcome for e in entries]),
                duration_s=round(sum(e.duration_s for e in entries), 4),
                cases=tuple(entries),
                not_verified=tuple(
                    dict.fromkeys(
                        text
                        for e in entries
                        for text in (e.not_verified, e.cause)
                        if text and e.outcome in ("partial", "not_run")
                    )
                ),
                cause=next((e.cause for e in entries if e.cause), None),
            )
        )
    return results


def check_outcome(outcomes: list[Outcome]) -> Outcome:
    """failed if a case failed; not_run if none ran; partial if any verified only part."""
    if "failed" in outcomes:
        return "failed"
    if all(o == "not_run" for o in outcomes):
        return "not_run"
    if any(o in ("partial", "not_run") for o in outcomes):
        return "partial"
    return "passed"


def run_verdict(checks: list[CheckResult]) -> Verdict:
    if not checks or any(c.outcome == "failed" for c in checks):
        return "failed"
    if any(c.outcome != "passed" for c in checks):
        return "partial"
    return "passed"


def matrix_cells(cases: list[CaseResult]) -> list[MatrixCell]:
    """The MATRIX check's cells, each recorded by its case as evidence["cell"]."""
    cells = [
        c.entry.evidence["cell"]
        for c in cases
        if c.check == "MATRIX" and "cell" in c.entry.evidence
    ]
    return sorted(
        (MatrixCell(**cell) for cell in cells), key=lambda cell: (cell.client, cell.server)
    )


def rollout_rules(cells: list[MatrixCell]) -> list[RolloutRule]:
    """A new client's space silently ignored by a legacy server means: upgrade servers first."""
    for cell in cells:
        if (cell.client, cell.server, cell.observed) == ("new", "legacy", SPACE_IGNORED):
            return [RolloutRule(HAZARD_SERVERS_FIRST, "MATRIX")]
    return []


def build_results(
    cases: list[CaseResult],
    *,
    duration_s: float,
    target: str | None,
    started_server: bool,
    allow_partial: bool = False,
    preflight: Preflight | None = None,
    cleanup: Cleanup | None = None,
    server_log: str | None = None,
) -> CompatResults:
    checks = group_cases(cases)
    cells = matrix_cells(cases)
    return CompatResults(
        duration_s=round(duration_s, 3),
        target=target,
        started_server=started_server,
        verdict=run_verdict(checks),
        checks=tuple(checks),
        matrix=tuple(cells),
        rollout=tuple(rollout_rules(cells)),
        allow_partial=allow_partial,
        preflight=preflight,
        cleanup=cleanup,
        server_log=server_log,
    )


def write_results(results: CompatResults, path: Path) -> None:
    results.write(path)
