"""When the check cannot judge, it says which schema, tool or ref and why, in one line: exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import run_cli
from tests.schema.conftest import CASES_ROOT, cli_env
from toolkit.schema.check import BUF_FAILED


def assert_cannot_judge(proc_args: list[str], env: dict[str, str], *needles: str) -> str:
    proc = run_cli(proc_args, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("engram-compat check: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_missing_buf_is_exit_2(tmp_path: Path) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = cli_env(tmp_path / "cache", PATH=str(empty_bin), ENGRAM_COMPAT_BUF=str(empty_bin / "buf"))
    assert shutil.which("buf", path=env["PATH"]) is None
    assert_cannot_judge(["check", "--json", str(tmp_path / "s.json")], env, "buf not found")
    assert not (tmp_path / "s.json").exists()


def test_unknown_git_ref_is_exit_2(tmp_path: Path) -> None:
    assert_cannot_judge(
        ["check", "--baseline", "git:no-such-ref-v0", "--json", str(tmp_path / "s.json")],
        cli_env(tmp_path / "cache"),
        "git:no-such-ref-v0",
        "git archive failed",
    )


def test_schema_that_does_not_compile_is_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(CASES_ROOT / "field_added_next_number" / "current", broken)
    proto = broken / "engram" / "v1" / "engram.proto"
    proto.write_text(proto.read_text().replace("bool auto_link = 2;", "bool auto_link = ;"))
    line = assert_cannot_judge(
        ["check", "--current", str(broken), "--json", str(tmp_path / "s.json")],
        cli_env(tmp_path / "cache"),
        str(broken),
        "engram/v1/engram.proto:",
    )
    assert "Expected" in line


def test_schema_with_two_versions_is_exit_2(tmp_path: Path) -> None:
    doubled = tmp_path / "doubled"
    shutil.copytree(CASES_ROOT / "message_added" / "current", doubled)
    proto = doubled / "engram" / "v1" / "engram.proto"
    line = "// engram-schema-version: 1.1.0"
    proto.write_text(proto.read_text().replace(line, f"{line}\n// engram-schema-version: 9.9.9"))
    assert_cannot_judge(
        ["check", "--current", str(doubled), "--json", str(tmp_path / "s.json")],
        cli_env(tmp_path / "cache"),
        "more than once",
    )


def test_baseline_version_with_two_baselines_is_exit_2(tmp_path: Path) -> None:
    assert_cannot_judge(
        [
            "check", "--project-root", str(CASES_ROOT), "--current", "message_added/current",
            "--baseline", "message_added/baseline", "--baseline", "message_added/current",
            "--baseline-version", "1.0.0", "--json", str(tmp_path / "s.json"),
        ],
        cli_env(tmp_path / "cache"),
        "--baseline-version needs exactly one --baseline",
    )  # fmt: skip


def test_baseline_that_is_not_an_image_is_exit_2(tmp_path: Path) -> None:
    bogus = tmp_path / "baseline.binpb"
    bogus.write_bytes(b"\xff\xff\xff not a descriptor set")
    assert_cannot_judge(
        ["check", "--baseline", str(bogus), "--json", str(tmp_path / "s.json")],
        cli_env(tmp_path / "cache"),
        "not a buf image",
    )


def test_missing_baseline_folder_is_exit_2(tmp_path: Path) -> None:
    assert_cannot_judge(
        ["check", "--baseline", "no/such/dir", "--json", str(tmp_path / "s.json")],
        cli_env(tmp_path / "cache"),
        "no/such/dir",
    )


def _case_with_buf_yaml(tmp_path: Path, case: str, buf_yaml: str) -> Path:
    current = tmp_path / "current"
    shutil.copytree(CASES_ROOT / case / "current", current)
    (current / "buf.yaml").write_text(buf_yaml)
    return current


def test_failure_of_buf_on_the_users_config_is_a_finding_not_a_stop(tmp_path: Path) -> None:
    """Regression: buf failing on the user's buf.yaml (an unknown rule) used to end the check."""
    current = _case_with_buf_yaml(
        tmp_path, "message_added", "version: v2\nlint:\n  use:\n    - NO_SUCH_RULE\n"
    )
    out = tmp_path / "s.json"
    proc = run_cli(
        [
            "check", "--project-root", str(CASES_ROOT), "--baseline", "message_added/baseline",
            "--current", str(current), "--json", str(out),
        ],
        cwd=CASES_ROOT, env=cli_env(tmp_path / "cache"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(out.read_text())
    failed = [f for f in report["lint"] if f["rule"] == BUF_FAILED]
    assert failed and "NO_SUCH_RULE" in failed[0]["message"]
    assert report["verdict"] == "compatible"


def test_a_missing_buf_plugin_is_a_lint_finding(tmp_path: Path) -> None:
    """Regression: a buf plugin named in buf.yaml that is not installed aborted the check."""
    current = _case_with_buf_yaml(
        tmp_path,
        "message_added",
        "version: v2\nlint:\n  use:\n    - STANDARD\nplugins:\n"
        "  - plugin: buf-plugin-that-is-not-installed\n",
    )
    out = tmp_path / "s.json"
    proc = run_cli(
        [
            "check", "--project-root", str(CASES_ROOT), "--baseline", "message_added/baseline",
            "--current", str(current), "--json", str(out),
        ],
        cwd=CASES_ROOT, env=cli_env(tmp_path / "cache"),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert any(
        f["rule"] == BUF_FAILED and "buf-plugin-that-is-not-installed" in f["message"]
        for f in report["lint"]
    ), report["lint"]


def test_invalid_acceptance_file_is_exit_2(tmp_path: Path) -> None:
    accept = tmp_path / "accept.toml"
    accept.write_text('[[accept]]\nid = "x:removed"\n')
    assert_cannot_judge(
        ["check", "--accept", str(accept), "--json", str(tmp_path / "s.json")],
        cli_env(tmp_path / "cache"),
        "missing reason",
    )
