"""The stubs stage: regeneration, drift detection and compiler errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture
def project_copy(project_root: Path, tmp_path: Path) -> Path:
    """A copy of the schemas and committed stubs, safe to edit."""
    for part in ("proto", "fixtures/baseline", "toolkit/generated"):
        shutil.copytree(
            project_root / part,
            tmp_path / part,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return tmp_path


def test_committed_stubs_match_the_schemas(project_copy: Path) -> None:
    result = run_cli(["stubs", "--check", "--project-root", str(project_copy)])
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_edited_proto_without_regenerating_is_drift(project_copy: Path) -> None:
    proto = project_copy / "proto" / "engram" / "v1" / "engram.proto"
    proto.write_text(
        proto.read_text().replace(
            "  bool auto_link = 3;\n", "  bool auto_link = 3;\n  bool urgent = 9;\n"
        )
    )
    result = run_cli(["stubs", "--check", "--project-root", str(project_copy)])
    assert result.returncode == 1
    assert "differs: toolkit/generated/current/engram/v1/engram_pb2.py" in result.stderr
    assert "differs: toolkit/generated/current/descriptor_set.binpb" in result.stderr
    assert "legacy" not in result.stderr


def test_stray_generated_file_is_drift(project_copy: Path) -> None:
    (project_copy / "toolkit/generated/legacy/engram/v1/old_pb2.py").write_text("# stale\n")
    result = run_cli(["stubs", "--check", "--project-root", str(project_copy)])
    assert result.returncode == 1
    assert "not generated: toolkit/generated/legacy/engram/v1/old_pb2.py" in result.stderr


def test_regenerating_after_an_edit_clears_drift(project_copy: Path) -> None:
    proto = project_copy / "proto" / "engram" / "v1" / "memory_space.proto"
    proto.write_text(proto.read_text() + "\nmessage Extra {\n  string note = 1;\n}\n")
    assert run_cli(["stubs", "--project-root", str(project_copy)]).returncode == 0
    result = run_cli(["stubs", "--check", "--project-root", str(project_copy)])
    assert result.returncode == 0, result.stderr
    assert (
        "class Extra"
        in (project_copy / "toolkit/generated/current/engram/v1/memory_space_pb2.pyi").read_text()
    )


def test_syntax_error_names_file_and_line_without_traceback(project_copy: Path) -> None:
    proto = project_copy / "proto" / "engram" / "v1" / "engram.proto"
    lines = proto.read_text().splitlines()
    broken = next(i for i, line in enumerate(lines) if "bool auto_link = 3;" in line)
    lines[broken] = "  bool auto_link = 3"
    proto.write_text("\n".join(lines) + "\n")
    generated_before = sorted(p for p in (project_copy / "toolkit/generated").rglob("*"))
    for args in (["stubs"], ["stubs", "--check"]):
        result = run_cli([*args, "--project-root", str(project_copy)])
        assert result.returncode == 2
        # protoc reports the token after the missing ";", a few lines further on.
        assert re.search(r"engram/v1/engram\.proto:(\d+):\d+: Expected \";\"", result.stderr)
        assert "Traceback" not in result.stderr
    assert sorted(p for p in (project_copy / "toolkit/generated").rglob("*")) == generated_before


def test_missing_proto_folder_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli(["stubs", "--check", "--project-root", str(tmp_path)])
    assert result.returncode == 2
    assert "not a directory of .proto files" in result.stderr
    assert "Traceback" not in result.stderr
