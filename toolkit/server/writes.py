"""Group commit of streamed writes on one writer thread, so the event loop never waits on SQLite.

Every SQLite statement releases the GIL while it runs; in a busy process another thread takes it
then, and the thread that ran the statement waits to get it back. On the event loop that wait
stalls every call: under the stream benchmark a remember that takes 18 us alone took 142 us on
average on the loop (p90 293 us), a third of the loop's time. Calls that stream writes
(StreamingRemember) therefore hand each memory to `StoreWriter` and keep reading; the writer
thread commits whatever has gathered while its previous commit ran as one multi-row INSERT per
store (one statement, one commit). A write's callback runs, on the loop, once it is committed.

A group gathers for up to `GATHER_S` (2 ms) before its commit: at the stream benchmark's rate a
streamed write otherwise found the writer idle and was a commit of its own (one WAL append,
its locks and a hand-over each way per write). Measured alone, `remember_many` costs 59 us per
write one at a time, 19 us in groups of 7 and 12 us in groups of 20. The delay is the only
cost: a write is still acknowledged, and published, only once committed.

The writes that arrive during a commit gather on as well, until the first of them has waited
`GATHER_S`. Committed as soon as the commit before them ended, they were groups of 2 at the
stream benchmark's rate (36 us of commit a write, against 8 in groups of 64, and a wakeup of
the publisher and of every stream per group); gathering on, the server's CPU per fanned-out
message went from 146-151 us to 118-124 (`bench_server`, three runs each).

The hand-over costs the loop as little as it can: no executor, no future per write. The loop
appends each write to the gathering group; the writer thread takes a whole group from a
`queue.SimpleQueue`, commits it and hands its outcomes back with one `call_soon_threadsafe`, and
each write's `on_commit` callback then runs on the loop, in order. (Before, a ThreadPoolExecutor,
`wrap_future` and an asyncio future, queue slot and semaphore turn per write: with them gone,
and Stream sending everything waiting per wakeup, the loop's CPU per fanned-out message went
from about 126 to 109 us in one measurement under load.)

Single writes (unary Remember, MemoryFlow) are grouped on the loop itself, by `UnaryWrites`:
no thread, no hand-off (committing them on the writer thread raised the server's CPU per
Remember from about 750 us to 1,030 us, measured out of process with 32 calls in flight).
A commit costs the loop about 70-80 us whatever its size (of which SQLite's own work is a
fifth: the rest is its system calls and caches the grpc machinery keeps cold), and a commit of
each Remember alone was a fifth of the served process's CPU per call. Concurrent writes are
committed together while the loop is busy anyway (see `UnaryWrites`), so a lone writer's call
waits for nothing but the loop's next turn.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence

from toolkit.server.store import (
    MAX_ROWS_PER_INSERT,
    DiskFull,
    SpaceStore,
    StoreClosed,
    StoredMemory,
)

Outcome = StoredMemory | Exception
# Runs on the writer thread for each committed memory, so its work overlaps the loop's
# (which spends about half its time in system calls, without the GIL); what it returns is
# handed to `on_commit` with the outcome (None when the write failed or has no `prepare`).
Prepare = Callable[[StoredMemory], object]
OnCommit = Callable[[Outcome, object], None]
Write = tuple[SpaceStore, StoredMemory, OnCommit, Prepare | None]
_Group = list[Write]
# A group starts gathering with its first write and is committed GATHER_S later (or once the
# commit before it has ended, when that is later), or as soon as it holds MAX_ROWS_PER_INSERT
# writes (one statement), with every write handed over meanwhile.
GATHER_S = 0.002


def commit_group(writes: Sequence[tuple[SpaceStore, StoredMemory]]) -> list[Outcome]:
    """Commit `writes` in order, one statement per store; each write's outcome, in order (the
    memory as it reads back, or the store's error)."""
    by_store: dict[SpaceStore, list[int]] = {}
    for index, (store, _) in enumerate(writes):
        by_store.setdefault(store, []).append(index)
    outcomes: list[Outcome] = [memory for _, memory in writes]
    for store, indexes in by_store.items():
        try:
            stored = store.remember_many([writes[i][1] for i in indexes])
        except Exception as exc:  # handed to each waiting call, which reports it
            if len(indexes) == 1 or isinstance(exc, (StoreClosed, DiskFull)):
                for i in indexes:
                    outcomes[i] = exc
                continue
            # One bad row fails the whole statement: commit each write alone, so a bad
            # request fails only its own call, never another client's writes.
            for i in indexes:
                try:
                    outcomes[i] = store.remember(writes[i][1])
                except Exception as alone:
                    outcomes[i] = alone
            continue
        for i, memory in zip(indexes, stored, strict=True):
            outcomes[i] = memory
    return outcomes


