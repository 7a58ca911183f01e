"""Group commit of streamed writes on one writer thread, so the event loop never waits on SQLite.

Every SQLite statement releases the GIL while it runs; in a busy process another thread takes it
then, and the thread that ran the statement waits to get it back. On the event loop that wait
stalls every call: under the stream benchmark a remember that takes 18 us alone took 142 us on
average on the loop (p90 293 us), a third of the loop's time. Calls that stream writes
(StreamingRemember) therefore hand each memory to `StoreWriter` and keep reading; the writer
thread commits whatever has gathered while its previous commit ran as one multi-row INSERT per
store (one statement, one commit). A write's future resolves, on the loop, once it is committed.

Single writes (unary Remember, MemoryFlow) still commit inline on the loop: one hand-off each
way costs more than it saves when there is nothing to group (measured), and, measured again
out of process with 32 unary calls in flight (issue 13.9), group-committing them raised the
server's CPU per Remember from about 750 us to 1,030 us and lowered its rate.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence

from toolkit.server.store import DiskFull, SpaceStore, StoreClosed, StoredMemory

Outcome = StoredMemory | Exception
Write = tuple[SpaceStore, StoredMemory, "asyncio.Future[StoredMemory]"]


def commit_group(writes: Sequence[tuple[SpaceStore, StoredMemory]]) -> list[Outcome]:
    """Commit `writes` in order, one statement per store; each write's outcome, in order."""
    by_store: dict[SpaceStore, list[int]] = {}
    for index, (store, _) in enumerate(writes):
        by_store.setdefault(store, []).append(index)
    outcomes: list[Outcome] = [memory for _, memory in writes]
    for store, indexes in by_store.items():
        try:
            store.remember_many([writes[i][1] for i in indexes])
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
    return outcomes


class StoreWriter:
    """Commits memories handed over by one event loop, in arrival order, in groups."""

    def __init__(self) -> None:
        self._waiting: list[Write] = []
        self._in_flight = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="engram-store-writer"
        )

    def submit(self, store: SpaceStore, memory: StoredMemory) -> asyncio.Future[StoredMemory]:
        """Queue `memory`; the future resolves once it is committed (or with the store's error)."""
        future: asyncio.Future[StoredMemory] = asyncio.get_running_loop().create_future()
        self._waiting.append((store, memory, future))
        if not self._in_flight:
            self._start()
        return future

    def _start(self) -> None:
        group, self._waiting = self._waiting, []
        self._in_flight = True
        self._idle.clear()
        writes = [(store, memory) for store, memory, _ in group]
        committed = asyncio.wrap_future(self._executor.submit(commit_group, writes))
        committed.add_done_callback(lambda done: self._finish(group, done))

    def _finish(self, group: list[Write], done: asyncio.Future[list[Outcome]]) -> None:
        self._in_flight = False
        error = done.exception()
        outcomes: Sequence[Outcome | BaseException] = (
            [error] * len(group) if error is not None else done.result()
        )
        for (_, _, future), outcome in zip(group, outcomes, strict=True):
            if future.done():
                continue  # the call was cancelled; its write stands
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        if self._waiting:
            self._start()
        else:
            self._idle.set()

    async def close(self) -> None:
        """Commit everything handed over so far, then stop the writer thread."""
        await self._idle.wait()
        self._executor.shutdown(wait=True)
