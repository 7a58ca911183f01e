"""The hot path of a call: a named space's resolution is kept and reused only while the
registry hands out the same handle, and a Recall answer is encoded from kept encodings only
while they encode the very record the store holds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest

from toolkit.schema.pool import load_schema
from toolkit.server import resolve
from toolkit.server.messages import Messages
from toolkit.server.registry import MemorySpaceRegistry
from toolkit.server.resolve import Resolution, SpaceResolver
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.status import RpcFailure
from toolkit.server.store import StoredMemory

SPACE = MemorySpaceId("team-a")
HEADER = (("x-engram-memory-space", "team-a"),)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[MemorySpaceRegistry]:
    opened = MemorySpaceRegistry(tmp_path / "data")
    opened.create(MemorySpaceId("default"))
    yield opened
    opened.close()


class KeepsForever(SpaceResolver):
    """Deliberately broken: reuses a kept resolution without asking the registry."""

    def _current(self, resolution: Resolution) -> bool:
        return True


def resolve_named(resolver: SpaceResolver) -> Resolution:
    return resolver.resolve("Remember", None, HEADER, "ipv4:127.0.0.1:1")


@pytest.mark.parametrize(("resolver", "afresh"), [(SpaceResolver, True), (KeepsForever, False)])
def test_a_deleted_space_is_resolved_afresh(
    registry: MemorySpaceRegistry, resolver: type[SpaceResolver], afresh: bool
) -> None:
    routing = resolver(registry, MemorySpaceId("default"))
    first = registry.create(SPACE)
    assert resolve_named(routing).handle is first
    assert resolve_named(routing) is resolve_named(routing)  # kept
    registry.delete(SPACE)
    if afresh:
        with pytest.raises(RpcFailure) as raised:
            resolve_named(routing)
        assert raised.value.code is grpc.StatusCode.NOT_FOUND
    else:
        assert resolve_named(routing).handle is first  # a deleted space's handle
    again = registry.create(SPACE)
    assert (resolve_named(routing).handle is again) is afresh


def test_the_kept_resolutions_are_bounded(
    registry: MemorySpaceRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolve, "RESOLUTIONS_KEPT", 4)
    routing = SpaceResolver(registry, MemorySpaceId("default"))
    for n in range(10):
        space = MemorySpaceId(f"space-{n}")
        registry.create(space)
        routing.resolve("Remember", None, (("x-engram-memory-space", space),), "peer")
        assert len(routing._resolved) <= 4


def test_a_call_that_names_no_space_is_never_kept(registry: MemorySpaceRegistry) -> None:
    routing = SpaceResolver(registry, MemorySpaceId("default"))
    first, second = (routing.resolve("Remember", None, (), "peer") for _ in range(2))
    assert first.deprecated and second.deprecated and first is not second
    assert first.deprecation  # each deprecated call is told (and logged)
    assert routing._resolved == {}


# --- Recall's encoding -----------------------------------------------------------------------

SCHEMA = load_schema("current")


def stored(memory_id: str, content: str, embedding: tuple[float, ...] = ()) -> StoredMemory:
    return StoredMemory(memory_id, content, 0.25, embedding, 1_700_000_000_123_456_789)


def as_message(messages: Messages, found: Sequence[StoredMemory], total: int) -> Any:
    """The same answer built message by message (as the server built it before)."""
    memories = [messages.memory(m) for m in found]
    return messages.new("RecallResponse", memories=memories, total_matched=total)


def test_the_encoded_answer_is_the_message_answer() -> None:
    messages = Messages(SCHEMA)
    found = [stored("a", "first", (0.5, -1.0)), stored("b", ""), stored("c", "x" * 300)]
    encoded, held = messages.recall_response(found, 7, 1 << 20)
    assert held == 3
    assert messages.parse("RecallResponse", encoded) == as_message(messages, found, 7)
    empty, held = messages.recall_response([], 0, 1 << 20)
    assert (empty, held) == (b"", 0)


def test_the_byte_bound_counts_each_memory_with_its_tag_and_length() -> None:
    messages = Messages(SCHEMA)
    found = [stored(f"m{n}", "y" * 200) for n in range(10)]
    one = len(as_message(messages, found[:1], 0).SerializeToString())
    encoded, held = messages.recall_response(found, 10, 3 * one)
    assert held == 3
    encoded, held = messages.recall_response(found, 10, 3 * one - 1)
    assert held == 2
    assert len(messages.parse("RecallResponse", encoded).memories) == 2


class KeepsById(Messages):
    """Deliberately broken: reuses a kept encoding by memory id alone."""

    def memory_wire(self, memory: StoredMemory) -> bytes:
        kept = self._wires.get(memory.id)
        if kept is not None:
            return kept[1]
        return super().memory_wire(memory)


@pytest.mark.parametrize(("messages", "fresh"), [(Messages, True), (KeepsById, False)])
def test_a_memory_stored_again_is_encoded_again(messages: type[Messages], fresh: bool) -> None:
    encoding = messages(SCHEMA)
    before = stored("m", "before")
    encoding.recall_response([before], 1, 1 << 20)
    after = replace(before, content="after")  # the same id, stored again
    answer = encoding.parse("RecallResponse", encoding.recall_response([after], 1, 1 << 20)[0])
    assert (answer.memories[0].content == "after") is fresh


def test_the_kept_encodings_are_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.server import messages as module

    monkeypatch.setattr(module, "MEMORY_WIRE_BYTES_KEPT", 10_000)
    encoding = Messages(SCHEMA)
    for n in range(100):
        encoding.recall_response([stored(f"m{n}", "z" * 1_000)], 1, 1 << 20)
        assert encoding._wire_bytes <= 10_000 + 1_100
