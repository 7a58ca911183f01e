"""Per-space event fan-out with a bounded buffer per subscriber.

Writers never wait: an event is offered to each subscriber's buffer, and a subscriber whose
buffer is full is evicted (its stream then ends with RESOURCE_EXHAUSTED). Everything here
runs on the server's event loop thread.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import StoredMemory


class EventKind(enum.IntEnum):
    """Values of `engram.v1.StreamEventType`."""

    REMEMBERED = 1
    FORGOTTEN = 2
    EXPERIENCED = 3


@dataclass(slots=True, eq=False)
class SpaceEvent:
    """One change in one space, offered to each of that space's subscribers.

    `wire` keeps the event's encoding once a subscriber has made it, so an event sent to many
    subscribers is encoded once (each stream then adds only its own sequence number).
    """

    space: MemorySpaceId
    kind: EventKind
    memory: StoredMemory
    timestamp_ns: int
    _wire: bytes | None = field(default=None, repr=False)

    def wire(self, encode: Callable[[SpaceEvent], bytes]) -> bytes:
        if self._wire is None:
            self._wire = encode(self)
        return self._wire


class EndReason(enum.Enum):
    OVERFLOW = "overflow"  # fell behind: the buffer was full when an event arrived
    CLOSED = "closed"  # the server is stopping
    DELETED = "deleted"  # the space was deleted


class Subscription:
    """One subscriber: a bounded buffer of events of one space."""

    def __init__(self, space: MemorySpaceId, buffer: int, kinds: frozenset[int]) -> None:
        self.space = space
        self.buffer = buffer
        self.kinds = kinds
        self.end_reason: EndReason | None = None
        self.delivered = 0
        self.high_water = 0  # most events ever waiting at once: proves the bound holds
        self._events: deque[SpaceEvent] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def wants(self, event: SpaceEvent) -> bool:
        return not self.kinds or int(event.kind) in self.kinds

    @property
    def pending(self) -> int:
        return len(self._events)

    def offer(self, event: SpaceEvent) -> bool:
        """Buffer `event` without waiting; False when the buffer is full."""
        events = self._events
        if self.end_reason is not None or len(events) >= self.buffer:
            return False
        events.append(event)
        self.delivered += 1
        if len(events) > self.high_water:
            self.high_water = len(events)
        self._wake()
        return True

    async def put(self, event: SpaceEvent) -> None:
        """Buffer `event`, waiting for room (only a deliberately broken hub uses this)."""
        while self.end_reason is None and len(self._events) >= self.buffer:
            await asyncio.sleep(0.001)
        if self.end_reason is None:
            self.offer(event)

    def end(self, reason: EndReason) -> None:
        """End the subscription; an overflowed one drops what it had not sent yet."""
        if self.end_reason is not None:
            return
        self.end_reason = reason
        if reason is EndReason.OVERFLOW:
            self._events.clear()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def next(self) -> SpaceEvent | None:
        """The next event, or None once the subscription has ended (see `end_reason`)."""
        while not self._events:
            if self.end_reason is not None:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._events.popleft()


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

    def close_space(self, space: MemorySpaceId, reason: EndReason = EndReason.DELETED) -> None:
        """End every subscription of `space` (it was deleted, unless `reason` says else)."""
        for subscription in tuple(self._subscribers.pop(space, ())):
            subscription.end(reason)

    def close(self) -> None:
        """End every subscription (the server is stopping)."""
        for space in tuple(self._subscribers):
            self.close_space(space, EndReason.CLOSED)

    def subscriber_count(self, space: MemorySpaceId | None = None) -> int:
        if space is not None:
            return len(self._subscribers.get(space, ()))
        return sum(len(members) for members in self._subscribers.values())
