"""CI outputs of the runtime suite, from compat.json only: JUnit XML and GitHub annotations.

One `<testsuite>` per check id, its cases named in words, failure messages that say expected
and observed in a sentence (`toolkit.junit`); an annotation per failed, partial or not-run
check (`toolkit.annotations`).
"""

from __future__ import annotations

import re
from pathlib import Path

from toolkit.annotations import Annotation
from toolkit.documents.compat import CaseEntry, CheckResult, CompatResults
from toolkit.junit import JunitCase, JunitSuite, write_junit

JUNIT_NAME = "engram-compat runtime"
_PARAMS = re.compile(r"^(?P<test>[^\[]+)(?:\[(?P<params>.*)\])?$")


def readable_name(case_name: str) -> str:
    """`test_field_routes_to_named_space[Forget]` -> `field routes to named space (Forget)`."""
    match = _PARAMS.match(case_name)
    if match is None:
        return case_name
    words = match["test"].removeprefix("test_").replace("_", " ")
    return f"{words} ({match['params']})" if match["params"] else words


def case_sentence(case: CaseEntry) -> str:
    if case.outcome == "failed":
        return f"expected {case.expected or 'the contract to hold'}, observed {case.observed}"
    if case.outcome == "partial":
        return f"partial: not verified: {case.not_verified}"
    if case.outcome == "not_run":
        return f"not run: {case.cause}"
    return ""


def junit_suites(results: CompatResults) -> list[JunitSuite]:
    return [
        JunitSuite(
            id=check.id,
            category=check.category,
            cases=tuple(
                JunitCase(
                    name=readable_name(case.name),
                    outcome=case.outcome,
                    message=case_sentence(case),
                    detail=case_sentence(case),
                    duration_s=case.duration_s,
                )
                for case in check.cases
            ),
        )
        for check in results.checks
    ]


def write_compat_junit(results: CompatResults, path: Path) -> None:
    write_junit(path, junit_suites(results), JUNIT_NAME)


def check_sentence(check: CheckResult) -> str:
    failed = [c for c in check.cases if c.outcome == "failed"]
    if failed:
        first = failed[0]
        more = f" ({len(failed) - 1} more cases failed)" if len(failed) > 1 else ""
        return (
            f"{check.id} failed: {readable_name(first.name)}: expected {first.expected}, "
            f"observed {first.observed}{more}"
        )
    if check.outcome == "not_run":
        return f"{check.id} did not run: {check.cause}"
    return f"{check.id} is partial: not verified: {'; '.join(check.not_verified)}"


def compat_annotations(results: CompatResults) -> list[Annotation]:
    """An error per failed check, a warning per partial or not-run one."""
    return [
        Annotation(
            level="error" if check.outcome == "failed" else "warning",
            title=f"engram-compat {check.id}",
            message=check_sentence(check),
        )
        for check in results.checks
        if check.outcome != "passed"
    ]
