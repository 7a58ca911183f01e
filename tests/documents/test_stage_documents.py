"""drift.json and lint.json: the drift and lint stages write documents like the other stages."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from toolkit.cli import main
from toolkit.documents.drift import DriftDocument
from toolkit.documents.lint import LintDocument
from toolkit.lint import run as lint_run
from toolkit.lint.run import LintStep, run_lint, run_step


@pytest.fixture
def project_copy(project_root: Path, tmp_path: Path) -> Path:
    """A copy of the schemas and committed stubs, safe to edit."""
    for part in ("proto", "fixtures/baseline", "toolkit/generated"):
        shutil.copytree(
            project_root / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def test_stubs_check_json_records_clean_stubs(project_copy: Path) -> None:
    out = project_copy / "reports" / "drift.json"
    result = run_cli(["stubs", "--check", "--json", str(out), "--project-root", str(project_copy)])
    assert result.returncode == 0, result.stderr
    drift = DriftDocument.read(out)
    assert (drift.verdict, drift.changed, drift.missing, drift.unexpected) == ("passed", (), (), ())


def test_stubs_check_json_records_stale_stubs(project_copy: Path) -> None:
    proto = project_copy / "proto" / "engram" / "v1" / "engram.proto"
    proto.write_text(
        proto.read_text().replace(
            "  bool auto_link = 3;\n", "  bool auto_link = 3;\n  bool urgent = 9;\n"
        )
    )
    (project_copy / "toolkit/generated/legacy/engram/v1/old_pb2.py").write_text("# stale\n")
    result = run_cli(["stubs", "--check", "--json", "-", "--project-root", str(project_copy)])
    assert result.returncode == 1
    drift = DriftDocument.from_dict(json.loads(result.stdout), "stdout")
    assert drift.verdict == "failed"
    assert "current/engram/v1/engram_pb2.py" in drift.changed
    assert drift.unexpected == ("legacy/engram/v1/old_pb2.py",)
    # Inside GitHub Actions every stale file is also an annotation on that file.
    env = {**os.environ, "GITHUB_ACTIONS": "true"}
    annotated = run_cli(["stubs", "--check", "--project-root", str(project_copy)], env=env)
    assert annotated.returncode == 1
    lines = [line for line in annotated.stdout.splitlines() if line.startswith("::error ")]
    assert any("file=toolkit/generated/current/engram/v1/engram_pb2.py" in x for x in lines)
    assert all("nox -s stubs" in line for line in lines)


def test_stubs_json_without_check_is_refused(project_copy: Path) -> None:
    result = run_cli(["stubs", "--json", "x.json", "--project-root", str(project_copy)])
    assert result.returncode == 2
    assert result.stderr.strip().endswith("--json writes the drift document: use it with --check")


def test_a_missing_linter_fails_the_stage_with_the_reason(tmp_path: Path) -> None:
    run = run_step(LintStep("nolint", ("engram-no-such-linter", "check")), tmp_path)
    assert (run.outcome, run.exit_code) == ("missing", None)
    assert run.output.startswith("engram-no-such-linter not found beside the Python interpreter")
    document = run_lint(tmp_path, [LintStep("nolint", ("engram-no-such-linter",))])
    assert document.verdict == "failed"


def test_lint_command_without_any_linter_writes_a_failed_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(lint_run, "find_executable", lambda name: None)
    out = tmp_path / "lint.json"
    assert main(["lint", "--json", str(out), "--project-root", str(tmp_path)]) == 1
    document = LintDocument.read(out)
    assert document.verdict == "failed"
    assert {t.tool for t in document.tools} == {"ruff", "ruff-format", "mypy", "buf"}
    assert {t.outcome for t in document.tools} == {"missing"}
    assert "missing  mypy" in capsys.readouterr().out


def test_ruff_findings_fail_the_lint_stage_and_a_clean_file_passes(tmp_path: Path) -> None:
    # The file by name: a tmp folder under .nox/ would be excluded by ruff as a folder.
    ruff = [LintStep("ruff", ("ruff", "check", "--no-cache", "--isolated", "module.py"))]
    (tmp_path / "module.py").write_text("import os\n", encoding="utf-8")
    failed = run_lint(tmp_path, ruff)
    assert failed.verdict == "failed"
    assert failed.tools[0].outcome == "failed"
    assert "F401" in failed.tools[0].output
    (tmp_path / "module.py").write_text("import os\n\nprint(os.sep)\n", encoding="utf-8")
    assert run_lint(tmp_path, ruff).verdict == "passed"
