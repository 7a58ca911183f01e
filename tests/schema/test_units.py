"""The parts under the check: compile cache, samples, and the printed summary."""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

from google.protobuf import descriptor_pb2

from tests.schema.conftest import CASES_ROOT, run_case
from toolkit.schema.cache import compiled_descriptor_set, content_key
from toolkit.schema.pool import load_schema
from toolkit.schema.samples import build_samples, sample_count
from toolkit.schema.summary import render_summary


def test_compiled_schemas_are_cached_by_content(tmp_path: Path) -> None:
    schema = tmp_path / "schema"
    shutil.copytree(CASES_ROOT / "message_added" / "current", schema)
    cache = tmp_path / "cache"
    first = compiled_descriptor_set(schema, cache)
    (cached,) = (cache / "descriptors").iterdir()
    stamp = cached.stat().st_mtime_ns
    assert compiled_descriptor_set(schema, cache) == first
    assert cached.stat().st_mtime_ns == stamp
    assert cached.name == f"{content_key(schema)}.binpb"

    proto = schema / "engram" / "v1" / "engram.proto"
    proto.write_text(
        proto.read_text().replace("string name = 1;", "string name = 1;\n  int32 n = 2;")
    )
    changed = compiled_descriptor_set(schema, cache)
    assert changed != first
    assert len(list((cache / "descriptors").iterdir())) == 2


def test_samples_set_every_field_and_every_oneof_arm() -> None:
    remember = load_schema("current").message("engram.v1.RememberRequest")
    samples = build_samples(remember)
    assert len(samples) == sample_count(remember.DESCRIPTOR) == 8
    seen = {field.name for sample in samples for field, _ in sample.ListFields()}
    assert seen == {f.name for f in remember.DESCRIPTOR.fields}
    arms = {sample.WhichOneof("memory_type") for sample in samples}
    assert arms == {"memory", "episode"}


def test_samples_carry_edge_values() -> None:
    samples = build_samples(descriptor_pb2.UninterpretedOption)
    values = {
        field.name: [getattr(s, field.name) for s in samples]
        for field in descriptor_pb2.UninterpretedOption.DESCRIPTOR.fields
        if not field.message_type
    }
    assert 2**64 - 1 in values["positive_int_value"]
    assert -(2**63) in values["negative_int_value"]
    assert any(not _utf8(v) for v in values["string_value"])
    assert any(not v.isascii() for v in values["identifier_value"])
    assert "" in values["identifier_value"]
    assert -1.7e308 in values["double_value"] and 1.7e308 in values["double_value"]


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_summary_starts_with_the_verdict_and_groups_by_message(cache_dir: Path) -> None:
    text = render_summary(run_case(cache_dir, "fields_renumbered_for_new_field_1"))
    lines = text.splitlines()
    assert lines[0].startswith("schema check: INCOMPATIBLE")
    group = lines.index("  engram.v1.RememberRequest")
    members = [line for line in lines[group + 1 :] if not line.strip().startswith("remedy:")]
    assert all("RememberRequest." in line for line in members[:3])
    assert "MISROUTED" in text


def test_summary_counts_read_as_english(cache_dir: Path) -> None:
    """`1 message`, `1 finding`: never `1 messages`."""
    report = run_case(cache_dir, "fields_renumbered_for_new_field_1")
    (direction, *_) = {r.direction for r in report.replay}
    one_each = dataclasses.replace(
        report,
        replay=tuple(r for r in report.replay if r.direction == direction)[:1],
        lint=report.lint[:1],
    )
    text = render_summary(one_each)
    assert f"wire replay {direction}: 1 message (" in text
    assert not re.search(r"\b1 (messages|findings)\b", text)
    if report.lint:
        assert "buf lint: 1 finding" in text
    assert re.search(r"wire replay \w+: \d+ messages", render_summary(report))
