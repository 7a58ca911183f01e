"""Between a schema's message classes and the store's records, reading fields by name.

Nothing here imports generated stubs: the classes come from a `Schema`'s own pool, so the
same code serves the current schema, the legacy baseline or a deliberately broken one.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from toolkit.schema.pool import Schema
from toolkit.server.status import invalid_argument
from toolkit.server.store import StoredEpisode, StoredMemory

PACKAGE = "engram.v1"
NANOS_PER_SECOND = 1_000_000_000
_UNSIGNED_VARINT_TYPES = (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_UINT32)
# A timestamp is stored as signed 64-bit nanoseconds since the epoch (1677-09-21 to 2262-04-11).
MIN_NS = -(2**63)
MAX_NS = 2**63 - 1
MAX_EVENT_TYPES = 16
# Every stream numbers its events from 1: the encodings of the first sequence numbers are made
# once (on the first stream event) and shared by every stream.
SEQUENCE_FIELDS_KEPT = 16_384  # a Stream filter names each of the (three) event types at most once
# The encodings of the memories answered lately are kept (see `Messages.memory_wire`): at most
# this many, of at most this many bytes in all; past either, they are all dropped.
MEMORY_WIRES_KEPT = 4096
MEMORY_WIRE_BYTES_KEPT = 8 * 1024 * 1024


def timestamp_ns(timestamp: Any, field: str) -> int:
    """A Timestamp in nanoseconds, INVALID_ARGUMENT naming `field` when it cannot be stored."""
    nanos = timestamp.nanos
    value: int = timestamp.seconds * NANOS_PER_SECOND + nanos
    if not 0 <= nanos < NANOS_PER_SECOND or not MIN_NS <= value <= MAX_NS:
        raise invalid_argument(
            f"{field} is out of range: a timestamp must lie between 1677-09-21 and 2262-04-11"
            " (nanos 0-999999999)",
            field,
        )
    return value


def finite(value: float, field: str) -> float:
    if not math.isfinite(value):
        raise invalid_argument(f"{field} must be a finite number, not {value}", field)
    return value


def check_event_types(event_types: Any) -> None:
    if len(event_types) > MAX_EVENT_TYPES:
        raise invalid_argument(
            f"event_types names {len(event_types)} types; at most {MAX_EVENT_TYPES} are accepted",
            "event_types",
        )


@dataclass(frozen=True)
class Undecodable:
    """A request whose bytes did not parse; the handler answers INVALID_ARGUMENT."""

    error: str


def decoder(cls: type[Message]) -> Any:
    """A request deserializer that never raises, so bad bytes get a precise status."""

    def decode(data: bytes) -> Message | Undecodable:
        try:
            return cls.FromString(data)
        except (DecodeError, ValueError) as exc:
            return Undecodable(f"{cls.DESCRIPTOR.name} could not be parsed: {exc}")

    return decode


def set_if_present(message: Message, field: str, value: Any) -> None:
    """Set `field` when the schema has it (the legacy schema lacks the space fields)."""
    if field in message.DESCRIPTOR.fields_by_name:
        setattr(message, field, value)


def varint(value: int) -> bytes:
    """The protobuf base-128 encoding of a non-negative integer."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class Messages:
    """Message classes of one schema and conversions to and from stored records."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._classes: dict[str, type[Message]] = {}
        self._sequence_tag = self._unsigned_varint_tag("StreamResponse", "sequence")
        self._sequence_fields: list[bytes] = []  # sequence_field(n) for n < SEQUENCE_FIELDS_KEPT
        self._memories_tag = self._repeated_message_tag("RecallResponse", "memories")
        self._wires: dict[str, tuple[StoredMemory, bytes]] = {}
        self._wire_bytes = 0

    def parse(self, name: str, data: bytes) -> Any:
        message = self.new(name)
        message.ParseFromString(data)
        return message

    def _repeated_message_tag(self, message: str, field: str) -> bytes:
        descriptor = self.schema.message(f"{PACKAGE}.{message}").DESCRIPTOR
        found = descriptor.fields_by_name[field]
        if found.type != FieldDescriptor.TYPE_MESSAGE or not found.is_repeated:
            raise ValueError(f"{message}.{field} is not a repeated message field")
        return varint(found.number << 3 | 2)  # wire type 2: length-delimited

    def memory_wire(self, stored: StoredMemory) -> bytes:
        """`stored` as an encoded Memory. The encodings made lately are kept by memory id,
        each with the very record it encodes: a memory stored again (or another space's
        memory with the same id) is another record, and is encoded afresh."""
        kept = self._wires.get(stored.id)
        if kept is not None and kept[0] is stored:
            return kept[1]
        wire: bytes = self.memory(stored).SerializeToString()
        if len(self._wires) >= MEMORY_WIRES_KEPT or self._wire_bytes > MEMORY_WIRE_BYTES_KEPT:
            self._wires.clear()
            self._wire_bytes = 0
        self._wires[stored.id] = (stored, wire)
        self._wire_bytes += len(wire)
        return wire

    def recall_response(
        self, found: Sequence[StoredMemory], total: int, max_bytes: int
    ) -> tuple[bytes, int]:
        """An encoded RecallResponse: the first memories of `found` whose fields (tag, length
        and memory) fit in `max_bytes`, and `total` as total_matched; and how many it holds.

        A message's encoding is its fields' encodings one after another, so the memories'
        are joined as they are and the rest of the answer is encoded by its class."""
        tag = self._memories_tag
        parts: list[bytes] = []
        size = 0
        for stored in found:
            wire = self.memory_wire(stored)
            prefix = tag + varint(len(wire))
            size += len(prefix) + len(wire)
            if size > max_bytes:
                break
            parts += (prefix, wire)
        held = len(parts) // 2
        parts.append(self.new("RecallResponse", total_matched=total).SerializeToString())
        return b"".join(parts), held

    def new(self, name: str, **fields: Any) -> Any:
        cls = self._classes.get(name)
        if cls is None:
            cls = self._classes[name] = self.schema.message(f"{PACKAGE}.{name}")
        return cls(**fields)

    def _unsigned_varint_tag(self, message: str, field: str) -> bytes | None:
        """The tag of `message.field` when it is an unsigned varint field, else None."""
        descriptor = self.schema.message(f"{PACKAGE}.{message}").DESCRIPTOR
        found = descriptor.fields_by_name.get(field)
        if found is None or found.type not in _UNSIGNED_VARINT_TYPES or found.is_repeated:
            return None
        return varint(found.number << 3)

    def stored_memory(self, memory: Any, field: str = "memory") -> StoredMemory:
        """The memory to store; INVALID_ARGUMENT naming the field (under `field`) when a
        value cannot be stored: a confidence that is not finite, a timestamp out of range."""
        created = (
            timestamp_ns(memory.created_at, f"{field}.created_at")
            if memory.HasField("created_at")
            else time.time_ns()
        )
        return StoredMemory(
            id=memory.id or uuid.uuid4().hex,
            content=memory.content,
            confidence=finite(memory.confidence, f"{field}.confidence"),
            embedding=tuple(memory.embedding),
            created_at_ns=created,
        )

    def stored_episode(self, episode: Any, field: str = "episode") -> StoredEpisode:
        when = (
            timestamp_ns(episode.when, f"{field}.when")
            if episode.HasField("when")
            else time.time_ns()
        )
        return StoredEpisode(
            id=episode.id or uuid.uuid4().hex,
            what=episode.what,
            when_ns=when,
            where=episode.where,
            who=tuple(episode.who),
        )

    def memory(self, stored: StoredMemory) -> Any:
        message = self.new("Memory")
        fill_memory(message, stored)
        return message

    def stream_body(self, kind: int, memory: StoredMemory, timestamp_ns: int) -> bytes:
        """A StreamResponse without its sequence: the part every subscriber shares."""
        response = self.new("StreamResponse", event_type=kind)
        fill_memory(response.memory, memory)
        response.timestamp.seconds, response.timestamp.nanos = divmod(
            timestamp_ns, NANOS_PER_SECOND
        )
        body: bytes = response.SerializeToString()
        return body

    def sequence_field(self, sequence: int) -> bytes:
        """StreamResponse.sequence alone, encoded. Appended to `stream_body` it completes the
        message: a protobuf parser merges concatenated encodings of one message."""
        kept = self._sequence_fields
        if sequence < len(kept):
            return kept[sequence]
        if self._sequence_tag is not None:
            if not kept and sequence < SEQUENCE_FIELDS_KEPT:
                tag = self._sequence_tag
                kept.extend(tag + varint(n) for n in range(SEQUENCE_FIELDS_KEPT))
                return kept[sequence]
            return self._sequence_tag + varint(sequence)
        encoded: bytes = self.new("StreamResponse", sequence=sequence).SerializeToString()
        return encoded

    def episode_as_memory(self, episode: StoredEpisode) -> StoredMemory:
        """How an episode travels on a stream (StreamResponse carries a Memory)."""
        return StoredMemory(episode.id, episode.what, 1.0, (), episode.when_ns)


def fill_memory(message: Any, stored: StoredMemory) -> None:
    """Set a schema's `Memory` message (fresh, or a submessage) from a stored memory."""
    message.id = stored.id
    message.content = stored.content
    message.confidence = stored.confidence
    if stored.embedding:
        message.embedding.extend(stored.embedding)
    message.created_at.seconds, message.created_at.nanos = divmod(
        stored.created_at_ns, NANOS_PER_SECOND
    )
