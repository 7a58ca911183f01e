"""A stream event is encoded once and each subscriber appends only its sequence field."""

from __future__ import annotations

import pytest

from toolkit.schema.pool import SchemaName, load_schema
from toolkit.server.messages import Messages, varint
from toolkit.server.store import StoredMemory

MEMORY = StoredMemory("m1", "some content", 0.25, (1.0, 2.5), 1_700_000_000_123_456_789)


@pytest.mark.parametrize("value", [1, 127, 128, 300, 2**32, 2**64 - 1])
def test_varint_matches_protobuf(value: int) -> None:
    schema = load_schema("current")
    response = schema.message("engram.v1.StreamResponse")(sequence=value)
    assert b"\x20" + varint(value) == response.SerializeToString()


def test_varint_of_zero_is_one_byte() -> None:
    assert varint(0) == b"\x00"


def is_whole_response(messages: Messages, wire: bytes, sequence: int) -> bool:
    expected = messages.new("StreamResponse", event_type=3, sequence=sequence)
    expected.memory.CopyFrom(messages.memory(MEMORY))
    expected.timestamp.FromNanoseconds(1_700_000_001_000_000_001)
    parsed = messages.schema.message("engram.v1.StreamResponse").FromString(wire)
    return bool(parsed == expected)


@pytest.mark.parametrize("schema_name", ["current", "legacy"])
@pytest.mark.parametrize("sequence", [1, 2, 127, 128, 99_999, 2**40])
def test_body_plus_sequence_field_is_the_whole_response(
    schema_name: SchemaName, sequence: int
) -> None:
    messages = Messages(load_schema(schema_name))
    body = messages.stream_body(3, MEMORY, 1_700_000_001_000_000_001)
    assert is_whole_response(messages, body + messages.sequence_field(sequence), sequence)


def test_the_check_fails_for_a_wrong_sequence_encoding() -> None:
    messages = Messages(load_schema("current"))
    body = messages.stream_body(3, MEMORY, 1_700_000_001_000_000_001)
    low_byte_only = b"\x20" + bytes([300 & 0x7F])  # a varint cut to its first 7 bits
    assert not is_whole_response(messages, body + low_byte_only, 300)
    assert not is_whole_response(messages, body, 300)
