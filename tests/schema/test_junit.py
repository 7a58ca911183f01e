"""`check --junit FILE`: the schema findings as a JUnit file of their own (buf's junit format
as model): a suite per category of change, a case per change, a failure whose message is the
change's sentence and remedy; the version policy as its own suite."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import run_cli
from tests.schema.conftest import CASES_ROOT, cli_env, run_case
from toolkit.junit import to_xml
from toolkit.schema.summary import junit_suites, schema_annotations


def _check_junit(tmp_path: Path, case: str) -> tuple[int, ET.Element]:
    junit = tmp_path / "reports" / "junit-schema.xml"
    proc = run_cli(
        [
            "check", "--project-root", str(CASES_ROOT), "--baseline", f"{case}/baseline",
            "--current", f"{case}/current", "--json", str(tmp_path / "s.json"),
            "--junit", str(junit),
        ],
        cwd=CASES_ROOT, env=cli_env(tmp_path / "cache"),
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, ET.parse(junit).getroot()


def test_a_breaking_change_is_a_failing_case_with_its_sentence_and_remedy(
    tmp_path: Path,
) -> None:
    code, root = _check_junit(tmp_path, "fields_renumbered_for_new_field_1")
    assert code == 1
    failures = [
        (suite.get("name"), case, case.find("failure"))
        for suite in root.iter("testsuite")
        for case in suite.iter("testcase")
        if case.find("failure") is not None
    ]
    assert failures, ET.tostring(root, encoding="unicode")
    assert int(root.get("failures", "0")) == len(failures)
    for suite_name, case, failure in failures:
        assert failure is not None
        assert case.get("classname") == f"engram-compat.{suite_name}"
        message = failure.get("message", "")
        assert "Remedy: " in message and "breaks" in message, message
        assert "object at 0x" not in message and "Traceback" not in (failure.text or "")


def test_a_compatible_change_has_no_failure(tmp_path: Path) -> None:
    code, root = _check_junit(tmp_path, "field_added_next_number")
    assert code == 0
    assert root.get("failures") == "0"
    names = {suite.get("name") for suite in root.iter("testsuite")}
    assert "version_policy" in names and "routing" in names, names  # space_field_added


def test_the_version_policy_fails_as_its_own_case_with_where_it_is_declared(
    cache_dir: Path,
) -> None:
    report = run_case(cache_dir, "version_not_bumped")
    (policy_suite,) = [s for s in junit_suites(report) if s.id == "version_policy"]
    (case,) = policy_suite.cases
    assert case.outcome == "failed"
    assert "declared version 1.0.0 is below the 1.1.0" in case.message
    assert "engram.proto:" in case.detail
    root = ET.fromstring(to_xml(junit_suites(report), "x"))
    assert root.get("failures") == "1"


def test_annotations_name_file_line_title_and_the_remedy(cache_dir: Path) -> None:
    report = run_case(cache_dir, "field_removed_unreserved")
    found = schema_annotations(report, "proto")
    assert found and all(a.level == "error" for a in found)
    breaking = [a for a in found if not a.message.startswith("version policy")]
    assert breaking and all(a.file and a.file.startswith("proto/") and a.line for a in breaking)
    assert all("Remedy: " in a.message and a.title for a in breaking)
    # Accepted changes are no annotation at all.
    accepted = dataclasses.replace(
        report,
        changes=tuple(dataclasses.replace(c, accepted=object()) for c in report.changes),  # type: ignore[arg-type]
    )
    assert all(a.message.startswith("version policy") for a in schema_annotations(accepted, ""))
