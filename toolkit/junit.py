"""JUnit XML that CI interfaces show well: one `<testsuite>` per check (named by its id), each
case a `<testcase classname="engram-compat.<category>" name="readable words">`, and a failure
message that is a sentence (expected, observed), never an object repr or a traceback."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CaseOutcome = Literal["passed", "failed", "partial", "not_run", "skipped"]
CLASSNAME_PREFIX = "engram-compat"


@dataclass(frozen=True)
class JunitCase:
    name: str
    outcome: CaseOutcome
    message: str = ""  # for a failure or skip: one sentence
    detail: str = ""  # the failure's body: what was sent, expected and observed
    duration_s: float = 0.0


@dataclass(frozen=True)
class JunitSuite:
    id: str  # a check id or change id
    category: str
    cases: tuple[JunitCase, ...]


def to_xml(suites: Sequence[JunitSuite], name: str) -> str:
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    total_time = 0.0
    for suite in suites:
        failures = sum(1 for c in suite.cases if c.outcome == "failed")
        skipped = sum(1 for c in suite.cases if c.outcome in ("not_run", "skipped", "partial"))
        duration = sum(c.duration_s for c in suite.cases)
        element = ET.SubElement(
            root,
            "testsuite",
            name=suite.id,
            tests=str(len(suite.cases)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=f"{duration:.3f}",
        )
        for case in suite.cases:
            testcase = ET.SubElement(
                element,
                "testcase",
                classname=f"{CLASSNAME_PREFIX}.{suite.category}",
                name=case.name,
                time=f"{case.duration_s:.3f}",
            )
            if case.outcome == "failed":
                failure = ET.SubElement(testcase, "failure", message=case.message)
                failure.text = case.detail or case.message
            elif case.outcome in ("not_run", "skipped", "partial"):
                ET.SubElement(testcase, "skipped", message=case.message or case.outcome)
        totals["tests"] += len(suite.cases)
        totals["failures"] += failures
        totals["skipped"] += skipped
        total_time += duration
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("errors", "0")
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: Path, suites: Sequence[JunitSuite], name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_xml(suites, name), encoding="utf-8")
