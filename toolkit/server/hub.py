"""Per-space event fan-out with a bounded buffer per subscriber.

Writers never wait: an event is offered to each subscriber's buffer, and a subscriber whose
buffer is full is evicted (its stream then ends with RESOURCE_EXHAUSTED). Everything here
runs on the server's event loop thread.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import StoredMemory


class EventKind(enum.IntEnum):
    """Values of `engram.v1.StreamEventType`."""

    REMEMBERED = 1
    FORGOTTEN = 2
    EXPERIENCED = 3


@dataclass(frozen=True)
class SpaceEvent:
    space: MemorySpaceId
    kind: EventKind
    memory: StoredMemory
    timestamp_ns: int


class EndReason(enum.Enum):
    OVERFLOW = "overflow"  # fell behind: the buffer was full when an event arrived
    CLOSED = "closed"  # the space was deleted or the server is stopping


class Subscription:
    """One subscriber: a bounded buffer of events of one space."""

    def __init__(self, space: MemorySpaceId, buffer: int, kinds: frozenset[int]) -> None:
        self.space = space
        self.buffer = buffer
        self.kinds = kinds
        self.end_reason: EndReason | None = None
        self.delivered = 0
        self.high_water = 0  # most events ever waiting at once: proves the bound holds
        # One slot beyond the bound, so the end marker always fits.
        self._queue: asyncio.Queue[SpaceEvent | None] = asyncio.Queue(maxsize=buffer + 1)

    def wants(self, event: SpaceEvent) -> bool:
        return not self.kinds or int(event.kind) in self.kinds

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def offer(self, event: SpaceEvent) -> bool:
        """Buffer `event` without waiting; False when the buffer is full."""
        if self.end_reason is not None or self._queue.qsize() >= self.buffer:
            return False
        self._queue.put_nowait(event)
        self.delivered += 1
        self.high_water = max(self.high_water, self._queue.qsize())
        return True

    async def put(self, event: SpaceEvent) -> None:
        """Buffer `event`, waiting for room (only a deliberately broken hub uses this)."""
        while self.end_reason is None and self._queue.qsize() >= self.buffer:
            await asyncio.sleep(0.001)
        if self.end_reason is None:
            self._queue.put_nowait(event)
            self.delivered += 1
            self.high_water = max(self.high_water, self._queue.qsize())

    def end(self, reason: EndReason) -> None:
        """End the subscription; an overflowed one drops what it had not sent yet."""
        if self.end_reason is not None:
            return
        self.end_reason = reason
        if reason is EndReason.OVERFLOW:
            while not self._queue.empty():
                self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def next(self) -> SpaceEvent | None:
        """The next event, or None once the subscription has ended (see `end_reason`)."""
        return await self._queue.get()


class EventHub:
    """Subscribers by space. Subclasses change one small method to break a guarantee:
    `subscribers_for` (which subscribers an event reaches) or `deliver` (how it is handed over).
    """

    def __init__(self, buffer: int = 1024) -> None:
        if buffer < 1:
            raise ValueError("a subscriber buffer holds at least one event")
        self.buffer = buffer
        self._subscribers: dict[MemorySpaceId, set[Subscription]] = {}

    def subscribe(self, space: MemorySpaceId, kinds: Iterable[int] = ()) -> Subscription:
        subscription = Subscription(space, self.buffer, frozenset(kinds))
        self._subscribers.setdefault(space, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        members = self._subscribers.get(subscription.space)
        if members is not None:
            members.discard(subscription)
            if not members:
                del self._subscribers[subscription.space]

    def subscribers_for(self, space: MemorySpaceId) -> Iterable[Subscription]:
        """The subscribers an event of `space` goes to."""
        return tuple(self._subscribers.get(space, ()))

    async def publish(self, event: SpaceEvent) -> None:
        for subscription in self.subscribers_for(event.space):
            if subscription.wants(event):
                await self.deliver(subscription, event)

    async def deliver(self, subscription: Subscription, event: SpaceEvent) -> None:
        """Hand `event` to one subscriber without waiting; evict it when it has fallen behind."""
        if not subscription.offer(event):
            self.evict(subscription)

    def evict(self, subscription: Subscription) -> None:
        self.unsubscribe(subscription)
        subscription.end(EndReason.OVERFLOW)

    def close_space(self, space: MemorySpaceId) -> None:
        """End every subscription of `space` (it was deleted)."""
        for subscription in tuple(self._subscribers.pop(space, ())):
            subscription.end(EndReason.CLOSED)

    def close(self) -> None:
        """End every subscription (the server is stopping)."""
        for space in tuple(self._subscribers):
            self.close_space(space)

    def subscriber_count(self, space: MemorySpaceId | None = None) -> int:
        if space is not None:
            return len(self._subscribers.get(space, ()))
        return sum(len(members) for members in self._subscribers.values())