def _resolve(future: asyncio.Future[StoredMemory], outcome: Outcome, _: object = None) -> None:
    if future.done():
        return  # the call was cancelled; its write stands
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _prepared(prepare: Prepare | None, outcome: Outcome) -> object:
    if prepare is None or isinstance(outcome, Exception):
        return None
    try:
        return prepare(outcome)
    except Exception:  # the loop prepares it again (and meets the error there)
        return None


class StoreWriter:
    """Commits memories handed over by one event loop, in arrival order, in groups."""

    gather_s = GATHER_S  # how long a group gathers before its commit (0: none, commit at once)

    def __init__(self) -> None:
        self._waiting: _Group = []
        self._in_flight = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._groups: queue.SimpleQueue[_Group | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._gathering: asyncio.TimerHandle | None = None  # the group's commit, once gathered
        self._first_at = 0.0  # when the first write of the waiting group was handed over

    def hand_over(
        self,
        store: SpaceStore,
        memory: StoredMemory,
        on_commit: OnCommit,
        prepare: Prepare | None = None,
    ) -> None:
        """Queue `memory`; `on_commit` runs on the loop with the memory as committed (or the
        store's error) and what `prepare` made of it on the writer thread, after the
        `on_commit` of every write handed over before."""
        waiting = self._waiting
        if not waiting:
            self._first_at = time.monotonic()
        waiting.append((store, memory, on_commit, prepare))
        if not self._in_flight:
            if self.gather_s <= 0:
                self._start()
                return
            self._in_flight = True
            self._idle.clear()
            self._gathering = asyncio.get_running_loop().call_later(self.gather_s, self._start)
        elif len(waiting) >= MAX_ROWS_PER_INSERT and self._gathering is not None:
            self._gathering.cancel()  # a full statement's worth: no reason to wait longer
            self._start()

    def submit(self, store: SpaceStore, memory: StoredMemory) -> asyncio.Future[StoredMemory]:
        """Queue `memory`; the future resolves once it is committed (or with the store's error)."""
        future: asyncio.Future[StoredMemory] = asyncio.get_running_loop().create_future()
        self.hand_over(store, memory, lambda outcome, _: _resolve(future, outcome))
        return future

    def _start(self) -> None:
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.Thread(
                target=self._commit_groups, name="engram-store-writer", daemon=True
            )
            self._thread.start()
        self._gathering = None
        group, self._waiting = self._waiting, []
        self._in_flight = True
        self._idle.clear()
        self._groups.put(group)

    def _commit_groups(self) -> None:
        """The writer thread: commit each group handed over, hand its outcomes back."""
        loop = self._loop
        assert loop is not None
        while (group := self._groups.get()) is not None:
            try:
                outcomes: Sequence[Outcome] = commit_group([(s, m) for s, m, _, _ in group])
            except Exception as exc:  # unforeseen: every write of the group reports it
                outcomes = [exc] * len(group)
            prepared = [
                _prepared(prepare, outcome)
                for (_, _, _, prepare), outcome in zip(group, outcomes, strict=True)
            ]
            try:
                loop.call_soon_threadsafe(self._finish, group, outcomes, prepared)
            except RuntimeError:  # the loop is closed: nobody waits for these any more
                return

    def _finish(
        self, group: _Group, outcomes: Sequence[Outcome], prepared: Sequence[object]
    ) -> None:
        self._in_flight = False
        for (_, _, on_commit, _), outcome, made in zip(group, outcomes, prepared, strict=True):
            on_commit(outcome, made)
        waiting = self._waiting
        if not waiting:
            self._idle.set()
            return
        # The writes that came during the commit gather on until the first of them has
        # waited `gather_s` (or they fill a statement).
        delay = self._first_at + self.gather_s - time.monotonic()
        if delay <= 0 or len(waiting) >= MAX_ROWS_PER_INSERT:
            self._start()
        else:
            self._in_flight = True
            self._gathering = asyncio.get_running_loop().call_later(delay, self._start)

    async def close(self) -> None:
        """Commit everything handed over so far, then stop the writer thread."""
        await self._idle.wait()
        thread, self._thread = self._thread, None
        if thread is not None:
            self._groups.put(None)
            await asyncio.to_thread(thread.join)


class UnaryWrites:
    """Unary writes committed together, on the event loop, while the loop is busy.

    A write joins the open group and is acknowledged once the group is committed (one
    statement per store, as `commit_group`). The group's commit is a callback at the loop's
    next turn; when it runs and the loop has other callbacks ready (calls in progress, other
    writes on their way in), it moves to the turn after, until the loop has nothing else
    ready, the group's first write has waited `gather_s`, or the group fills a statement.

    So a write waits only while the loop is busy anyway: a lone writer, or a few on an idle
    server, commit at the next turn (as if alone), while under load the writes that come
    during a turn share one commit. (Waiting for a number of writers instead, as a group
    commit in a database does, cost closed-loop clients with few calls in flight their
    pipelining: with 4 in flight the rate fell by 15%.) A write whose call ended
    (cancelled, past its deadline) before its group committed is left out: a call that did
    not succeed wrote nothing.

    Whether the loop has callbacks ready is read from asyncio's own loop (`_ready`, the
    queue of every `BaseEventLoop` since Python 3.4); a loop without it commits every group
    at the next turn.
    """

    gather_s = GATHER_S

    def __init__(self) -> None:
        self._group: list[tuple[SpaceStore, StoredMemory, asyncio.Future[StoredMemory]]] = []
        self._first_at = 0.0  # when the open group's first write came

    async def remember(self, store: SpaceStore, memory: StoredMemory) -> StoredMemory:
        """`memory` as committed to `store` (or the store's error), with the writes beside it."""
        loop = asyncio.get_running_loop()
        group = self._group
        if not group:
            if not getattr(loop, "_ready", True):
                return store.remember(memory)  # an idle loop: nothing to wait for
            self._first_at = time.monotonic()
            loop.call_soon(self._at_turn, loop)
        future: asyncio.Future[StoredMemory] = loop.create_future()
        group.append((store, memory, future))
        if len(group) >= MAX_ROWS_PER_INSERT:
            self._commit()
        return await future

    def _at_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._group:
            return  # committed meanwhile (a full statement)
        if getattr(loop, "_ready", None) and time.monotonic() - self._first_at < self.gather_s:
            loop.call_soon(self._at_turn, loop)
            return
        self._commit()

    def _commit(self) -> None:
        group, self._group = self._group, []
        live = [(store, memory, future) for store, memory, future in group if not future.done()]
        try:
            outcomes = commit_group([(store, memory) for store, memory, _ in live])
        except Exception as exc:  # unforeseen: every write of the group reports it
            outcomes = [exc] * len(live)
        for (_, _, future), outcome in zip(live, outcomes, strict=True):
            _resolve(future, outcome)
