"""The CI output formats: GitHub annotations and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from toolkit.annotations import Annotation, in_github_actions
from toolkit.junit import JunitCase, JunitSuite, to_xml


def test_annotation_carries_the_whole_location_escaped() -> None:
    line = Annotation(
        "error",
        "restore `auto_link = 3`\nor reserve it",
        title="engram.v1.X.auto_link:number",
        file="proto/engram/v1/engram.proto",
        line=12,
        column=3,
        end_line=12,
        end_column=30,
    ).render()
    assert line == (
        "::error file=proto/engram/v1/engram.proto,line=12,col=3,endLine=12,endColumn=30,"
        "title=engram.v1.X.auto_link%3Anumber::restore `auto_link = 3`%0Aor reserve it"
    )


def test_annotation_without_a_file_has_no_line() -> None:
    assert Annotation("warning", "100% sure", line=3).render() == "::warning::100%25 sure"


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("false", False), ("", False)])
def test_github_actions_is_detected(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", value)
    assert in_github_actions() is expected


def test_junit_has_one_suite_per_check_and_sentences_for_failures() -> None:
    text = to_xml(
        [
            JunitSuite(
                "ERR_UNKNOWN_SPACE",
                "errors",
                (
                    JunitCase("Remember to an unknown space", "passed", duration_s=0.01),
                    JunitCase(
                        "Recall to an unknown space",
                        "failed",
                        "expected NOT_FOUND, the server answered OK",
                        "sent: Recall naming space 'ghost'",
                    ),
                ),
            ),
            JunitSuite(
                "DEPRECATION_WARNING",
                "deprecation",
                (JunitCase("server log", "partial", "the server's log was not available"),),
            ),
        ],
        "engram-compat runtime",
    )
    root = ET.fromstring(text.encode())
    assert [s.get("name") for s in root.iter("testsuite")] == [
        "ERR_UNKNOWN_SPACE",
        "DEPRECATION_WARNING",
    ]
    assert root.get("tests") == "3" and root.get("failures") == "1" and root.get("skipped") == "1"
    failure = root.find("./testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "expected NOT_FOUND, the server answered OK"
    classnames = {c.get("classname") for c in root.iter("testcase")}
    assert classnames == {"engram-compat.errors", "engram-compat.deprecation"}
