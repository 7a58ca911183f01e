"""One verdict for the whole run: every stage counts, and report, summary and exit code agree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.report.support import load_document, typed, write_stage_documents
from toolkit.cli import main
from toolkit.report.results import read_results
from toolkit.report.verdict import INCOMPLETE, judge

Documents = Callable[[str], dict[str, Any]]


def _stale_stubs(results: dict[str, Any]) -> None:
    results["drift"]["verdict"] = "failed"
    results["drift"]["changed"] = ["current/engram/v1/engram_pb2.py"]


def _lint_error(results: dict[str, Any]) -> None:
    results["lint"]["verdict"] = "failed"
    results["lint"]["tools"][2] = {
        "tool": "mypy",
        "command": "mypy",
        "outcome": "failed",
        "exit_code": 1,
        "output": "toolkit/x.py:1: error: nope",
    }


def _run(
    tmp_path: Path,
    project_root: Path,
    results: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    **omit: bool,
) -> tuple[int, str, str, Path]:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    reports = write_stage_documents(tmp_path / "reports", results, **omit)
    code = main(["report", "--out", str(reports), "--project-root", str(project_root)])
    markdown = (reports / "migration-report.md").read_text(encoding="utf-8")
    return code, markdown.splitlines()[0], summary.read_text(encoding="utf-8"), reports


@pytest.mark.parametrize(
    ("breakage", "first_line"),
    [
        (_stale_stubs, "# ❌ INCOMPLETE: the generated stubs are stale: run `nox -s stubs`"),
        (_lint_error, "# ❌ INCOMPLETE: lint failed (`mypy`): run `nox -s lint`"),
    ],
)
def test_a_failed_stage_is_never_safe_and_its_fix_is_on_the_first_line(
    tmp_path: Path,
    project_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    breakage: Callable[[dict[str, Any]], None],
    first_line: str,
) -> None:
    results = load_document("accepted")
    breakage(results)
    code, line, summary, reports = _run(tmp_path, project_root, results, monkeypatch)
    merged = read_results(reports / "results.json")
    assert (merged.verdict, merged.exit_code, code) == ("INCOMPLETE", 1, 1)
    assert line.startswith(first_line)
    assert summary.splitlines()[0] == line
    assert capsys.readouterr().out.splitlines()[0] == line.lstrip("# ")


@pytest.mark.parametrize("stage", ["drift", "lint", "schema", "compat"])
def test_a_stage_that_wrote_nothing_makes_the_run_incomplete(
    tmp_path: Path, project_root: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    results = load_document("accepted")
    code, line, summary, reports = _run(
        tmp_path, project_root, results, monkeypatch, **{stage: False}
    )
    merged = read_results(reports / "results.json")
    assert (merged.verdict, merged.exit_code, code) == ("INCOMPLETE", 2, 2)
    assert [s.stage for s in merged.stages if s.status == "missing"] == [stage]
    assert line.startswith(f"# ❌ INCOMPLETE: `reports/{stage}.json` is missing")
    assert f"run `nox -s {stage}`" in line
    assert summary.splitlines()[0] == line


def test_the_clean_run_is_safe_and_exits_0(
    tmp_path: Path, project_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, line, summary, reports = _run(
        tmp_path, project_root, load_document("accepted"), monkeypatch
    )
    merged = read_results(reports / "results.json")
    assert (merged.verdict, merged.exit_code, code) == ("SAFE", 0, 0)
    assert line.startswith("# ✅ SAFE:")
    assert summary.splitlines()[0] == line


def test_a_breaking_schema_beside_stale_stubs_is_breaking_and_names_both(
    document: Documents,
) -> None:
    results = document("breaking")
    _stale_stubs(results)
    verdict = judge(typed(results))
    assert (verdict.code, verdict.exit_code) == ("BREAKING", 1)
    assert [r.kind for r in verdict.reasons][:2] == ["drift_failed", "schema_incompatible"]


def test_rerendering_exits_with_the_documents_exit_code(tmp_path: Path) -> None:
    results = load_document("accepted")
    _stale_stubs(results)
    results["verdict"], results["exit_code"] = INCOMPLETE, 1
    reports = write_stage_documents(tmp_path / "reports", results)
    path = reports / "results.json"
    path.write_text(typed(results).to_json(), encoding="utf-8")
    assert main(["report", "--results", str(path), "--out", str(tmp_path / "out")]) == 1


def test_a_results_document_whose_verdict_contradicts_its_stages_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = load_document("accepted")
    _stale_stubs(results)  # the stored verdict still says SAFE
    path = tmp_path / "results.json"
    path.write_text(typed(results).to_json(), encoding="utf-8")
    assert main(["report", "--results", str(path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"engram-compat report: error: {path}: verdict SAFE (exit 0) disagrees with its stage "
        "documents, which give INCOMPLETE (exit 1)\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("fail_on", "expected"), [(None, 0), ("breaking", 0), ("rollout", 1)])
def test_fail_on_rollout_fails_a_safe_with_rollout_order_run_and_says_so(
    tmp_path: Path,
    project_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    fail_on: str | None,
    expected: int,
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.delenv("ENGRAM_COMPAT_FAIL_ON", raising=False)
    reports = write_stage_documents(tmp_path / "reports", load_document("rollout"))
    flags = ["--fail-on", fail_on] if fail_on else []
    argv = ["report", "--out", str(reports), "--project-root", str(project_root), *flags]
    assert main(argv) == expected
    merged = read_results(reports / "results.json")
    assert (merged.verdict, merged.exit_code) == ("SAFE_WITH_ROLLOUT_ORDER", expected)
    line = (reports / "migration-report.md").read_text(encoding="utf-8").splitlines()[0]
    assert ("accepts only SAFE" in line) is (fail_on == "rollout")
    assert summary.read_text(encoding="utf-8").splitlines()[0] == line
    # Re-rendering keeps the run's policy and its exit code.
    out = tmp_path / "again"
    assert main(["report", "--results", str(reports / "results.json"), "--out", str(out)]) == (
        expected
    )
