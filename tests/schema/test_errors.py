"""When the check cannot judge, it says which schema, tool or ref and why, in one line: exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.conftest import run_cli
from tests.schema.conftest import CASES_ROOT, cli_env


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


def test_schema_without_version_is_exit_2(tmp_path: Path) -> None:
    unversioned = tmp_path / "unversioned"
    shutil.copytree(CASES_ROOT / "message_added" / "current", unversioned)
    proto = unversioned / "engram" / "v1" / "engram.proto"
    proto.write_text(proto.read_text().replace("engram-schema-version: 1.1.0", "no version"))
    assert_cannot_judge(
        ["check", "--current", str(unversioned), "--json", str(tmp_path / "s.json")],
        cli_env(tmp_path / "cache"),
        "declares no version",
    )


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


def test_failure_of_buf_itself_is_exit_2_with_bufs_message(tmp_path: Path) -> None:
    bad_config = tmp_path / "current"
    shutil.copytree(CASES_ROOT / "message_added" / "current", bad_config)
    (bad_config / "buf.yaml").write_text("version: v2\nlint:\n  use:\n    - NO_SUCH_RULE\n")
    assert_cannot_judge(
        ["check", "--current", str(bad_config), "--json", str(tmp_path / "s.json")],
        cli_env(tmp_path / "cache"),
        "buf lint failed",
        "NO_SUCH_RULE",
    )


def test_invalid_acceptance_file_is_exit_2(tmp_path: Path) -> None:
    accept = tmp_path / "accept.toml"
    accept.write_text('[[accept]]\nid = "x:removed"\n')
    assert_cannot_judge(
        ["check", "--accept", str(accept), "--json", str(tmp_path / "s.json")],
        cli_env(tmp_path / "cache"),
        "missing reason",
    )
