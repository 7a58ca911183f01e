"""Between a schema's message classes and the store's records, reading fields by name.

Nothing here imports generated stubs: the classes come from a `Schema`'s own pool, so the
same code serves the current schema, the legacy baseline or a deliberately broken one.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, Message

from toolkit.schema.pool import Schema
from toolkit.server.store import StoredEpisode, StoredMemory

PACKAGE = "engram.v1"


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


class Messages:
    """Message classes of one schema and conversions to and from stored records."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._classes: dict[str, type[Message]] = {}

    def new(self, name: str, **fields: Any) -> Any:
        cls = self._classes.get(name)
        if cls is None:
            cls = self._classes[name] = self.schema.message(f"{PACKAGE}.{name}")
        return cls(**fields)

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
        message = self.new(
            "Memory",
            id=stored.id,
            content=stored.content,
            confidence=stored.confidence,
            embedding=stored.embedding,
        )
        message.created_at.FromNanoseconds(stored.created_at_ns)
        return message

    def episode_as_memory(self, episode: StoredEpisode) -> StoredMemory:
        """How an episode travels on a stream (StreamResponse carries a Memory)."""
        return StoredMemory(episode.id, episode.what, 1.0, (), episode.when_ns)
