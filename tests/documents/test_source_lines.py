"""schema.json carries each change's declaration as both schemas' .proto files read, with file
and line, so the report can set the before and after lines side by side."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from google.protobuf.descriptor_pb2 import FieldDescriptorProto

from tests.conftest import PROJECT_ROOT, run_cli
from toolkit.documents.schema import SchemaReport, SourceLine
from toolkit.schema.diff import source_line
from toolkit.schema.elements import Element


def _field(line: int | None) -> Element:
    proto = FieldDescriptorProto(name="soft_delete", number=3, type=FieldDescriptorProto.TYPE_BOOL)
    return Element(
        "engram.v1.ForgetRequest.soft_delete",
        "field",
        "engram/v1/engram.proto",
        line,
        proto,
        "engram.v1.ForgetRequest",
        "engram.v1.ForgetRequest",
    )


def test_the_line_is_read_from_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "engram" / "v1"
    folder.mkdir(parents=True)
    (folder / "engram.proto").write_text('syntax = "proto3";\n\n  bool soft_delete = 3;\n')
    assert source_line(_field(3), tmp_path) == SourceLine(
        "engram/v1/engram.proto", 3, "bool soft_delete = 3;"
    )


def test_without_the_file_a_field_gets_its_rendered_declaration() -> None:
    found = source_line(_field(7), None)
    assert found == SourceLine("engram/v1/engram.proto", 7, "bool soft_delete = 3;")
    assert source_line(_field(None), None) is None
    assert source_line(None, None) is None


def test_check_writes_before_and_after_lines_of_a_renumbered_field(tmp_path: Path) -> None:
    current = tmp_path / "proto"
    shutil.copytree(PROJECT_ROOT / "proto", current)
    engram = current / "engram" / "v1" / "engram.proto"
    text = engram.read_text(encoding="utf-8")
    renumbered, count = re.subn(r"bool soft_delete = 3;", "bool soft_delete = 9;", text)
    assert count == 1
    engram.write_text(renumbered, encoding="utf-8")
    out = tmp_path / "schema.json"
    completed = run_cli(["check", "--current", str(current), "--json", str(out)])
    assert completed.returncode == 1, completed.stderr
    report = SchemaReport.from_dict(json.loads(out.read_text(encoding="utf-8")))
    (change,) = [c for c in report.changes if c.element == "engram.v1.ForgetRequest.soft_delete"]
    assert change.before_source is not None and change.after_source is not None
    assert change.before_source.text == "bool soft_delete = 3;"
    assert change.after_source.text == "bool soft_delete = 9;"
    assert change.after_source.file == "engram/v1/engram.proto"
    lines = renumbered.splitlines()
    assert lines[change.after_source.line - 1].strip() == "bool soft_delete = 9;"
    added = [c for c in report.changes if c.kind == "field_added"]
    assert added and all(c.before_source is None and c.after_source for c in added)
