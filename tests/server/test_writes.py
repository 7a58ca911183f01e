"""Streamed writes: grouped commits on the writer thread, published in order once committed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.server.calls import Collector
from tests.server.conftest import Client
from toolkit.server.store import MAX_ROWS_PER_INSERT, SpaceStore, StoreClosed, StoredMemory
from toolkit.server.writes import StoreWriter


def memory(memory_id: str, content: str = "c") -> StoredMemory:
    return StoredMemory(memory_id, content, 0.5, (1.0,), 1)


@pytest.mark.parametrize("rows", [1, 3, MAX_ROWS_PER_INSERT, MAX_ROWS_PER_INSERT * 3 + 1])
def test_remember_many_stores_in_order_and_the_last_duplicate_wins(
    tmp_path: Path, rows: int
) -> None:
    store = SpaceStore.open(tmp_path / "space")
    try:
        memories = [memory(f"m{n}") for n in range(rows)] + [memory("m0", "again")]
        store.remember_many(memories)
        found, total = store.find()
        assert total == rows
        assert [m.id for m in found] == [f"m{n}" for n in range(rows)]
        assert found[0].content == "again" and found[0].embedding == (1.0,)
    finally:
        store.close()


def test_remember_many_on_a_closed_store_raises(tmp_path: Path) -> None:
    store = SpaceStore.open(tmp_path / "space")
    store.close()
    with pytest.raises(StoreClosed):
        store.remember_many([memory("m1")])


def test_the_writer_commits_every_write_and_reports_a_closed_store(tmp_path: Path) -> None:
    open_store = SpaceStore.open(tmp_path / "open")
    closed_store = SpaceStore.open(tmp_path / "closed")
    closed_store.close()

    async def run() -> list[object]:
        writer = StoreWriter()
        futures = [
            writer.submit(open_store if n % 4 else closed_store, memory(f"m{n}"))
            for n in range(400)
        ]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        await writer.close()
        return outcomes

    try:
        outcomes = asyncio.run(run())
        for n, outcome in enumerate(outcomes):
            if n % 4:
                assert outcome == memory(f"m{n}")
            else:
                assert isinstance(outcome, StoreClosed)
        found, total = open_store.find()
        assert total == 300
        assert [m.id for m in found] == [f"m{n}" for n in range(400) if n % 4]
    finally:
        open_store.close()


def test_streamed_writes_are_published_in_order_and_stored(client: Client) -> None:
    client.create_space("streamed")
    collector = Collector(client.subscribe("streamed"))
    try:
        requests = [
            client.msg(
                "StreamingRememberRequest",
                memory=client.msg("Memory", id=f"s{n}", content=f"streamed {n}"),
                memory_space_id="streamed",
            )
            for n in range(500)
        ]
        response = client.call("StreamingRemember", iter(requests))
        assert response.count == 500
        assert client.recall("streamed", contains="streamed").total_matched == 500
        collector.wait_for(500)
        assert collector.seen == [(n + 1, f"s{n}") for n in range(500)]
    finally:
        collector.stop()


class CountingStore(SpaceStore):
    """The product's store, recording how many rows each grouped commit held."""

    groups: list[int]

    def remember_many(self, memories: Sequence[StoredMemory]) -> list[StoredMemory]:
        self.__dict__.setdefault("groups", []).append(len(memories))
        return super().remember_many(memories)


class CommitAtOnceWriter(StoreWriter):
    """Deliberately broken: commits the first write that finds it idle at once, alone."""

    gather_s = 0.0


def groups_of(writer: StoreWriter, store: CountingStore, writes: int) -> list[int]:
    """The rows of each commit when `writes` streamed writes arrive in one loop turn."""

    async def run() -> None:
        futures = [writer.submit(store, memory(f"m{n}")) for n in range(writes)]
        await asyncio.gather(*futures)
        await writer.close()

    asyncio.run(run())
    return store.groups


@pytest.mark.parametrize(
    ("writer", "expected"),
    [
        (StoreWriter, [10]),
        (CommitAtOnceWriter, [1, 9]),
    ],
)
def test_streamed_writes_gather_into_one_commit(
    tmp_path: Path, writer: type[StoreWriter], expected: list[int]
) -> None:
    store = CountingStore.open(tmp_path / "space")
    try:
        assert groups_of(writer(), store, 10) == expected
        assert store.find()[1] == 10
    finally:
        store.close()


def test_a_full_statement_is_committed_without_waiting(tmp_path: Path) -> None:
    store = CountingStore.open(tmp_path / "space")
    try:
        # The first MAX_ROWS_PER_INSERT go at once; the rest gathered during that commit.
        rows = MAX_ROWS_PER_INSERT * 2 + 5
        assert groups_of(StoreWriter(), store, rows) == [
            MAX_ROWS_PER_INSERT,
            rows - MAX_ROWS_PER_INSERT,
        ]
    finally:
        store.close()


class SlowCommitStore(CountingStore):
    """A store whose every commit takes 100 ms (on the writer thread)."""

    def remember_many(self, memories: Sequence[StoredMemory]) -> list[StoredMemory]:
        time.sleep(0.1)
        return super().remember_many(memories)


class GatheringWriter(StoreWriter):
    gather_s = 0.3


class CommitsLateWritesAtOnceWriter(GatheringWriter):
    """Deliberately broken (the writer before): the writes that came during a commit are
    committed as soon as it ends, however few (at the stream benchmark's rate, groups of 2)."""

    def _finish(
        self, group: Sequence[Any], outcomes: Sequence[Any], prepared: Sequence[object]
    ) -> None:
        self._in_flight = False
        for (_, _, on_commit, _), outcome, made in zip(group, outcomes, prepared, strict=True):
            on_commit(outcome, made)
        if self._waiting:
            self._start()
        else:
            self._idle.set()


@pytest.mark.parametrize(
    ("writer", "expected"),
    [
        (GatheringWriter, [1, 2]),
        (CommitsLateWritesAtOnceWriter, [1, 1, 1]),
    ],
)
def test_writes_that_come_during_a_commit_gather_on(
    tmp_path: Path, writer: type[StoreWriter], expected: list[int]
) -> None:
    """m0 gathers 0.3 s and is committed from 0.3 to 0.4 s; m1 comes during that commit
    (0.35 s), m2 after it (0.55 s) but before m1 has waited its 0.3 s: one group."""
    store = SlowCommitStore.open(tmp_path / "space")

    async def run() -> None:
        writes = writer()
        first = writes.submit(store, memory("m0"))
        await asyncio.sleep(0.35)
        second = writes.submit(store, memory("m1"))
        await asyncio.sleep(0.2)
        third = writes.submit(store, memory("m2"))
        await asyncio.gather(first, second, third)
        await writes.close()

    try:
        asyncio.run(run())
        assert store.groups == expected
        assert store.find()[1] == 3
    finally:
        store.close()
