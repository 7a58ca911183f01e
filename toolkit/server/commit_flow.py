"""StreamingRemember's commit pipeline: the call reads on while each memory goes to the writer
thread; a publisher task publishes each one, in order, once it is committed.

The call's answer waits for every write it handed over. A stalled publisher (a slow hub)
stops the reading after `MAX_UNPUBLISHED` writes, so memory stays bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from toolkit.server.resolve import Resolution
from toolkit.server.store import SpaceStore, StoredMemory
from toolkit.server.writes import StoreWriter

MAX_UNPUBLISHED = 1024  # streamed writes a call may have in flight before it stops reading

Publish = Callable[[Resolution, StoredMemory], Awaitable[None]]


class CommitFlow:
    """One StreamingRemember call's writes between the writer thread and the publisher task."""

    def __init__(self, writer: StoreWriter, resolution: Resolution, publish: Publish) -> None:
        self.writer = writer
        self.resolution = resolution
        self._publish = publish
        self.writes: asyncio.Queue[asyncio.Future[StoredMemory] | None] = asyncio.Queue()
        self.room = asyncio.Semaphore(MAX_UNPUBLISHED)
        self.failure: Exception | None = None
        self.committed = 0
        self._ended = False
        self.publisher: asyncio.Task[None] = asyncio.ensure_future(self._publish_committed())

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def submit(self, store: SpaceStore, memory: StoredMemory) -> None:
        """Hand `memory` to the writer thread, waiting while too many are unpublished."""
        self.raise_failure()
        await self.room.acquire()
        self.writes.put_nowait(self.writer.submit(store, memory))

    async def finish(self) -> None:
        """Wait until every write handed over is committed and published; raise the first
        failure among them."""
        await self.drain()
        self.raise_failure()

    async def drain(self) -> None:
        """Wait until every write handed over is committed (or failed) and published."""
        self._end()
        await asyncio.shield(self.publisher)

    def abandon(self) -> None:
        """The call ended early: what was committed is still published."""
        self._end()

    def _end(self) -> None:
        if not self._ended and not self.publisher.done():
            self._ended = True
            self.writes.put_nowait(None)

    async def _publish_committed(self) -> None:
        while (write := await self.writes.get()) is not None:
            try:
                memory = await write
            except Exception as exc:  # the call reports it (StoreClosed: NOT_FOUND)
                self.failure = self.failure or exc
            else:
                self.committed += 1
                if self.failure is None:
                    await self._publish(self.resolution, memory)
            self.room.release()


class CommitFlows:
    """Starts each call's `CommitFlow` and keeps its publisher task referenced until done."""

    def __init__(self, writer: StoreWriter, publish: Publish) -> None:
        self.writer = writer
        self._publish = publish
        self._publishers: set[asyncio.Task[None]] = set()

    def start(self, resolution: Resolution) -> CommitFlow:
        flow = CommitFlow(self.writer, resolution, self._publish)
        self._publishers.add(flow.publisher)
        flow.publisher.add_done_callback(self._publishers.discard)
        return flow
