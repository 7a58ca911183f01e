"""Unary writes (Remember, MemoryFlow's remember) committed together on the loop while it is
busy (`UnaryWrites`), each acknowledged only once committed; a lone write waits for nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.server.test_writes import CountingStore as StreamCountingStore
from tests.server.test_writes import memory
from toolkit.server.store import SpaceStore, StoredMemory
from toolkit.server.writes import UnaryWrites, commit_group


class CountingStore(StreamCountingStore):
    """`test_writes`' counting store, a write committed alone counting as a group of 1."""

    def remember(self, memory: StoredMemory) -> StoredMemory:
        self.__dict__.setdefault("groups", []).append(1)
        return super().remember(memory)


class CommitsEachAlone(UnaryWrites):
    """Deliberately broken (the server before): every write is a commit of its own."""

    async def remember(self, store: SpaceStore, memory: StoredMemory) -> StoredMemory:
        return store.remember(memory)


class AlwaysGathers(UnaryWrites):
    """Deliberately broken: every group waits its whole gather time, even on an idle loop
    (a lone writer's every call waits)."""

    async def remember(self, store: SpaceStore, memory: StoredMemory) -> StoredMemory:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[StoredMemory] = loop.create_future()
        if not self._group:
            loop.call_later(self.gather_s, self._commit)
        self._group.append((store, memory, future))
        return await future


class WaitsWhileBusy(UnaryWrites):
    """Deliberately broken: gathers as long as the loop is busy, however long that is."""

    gather_s = 1e9


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CountingStore]:
    opened = CountingStore.open(tmp_path / "space")
    yield opened
    opened.close()


def concurrent_writes_of(
    writes: UnaryWrites, store: SpaceStore, memories: Sequence[StoredMemory]
) -> list[StoredMemory]:
    """Calls that each write one of `memories`, all started in one turn of the loop."""

    async def run() -> list[StoredMemory]:
        return await asyncio.gather(*(writes.remember(store, m) for m in memories))

    return asyncio.run(run())


def concurrent_writes(writes: UnaryWrites, store: SpaceStore, count: int) -> list[StoredMemory]:
    return concurrent_writes_of(writes, store, [memory(f"m{n}") for n in range(count)])


@pytest.mark.parametrize(("writes", "commits"), [(UnaryWrites, [10]), (CommitsEachAlone, [1] * 10)])
def test_writes_that_come_while_the_loop_is_busy_share_one_commit(
    store: CountingStore, writes: type[UnaryWrites], commits: list[int]
) -> None:
    committed = concurrent_writes(writes(), store, 10)
    assert [m.id for m in committed] == [f"m{n}" for n in range(10)]
    assert store.groups == commits
    assert store.find()[1] == 10


class AnswersWhatWasSent(UnaryWrites):
    """Deliberately broken (grouped writes before): answers each write with the memory as it
    was handed over, not as the store holds it (an embedding in float64, not float32)."""

    def _commit(self) -> None:
        group, self._group = self._group, []
        commit_group([(store, sent) for store, sent, _ in group])
        for _, sent, future in group:
            future.set_result(sent)


@pytest.mark.parametrize(
    ("writes", "as_stored"), [(UnaryWrites, True), (AnswersWhatWasSent, False)]
)
def test_a_grouped_write_is_answered_as_it_reads_back(
    store: CountingStore, writes: type[UnaryWrites], as_stored: bool
) -> None:
    written = StoredMemory("m", "c", 0.5, (0.1,), 1)
    committed, _ = concurrent_writes_of(writes(), store, [written, memory("other")])
    assert store.groups == [2]
    assert (committed == store.find(memory_id="m")[0][0]) is as_stored


@pytest.mark.parametrize(("writes", "waits"), [(UnaryWrites, False), (AlwaysGathers, True)])
def test_a_lone_write_on_an_idle_loop_waits_for_nothing(
    store: CountingStore, writes: type[UnaryWrites], waits: bool
) -> None:
    class Slow(writes):  # type: ignore[valid-type,misc]
        gather_s = 0.5

    async def run() -> float:
        lone = Slow()
        started = time.monotonic()
        for n in range(3):  # a sequential writer: each call waits for its answer
            await lone.remember(store, memory(f"m{n}"))
        return time.monotonic() - started

    elapsed = asyncio.run(run())
    assert (elapsed >= 1.5) is waits, elapsed
    assert store.find()[1] == 3


