"""`engram-compat report`: merge, validate, render, and the exit code of each outcome."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.report.support import (
    before_timings,
    load_document,
    typed,
    write_json,
    write_stage_documents,
)
from toolkit.cli import main
from toolkit.documents.base import to_data
from toolkit.documents.results import Versions
from toolkit.report.results import ResultsError, read_results, validate_results

Documents = Callable[[str], dict[str, Any]]
OUTPUTS = ("results.json", "migration-report.md", "migration-report.html", "CHANGELOG-entry.md")


def _report(reports: Path, project_root: Path, *extra: str) -> int:
    return main(["report", "--out", str(reports), "--project-root", str(project_root), *extra])


def test_merge_writes_a_valid_results_document_and_every_report(
    tmp_path: Path, project_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = load_document("rollout")
    reports = write_stage_documents(tmp_path / "reports", fixed)
    assert _report(reports, project_root) == 0
    for name in OUTPUTS:
        assert (reports / name).is_file(), name
    results = read_results(reports / "results.json")
    for stage in ("drift", "lint", "schema", "compat", "rehearsal"):
        assert to_data(getattr(results, stage)) == fixed[stage], stage
    assert (results.verdict, results.exit_code) == ("SAFE_WITH_ROLLOUT_ORDER", 0)
    assert [(s.stage, s.status) for s in results.stages] == [
        ("drift", "passed"),
        ("lint", "passed"),
        ("schema", "passed"),
        ("compat", "passed"),
        ("rehearsal", "passed"),
    ]
    assert results.versions == Versions(baseline="1.0.0", current="1.1.0")
    assert results.environment.python == platform.python_version()
    assert results.environment.buf != "unavailable"
    assert results.environment.git_commit
    assert results.timings.schema == fixed["schema"]["duration_s"]
    assert results.timings.report > 0
    text = (reports / "results.json").read_text(encoding="utf-8")
    assert (
        text == json.dumps(results.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    assert capsys.readouterr().out.startswith("⚠️ SAFE WITH ROLLOUT ORDER:")


def test_breaking_results_exit_1_after_writing_the_report(
    tmp_path: Path, project_root: Path
) -> None:
    reports = write_stage_documents(tmp_path / "reports", load_document("breaking"))
    assert _report(reports, project_root) == 1
    markdown = (reports / "migration-report.md").read_text(encoding="utf-8")
    assert markdown.startswith("# ❌ BREAKING:")


def test_two_runs_on_the_same_inputs_differ_only_in_timings(
    tmp_path: Path, project_root: Path
) -> None:
    reports = write_stage_documents(tmp_path / "reports", load_document("breaking"))
    outputs = []
    for _ in range(2):
        _report(reports, project_root)
        outputs.append(
            {
                name: (reports / name).read_text(encoding="utf-8")
                for name in ("migration-report.md", "migration-report.html", "CHANGELOG-entry.md")
            }
        )
    first, second = outputs
    assert before_timings(first["migration-report.md"]) == before_timings(
        second["migration-report.md"]
    )
    assert first["CHANGELOG-entry.md"] == second["CHANGELOG-entry.md"]
    html_head = [o["migration-report.html"].partition('<section id="timings">')[0] for o in outputs]
    assert html_head[0] == html_head[1]


def test_timings_appear_only_in_their_section(document: Documents) -> None:
    from toolkit.report.output import render_reports

    slow, fast = document("breaking"), document("breaking")
    fast["timings"] = {"drift": 0.1, "lint": 0.2, "schema": 1.0, "compat": 2.0, "report": 0.5}
    for check in fast["compat"]["checks"]:
        check["duration_s"] = 9.87
        for case in check["cases"]:
            case["duration_s"] = 6.54
    fast["schema"]["duration_s"] = fast["compat"]["duration_s"] = 3.21
    slow_md, fast_md = render_reports(typed(slow)).markdown, render_reports(typed(fast)).markdown
    assert slow_md != fast_md
    assert before_timings(slow_md) == before_timings(fast_md)


def test_rerender_from_results_runs_nothing_and_matches_the_merge(
    tmp_path: Path, project_root: Path
) -> None:
    reports = write_stage_documents(tmp_path / "reports", load_document("accepted"))
    assert _report(reports, project_root) == 0
    merged = (reports / "migration-report.md").read_text(encoding="utf-8")
    elsewhere = tmp_path / "rerendered"
    assert (
        main(["report", "--results", str(reports / "results.json"), "--out", str(elsewhere)]) == 0
    )
    assert (elsewhere / "migration-report.md").read_text(encoding="utf-8") == merged
    assert not (elsewhere / "results.json").exists()


@pytest.mark.parametrize("missing", ["schema", "compat"])
def test_a_missing_stage_still_writes_an_incomplete_report_and_exits_2(
    tmp_path: Path, project_root: Path, missing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = write_stage_documents(
        tmp_path / "reports",
        load_document("rollout"),
        schema=missing != "schema",
        compat=missing != "compat",
    )
    assert _report(reports, project_root) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"engram-compat report: {reports / (missing + '.json')} is missing (the {missing} stage "
        f"did not run or did not finish: run `nox -s {missing}`); the verdict is INCOMPLETE"
    ]
    results = read_results(reports / "results.json")
    assert getattr(results, missing) is None
    assert (results.verdict, results.exit_code) == ("INCOMPLETE", 2)
    markdown = (reports / "migration-report.md").read_text(encoding="utf-8")
    assert markdown.startswith(f"# ❌ INCOMPLETE: `reports/{missing}.json` is missing")
    assert f"`reports/{missing}.json` is missing: the {missing} stage did not finish" in markdown


def test_no_stage_documents_is_incomplete_with_unknown_versions(
    tmp_path: Path, project_root: Path
) -> None:
    reports = tmp_path / "reports"
    assert _report(reports, project_root) == 2
    results = read_results(reports / "results.json")
    assert (results.verdict, results.exit_code) == ("INCOMPLETE", 2)
    assert {s.stage: s.status for s in results.stages} == {
        "drift": "missing",
        "lint": "missing",
        "schema": "missing",
        "compat": "missing",
        "rehearsal": "not_run",  # optional: never a reason for INCOMPLETE
    }
    assert results.versions == Versions(baseline="unknown", current="unknown")
    assert results.timings.schema == 0.0


def test_a_missing_stage_beside_a_breaking_one_exits_1(tmp_path: Path, project_root: Path) -> None:
    reports = write_stage_documents(tmp_path / "reports", load_document("breaking"), compat=False)
    assert _report(reports, project_root) == 1


def test_step_summary_gets_the_markdown_appended(
    tmp_path: Path, project_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    reports = write_stage_documents(tmp_path / "reports", load_document("rollout"))
    _report(reports, project_root)
    markdown = (reports / "migration-report.md").read_text(encoding="utf-8")
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + markdown


def _drop_outcome(results: dict[str, Any]) -> None:
    del results["compat"]["checks"][2]["outcome"]


def _drop_environment(results: dict[str, Any]) -> None:
    del results["environment"]


def _bad_replay_outcome(results: dict[str, Any]) -> None:
    results["schema"]["replay"][0]["outcome"] = "PROBABLY_FINE"


def _bad_expiry(results: dict[str, Any]) -> None:
    results["schema"]["changes"][0]["accepted"]["expires"] = "next spring"


@pytest.mark.parametrize(
    ("breakage", "case", "message"),
    [
        (_drop_outcome, "rollout", "compat.checks[2]: 'outcome' is a required property"),
        (_drop_environment, "rollout", "(top level): 'environment' is a required property"),
        (_bad_replay_outcome, "rollout", "schema.replay[0].outcome: 'PROBABLY_FINE' is not one of"),
        (_bad_expiry, "accepted", "schema.changes[0].accepted.expires: "),
    ],
)
def test_an_invalid_results_document_names_the_wrong_part(
    document: Documents, breakage: Callable[[dict[str, Any]], None], case: str, message: str
) -> None:
    results = document(case)
    breakage(results)
    with pytest.raises(ResultsError) as raised:
        validate_results(results, "results.json")
    assert str(raised.value).startswith(f"results.json: {message}")


def test_cli_invalid_results_is_one_line_and_exit_2(
    tmp_path: Path, document: Documents, tool_env: dict[str, str]
) -> None:
    results = document("rollout")
    del results["compat"]["matrix"]
    path = write_json(tmp_path / "results.json", results)
    completed = run_cli(["report", "--results", str(path), "--out", str(tmp_path)], env=tool_env)
    assert completed.returncode == 2
    assert completed.stderr.splitlines() == [
        f"engram-compat report: error: {path}: compat: 'matrix' is a required property"
    ]
    assert not (tmp_path / "migration-report.md").exists()


def test_cli_unreadable_inputs_are_one_line_and_exit_2(
    tmp_path: Path, project_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.json"
    assert main(["report", "--results", str(missing), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"engram-compat report: error: {missing} is missing\n"

    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "compat.json").write_text('{"schema_version": 1,', encoding="utf-8")
    assert _report(reports, project_root) == 2
    assert capsys.readouterr().err.startswith(
        f"engram-compat report: error: {reports / 'compat.json'} is not JSON: line 1"
    )

    write_json(reports / "compat.json", {"schema_version": 1, "kind": "engram-compat/compat"})
    assert _report(reports, project_root) == 2
    assert capsys.readouterr().err == (
        f"engram-compat report: error: {reports / 'compat.json'}: (top level): '$schema' is a "
        "required property\n"
    )
    assert not (reports / "migration-report.md").exists()
