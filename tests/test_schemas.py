"""The two schemas: frozen baseline, additive migration, both loadable side by side."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor

from tests.conftest import REQUESTS
from toolkit.schema.buf import buf_executable
from toolkit.schema.pool import Schema, load_schema, packaged_descriptor_set
from toolkit.schema.version import declared_version

# Changing the released baseline would rewrite what old clients in the field were built from.
BASELINE_SHA256 = "6408a2ee82656a3fdeb369b01afcda8eb26de1b60af085f3817b461e12f1c61b"


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def test_baseline_is_frozen(project_root: Path) -> None:
    assert tree_digest(project_root / "fixtures" / "baseline" / "proto") == BASELINE_SHA256


def test_versions_are_declared_once() -> None:
    baseline = declared_version(load_schema("legacy").files)
    current = declared_version(load_schema("current").files)
    assert str(baseline) == "1.0.0"
    assert str(current) == "1.1.0"
    assert current > baseline


def test_every_current_request_has_memory_space_id_at_the_next_free_number() -> None:
    current, legacy = load_schema("current"), load_schema("legacy")
    for name in REQUESTS:
        old = legacy.descriptor(f"engram.v1.{name}")
        new = current.descriptor(f"engram.v1.{name}")
        assert "memory_space_id" not in old.fields_by_name, name
        field = new.fields_by_name["memory_space_id"]
        assert field.type == FieldDescriptor.TYPE_STRING, name
        assert field.number == max(f.number for f in old.fields) + 1, name
        assert field.containing_oneof is None, name


def test_every_rpc_request_of_both_schemas_is_covered() -> None:
    for schema in (load_schema("current"), load_schema("legacy")):
        engram = [m for m in schema.methods() if m.service == "engram.v1.EngramService"]
        assert {m.request.DESCRIPTOR.name for m in engram} == set(REQUESTS)
        assert {m.kind for m in engram} == {
            "unary_unary",
            "unary_stream",
            "stream_unary",
            "stream_stream",
        }


def test_no_baseline_field_changed_in_current() -> None:
    current, legacy = load_schema("current"), load_schema("legacy")
    for file_proto in legacy.files.file:
        if file_proto.name.startswith("google/"):
            continue
        for message in file_proto.message_type:
            old = legacy.descriptor(f"engram.v1.{message.name}")
            new = current.descriptor(f"engram.v1.{message.name}")
            for field in old.fields:
                twin = new.fields_by_number[field.number]
                assert twin.name == field.name, field.full_name
                assert twin.type == field.type, field.full_name
                assert twin.is_repeated == field.is_repeated, field.full_name
                assert twin.json_name == field.json_name, field.full_name
                assert (twin.containing_oneof is None) == (field.containing_oneof is None)
                if field.message_type is not None:
                    assert twin.message_type.full_name == field.message_type.full_name


def test_only_current_has_the_space_service() -> None:
    services = {m.service for m in load_schema("current").methods()}
    assert "engram.v1.MemorySpaceService" in services
    assert "engram.v1.MemorySpaceService" not in {
        m.service for m in load_schema("legacy").methods()
    }


def test_both_descriptor_sets_load_side_by_side_in_one_process() -> None:
    legacy = Schema.from_path(packaged_descriptor_set("legacy"))
    current = Schema.from_path(packaged_descriptor_set("current"))
    old_cls = legacy.message("engram.v1.RememberRequest")
    new_cls = current.message("engram.v1.RememberRequest")
    assert old_cls is not new_cls
    old = old_cls()
    old.memory.id = "m-1"
    new = new_cls.FromString(old.SerializeToString())
    assert new.memory.id == "m-1"
    assert new.memory_space_id == ""


@pytest.mark.parametrize("tree", ["current", "legacy"])
def test_generated_tree_imports_in_its_own_process(tree: str, project_root: Path) -> None:
    modules = ["engram_pb2", "engram_pb2_grpc"]
    if tree == "current":
        modules += ["memory_space_pb2", "memory_space_pb2_grpc"]
    code = "; ".join(f"import toolkit.generated.{tree}.engram.v1.{m}" for m in modules)
    code += f"; from toolkit.generated.{tree}.engram.v1 import engram_pb2 as p"
    code += "; print(sorted(p.RememberRequest.DESCRIPTOR.fields_by_name))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=project_root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert ("memory_space_id" in result.stdout) == (tree == "current")


@pytest.mark.parametrize("module", ["proto", "fixtures/baseline/proto"])
def test_buf_lint_is_clean(module: str, project_root: Path, tool_env: dict[str, str]) -> None:
    result = subprocess.run(
        [buf_executable(), "lint", "--error-format=json"],
        cwd=project_root / module,
        env=tool_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""


def test_buf_breaking_wire_json_against_baseline_is_clean(
    project_root: Path, tool_env: dict[str, str]
) -> None:
    result = subprocess.run(
        [
            buf_executable(),
            "breaking",
            "--against",
            "../fixtures/baseline/proto",
            "--error-format=json",
        ],
        cwd=project_root / "proto",
        env=tool_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
