"""StreamingRemember's commit pipeline: the call reads on while each memory goes to the writer
thread; a publisher task publishes each one, in order, once it is committed.

The call's answer waits for every write it handed over. A stalled publisher (a slow hub)
stops the reading after `MAX_UNPUBLISHED` writes, so memory stays bounded.

Each committed memory's event is made and encoded on the writer thread (`EventOf`). Per write
the loop does little: the write is handed to the writer with the flow's own
callback (no future, no queue, no semaphore per write); a committed group wakes the publisher
once, and it publishes everything committed since it last ran.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from toolkit.server.hub import SpaceEvent
from toolkit.server.resolve import Resolution
from toolkit.server.store import SpaceStore, StoredMemory
from toolkit.server.writes import Outcome, StoreWriter

MAX_UNPUBLISHED = 1024  # streamed writes a call may have in flight before it stops reading

# The event of a committed memory, made (and encoded) on the writer thread; and its publication.
EventOf = Callable[[Resolution, StoredMemory], SpaceEvent]
Publish = Callable[[SpaceEvent], Awaitable[None]]


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class CommitFlow:
    """One StreamingRemember call's writes between the writer thread and the publisher task."""

    def __init__(
        self, writer: StoreWriter, resolution: Resolution, event_of: EventOf, publish: Publish
    ) -> None:
        self.writer = writer
        self.resolution = resolution
        self._event_of = event_of
        self._publish = publish
        # committed (with its event) or failed, not yet published
        self._outcomes: deque[tuple[Outcome, object]] = deque()
        self.unpublished = 0  # handed over and not yet published (or failed)
        self.failure: Exception | None = None
        self.committed = 0
        self._ended = False
        self._has_outcomes: asyncio.Future[None] | None = None  # the publisher waits
        self._has_room: asyncio.Future[None] | None = None  # the reading call waits
        self.publisher: asyncio.Task[None] = asyncio.ensure_future(self._publish_committed())

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def submit(self, store: SpaceStore, memory: StoredMemory) -> None:
        """Hand `memory` to the writer thread, waiting while too many are unpublished."""
        self.raise_failure()
        while self.unpublished >= MAX_UNPUBLISHED:
            self._has_room = asyncio.get_running_loop().create_future()
            try:
                await self._has_room
            finally:
                self._has_room = None
        self.unpublished += 1
        self.writer.hand_over(store, memory, self._committed, self._event)

    def _event(self, memory: StoredMemory) -> SpaceEvent:
        return self._event_of(self.resolution, memory)

    def _committed(self, outcome: Outcome, event: object) -> None:
        """The writer's callback, on the loop, in the order the writes were handed over."""
        self._outcomes.append((outcome, event))
        _wake(self._has_outcomes)

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
        self._ended = True
        _wake(self._has_outcomes)

    async def _publish_committed(self) -> None:
        outcomes = self._outcomes
        while True:
            while outcomes:
                outcome, event = outcomes.popleft()
                if isinstance(outcome, Exception):  # the call reports it (StoreClosed: NOT_FOUND)
                    self.failure = self.failure or outcome
                else:
                    self.committed += 1
                    if self.failure is None:
                        if not isinstance(event, SpaceEvent):
                            event = self._event_of(self.resolution, outcome)
                        await self._publish(event)
                self.unpublished -= 1
                _wake(self._has_room)
            if self._ended and not self.unpublished:
                return
            self._has_outcomes = asyncio.get_running_loop().create_future()
            try:
                await self._has_outcomes
            finally:
                self._has_outcomes = None


class CommitFlows:
    """Starts each call's `CommitFlow` and keeps its publisher task referenced until done."""

    def __init__(self, writer: StoreWriter, event_of: EventOf, publish: Publish) -> None:
        self.writer = writer
        self._event_of = event_of
        self._publish = publish
        self._publishers: set[asyncio.Task[None]] = set()

    def start(self, resolution: Resolution) -> CommitFlow:
        flow = CommitFlow(self.writer, resolution, self._event_of, self._publish)
        self._publishers.add(flow.publisher)
        flow.publisher.add_done_callback(self._publishers.discard)
        return flow
