"""Between a schema's message classes and the store's records, reading fields by name.

Nothing here imports generated stubs: the classes come from a `Schema`'s own pool, so the
same code serves the current schema, the legacy baseline or a deliberately broken one.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from toolkit.schema.pool import Schema
from toolkit.server.store import StoredEpisode, StoredMemory

PACKAGE = "engram.v1"
NANOS_PER_SECOND = 1_000_000_000
_UNSIGNED_VARINT_TYPES = (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_UINT32)


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

    def stored_memory(self, memory: Any) -> StoredMemory:
        created = (
            memory.created_at.ToNanoseconds() if memory.HasField("created_at") else time.time_ns()
        )
        return StoredMemory(
            id=memory.id or uuid.uuid4().hex,
            content=memory.content,
            confidence=memory.confidence,
            embedding=tuple(memory.embedding),
            created_at_ns=created,
        )

    def stored_episode(self, episode: Any) -> StoredEpisode:
        when = episode.when.ToNanoseconds() if episode.HasField("when") else time.time_ns()
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
        if self._sequence_tag is not None:
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