async def _busy_loop(seconds: float) -> None:
    """Keep a callback ready on the loop for `seconds` (as calls in progress would)."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        await asyncio.sleep(0)


@pytest.mark.parametrize(("writes", "bounded"), [(UnaryWrites, True), (WaitsWhileBusy, False)])
def test_a_group_waits_at_most_its_gather_time_however_busy_the_loop(
    store: CountingStore, writes: type[UnaryWrites], bounded: bool
) -> None:
    async def run() -> float:
        gathering = writes()
        busy = asyncio.create_task(_busy_loop(1.0))
        await asyncio.sleep(0)
        started = time.monotonic()
        await gathering.remember(store, memory("m"))
        elapsed = time.monotonic() - started
        await busy
        return elapsed

    elapsed = asyncio.run(run())
    assert (elapsed < 0.5) is bounded, elapsed


class CommitsCancelledWrites(UnaryWrites):
    """Deliberately broken: commits the writes of calls that already ended."""

    def _commit(self) -> None:
        group, self._group = self._group, []
        outcomes = commit_group([(s, m) for s, m, _ in group])
        for (_, _, future), outcome in zip(group, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)  # type: ignore[arg-type]


@pytest.mark.parametrize(("writes", "stored"), [(UnaryWrites, 0), (CommitsCancelledWrites, 1)])
def test_a_call_that_ends_before_its_commit_writes_nothing(
    store: CountingStore, writes: type[UnaryWrites], stored: int
) -> None:
    class Patient(writes):  # type: ignore[valid-type,misc]
        gather_s = 30.0  # the group commits once the busy loop is idle, long after the cancel

    async def run() -> None:
        gathering = Patient()
        busy = asyncio.create_task(_busy_loop(0.2))
        await asyncio.sleep(0)
        call = asyncio.create_task(gathering.remember(store, memory("gone")))
        await asyncio.sleep(0)  # the write is in the open group, waiting for the busy loop
        call.cancel()  # the client went away (or its deadline passed)
        with pytest.raises(asyncio.CancelledError):
            await call
        await busy

    asyncio.run(run())
    assert store.find()[1] == stored


class RefusesOneRow(CountingStore):
    """A store on which the row with id "bad" always fails (as a constraint would)."""

    def remember(self, memory: StoredMemory) -> StoredMemory:
        if memory.id == "bad":
            raise sqlite3.IntegrityError("refused")
        return super().remember(memory)

    def remember_many(self, memories: Sequence[StoredMemory]) -> list[StoredMemory]:
        if any(m.id == "bad" for m in memories):
            raise sqlite3.IntegrityError("refused")
        return super().remember_many(memories)


def test_one_failing_write_fails_only_its_own_call(tmp_path: Path) -> None:
    store = RefusesOneRow.open(tmp_path / "space")

    async def run() -> list[object]:
        writes = UnaryWrites()
        ids = ["a", "bad", "b", "c"]
        calls = (writes.remember(store, memory(i)) for i in ids)
        return await asyncio.gather(*calls, return_exceptions=True)

    try:
        outcomes = asyncio.run(run())
        assert isinstance(outcomes[1], sqlite3.IntegrityError)
        assert [o.id for o in outcomes if isinstance(o, StoredMemory)] == ["a", "b", "c"]
        assert store.find()[1] == 3
    finally:
        store.close()


def test_asyncio_loops_still_expose_their_ready_queue() -> None:
    """`UnaryWrites` reads whether the loop is busy from asyncio's own queue of ready
    callbacks; without it every group commits at the next turn (no grouping at all)."""

    async def ready() -> object:
        return getattr(asyncio.get_running_loop(), "_ready", None)

    assert asyncio.run(ready()) is not None
