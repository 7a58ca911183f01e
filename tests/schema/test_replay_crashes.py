"""Regression tests: schemas that used to crash, hang or blow up the check are judged."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pb2 import FieldDescriptorProto as FDP

from tests.schema.conftest import run_check
from toolkit import cli
from toolkit.schema.diff import Names
from toolkit.schema.pool import Schema
from toolkit.schema.replay import replay

ONEOF_JSON_NAMES = """// engram-schema-version: {version}
syntax = "proto3";
package crash.v1;

message Choice {{
  oneof pick {{
    string a = 1 [json_name = "b"];
    string b = 2 [json_name = "a"];
  }}
  {extra}
}}
"""


def _write(root: Path, text: str) -> Path:
    target = root / "crash" / "v1" / "crash.proto"
    target.parent.mkdir(parents=True)
    target.write_text(text)
    return root


def test_json_names_the_runtime_refuses_are_still_judged(tmp_path: Path, cache_dir: Path) -> None:
    # protoc accepts these names; Python's runtime refuses the file as written.
    base = _write(tmp_path / "base", ONEOF_JSON_NAMES.format(version="1.0.0", extra=""))
    current = _write(
        tmp_path / "current",
        ONEOF_JSON_NAMES.format(version="1.1.0", extra="int32 added = 3;"),
    )
    report = run_check(cache_dir, baselines=[str(base)], current=str(current))
    outcomes = {(r.message, r.direction): r.outcome for r in report.replay}
    assert outcomes[("crash.v1.Choice", "old_to_new")] == "NEW_FIELD_DEFAULT"
    assert outcomes[("crash.v1.Choice", "new_to_old")] == "IGNORED_BY_OLD"


@pytest.mark.parametrize("error", [RuntimeError("boom"), RecursionError("too deep")])
def test_an_internal_error_is_exit_2_in_one_line(
    error: Exception,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr("toolkit.schema.check.check", broken)
    code = cli.main(["check", "--json", str(tmp_path / "s.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("engram-compat check: error: internal error")
    assert type(error).__name__ in err[0]


def _chain(length: int, leaf_type: int) -> descriptor_pb2.FileDescriptorSet:
    """Messages C0 -> C1 -> ... -> C{length-1}, each holding the next; plus one type nested
    `length` levels deep and a message that holds itself."""
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="chain.proto", package="chain", syntax="proto3"
    )
    for i in range(length):
        message = file_proto.message_type.add(name=f"C{i}")
        if i + 1 < length:
            message.field.add(
                name="next", number=1, type=FDP.TYPE_MESSAGE, type_name=f".chain.C{i + 1}"
            )
        else:
            message.field.add(name="leaf", number=1, type=leaf_type)
    node = file_proto.message_type.add(name="Node")
    node.field.add(name="child", number=1, type=FDP.TYPE_MESSAGE, type_name=".chain.Node")
    node.field.add(name="value", number=2, type=leaf_type)
    holder = file_proto.message_type.add(name="Deep")
    for _ in range(60):
        holder = holder.nested_type.add(name="D")
    holder.field.add(name="value", number=1, type=leaf_type)
    return descriptor_pb2.FileDescriptorSet(file=[file_proto])


def test_long_chains_deep_nesting_and_self_reference_never_recurse_too_deep() -> None:
    limit = sys.getrecursionlimit()
    old, new = _chain(3000, FDP.TYPE_INT64), _chain(3000, FDP.TYPE_INT32)
    run = replay(Schema(old), Schema(new), Names(()), "b")
    outcomes = {(r.message, r.direction): r.outcome for r in run.results}
    # The leaf truncates 64-bit values; every message holding it, however far up, says so.
    assert outcomes[("chain.C0", "old_to_new")] == "CHANGED"
    assert outcomes[("chain.C0", "new_to_old")] == "IDENTICAL"
    assert outcomes[("chain.Node", "old_to_new")] == "CHANGED"
    assert outcomes[("chain.Deep" + ".D" * 60, "old_to_new")] == "CHANGED"
    assert sys.getrecursionlimit() == limit


def test_reserved_to_max_is_replayed_without_blowing_up() -> None:
    def schema(extra: bool) -> descriptor_pb2.FileDescriptorSet:
        file_proto = descriptor_pb2.FileDescriptorProto(
            name="r.proto", package="r", syntax="proto3"
        )
        message = file_proto.message_type.add(name="R")
        message.reserved_range.add(start=10, end=536870912)  # reserved 10 to max
        message.field.add(name="a", number=1, type=FDP.TYPE_STRING)
        if extra:
            message.field.add(name="b", number=2, type=FDP.TYPE_STRING)
        return descriptor_pb2.FileDescriptorSet(file=[file_proto])

    started = time.perf_counter()
    run = replay(Schema(schema(False)), Schema(schema(True)), Names(()), "b")
    assert time.perf_counter() - started < 10
    outcomes = {(r.message, r.direction): r.outcome for r in run.results}
    assert outcomes[("r.R", "old_to_new")] == "NEW_FIELD_DEFAULT"
    same = replay(Schema(schema(False)), Schema(schema(False)), Names(()), "b")
    assert {r.samples for r in same.results} == {0}


def test_a_large_schema_is_replayed_quickly() -> None:
    # About 5 MB of descriptors: 13,000 messages of 12 fields, every one changed.
    def schema(extra: bool) -> descriptor_pb2.FileDescriptorSet:
        file_proto = descriptor_pb2.FileDescriptorProto(
            name="big.proto", package="big", syntax="proto3"
        )
        for i in range(13000):
            message = file_proto.message_type.add(name=f"Message{i:05d}WithALongerName")
            for n in range(1, 12):
                message.field.add(
                    name=f"field_number_{n}_of_message", number=n, type=FDP.TYPE_STRING
                )
            if extra:
                message.field.add(name="added", number=12, type=FDP.TYPE_INT64)
        return descriptor_pb2.FileDescriptorSet(file=[file_proto])

    old, new = schema(False), schema(True)
    assert old.ByteSize() > 5_000_000
    started = time.perf_counter()
    run = replay(Schema(old), Schema(new), Names(()), "b")
    elapsed = time.perf_counter() - started
    assert len(run.results) == 26000
    assert elapsed < 60, elapsed  # a few seconds on an idle machine; generous for shared CI


def test_a_message_whose_replay_fails_is_not_replayable_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.schema.test_replay_kinds import Spec, build, one
    from toolkit.schema import replay as replay_module

    real = replay_module.replay_pair

    def flaky(writer: Any, reader: Any, direction: Any) -> Any:
        if writer.DESCRIPTOR.name == "M":
            raise ValueError("unsupported sample")
        return real(writer, reader, direction)

    monkeypatch.setattr(replay_module, "replay_pair", flaky)
    old: Spec = one("int32")
    run = replay(Schema(build(old)), Schema(build(one("int64"))), Names(()), "b")
    outcomes = {(r.message, r.direction): r.outcome for r in run.results}
    assert outcomes[("kinds.v1.M", "old_to_new")] == "NOT_REPLAYABLE"
    assert outcomes[("kinds.v1.Sub", "old_to_new")] == "IDENTICAL"
