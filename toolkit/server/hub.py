"""Per-space event fan-out with a bounded buffer per subscriber.

Writers never wait: an event is offered to each subscriber's buffer, and a subscriber whose
buffer is full, in events or in bytes, is evicted (its stream then ends with
RESOURCE_EXHAUSTED). Everything here runs on the server's event loop thread.

The byte bound counts what an event holds while it waits (`SpaceEvent.nbytes`: its memory's
content, id and embedding as Python holds them plus their encoding), so a stalled subscriber
of large events holds at most about `buffer_bytes`, however few events that is. One event is
always accepted by an empty buffer, so an event larger than the bound is still delivered to a
subscriber that keeps up.
"""

from __future__ import annotations

import asyncio
import enum
import sys
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import StoredMemory

DEFAULT_BUFFER_EVENTS = 1024
DEFAULT_BUFFER_BYTES = 8 * 1024 * 1024
_EVENT_OVERHEAD = 256  # the event, its memory record and their small fields
_FLOAT_HELD = 32  # a float in a tuple: its object and the pointer to it
_FLOAT_WIRE = 4  # a float on the wire (packed float32)


def memory_nbytes(memory: StoredMemory) -> int:
    """What one event of `memory` holds while it waits: the memory as Python holds it plus
    its encoding (made once, by the first stream that sends it)."""
    content = memory.content
    held = sys.getsizeof(content) + sys.getsizeof(memory.id)
    held += _FLOAT_HELD * len(memory.embedding)
    # Encoded: an ASCII text (the common case) is its length in UTF-8.
    wire = len(content) if content.isascii() else len(content.encode())
    wire += len(memory.id) + _FLOAT_WIRE * len(memory.embedding)
    return _EVENT_OVERHEAD + held + wire


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
    _nbytes: int = field(default=-1, repr=False)

    @property
    def nbytes(self) -> int:
        """What this event holds while it waits in a buffer (see `memory_nbytes`)."""
        if self._nbytes < 0:
            self._nbytes = memory_nbytes(self.memory)
        return self._nbytes

    def wire(self, encode: Callable[[SpaceEvent], bytes]) -> bytes:
        if self._wire is None:
            self._wire = encode(self)
        return self._wire


class EndReason(enum.Enum):
    OVERFLOW = "overflow"  # fell behind: the buffer was full when an event arrived
    CLOSED = "closed"  # the server is stopping
    DELETED = "deleted"  # the space was deleted


class Subscription:
    """One subscriber: a buffer of events of one space, bounded in events and in bytes."""

    def __init__(
        self,
        space: MemorySpaceId,
        buffer: int,
        kinds: frozenset[int],
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
    ) -> None:
        self.space = space
        self.buffer = buffer
        self.buffer_bytes = buffer_bytes
        self.kinds = kinds
        self.end_reason: EndReason | None = None
        self.delivered = 0
        self.high_water = 0  # most events ever waiting at once: proves the bound holds
        self.pending_bytes = 0
        self.high_water_bytes = 0  # most bytes ever waiting at once
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
        size = event.nbytes
        pending_bytes = self.pending_bytes + size
        if pending_bytes > self.buffer_bytes and events:
            return False
        events.append(event)
        self.pending_bytes = pending_bytes
        self.delivered += 1
        if len(events) > self.high_water:
            self.high_water = len(events)
        if pending_bytes > self.high_water_bytes:
            self.high_water_bytes = pending_bytes
        self._wake()
        return True

    def full(self, event: SpaceEvent) -> bool:
        """Whether `event` finds no room now (in events or in bytes)."""
        events = self._events
        if len(events) >= self.buffer:
            return True
        return bool(events) and self.pending_bytes + event.nbytes > self.buffer_bytes

    async def put(self, event: SpaceEvent) -> None:
        """Buffer `event`, waiting for room (only a deliberately broken hub uses this)."""
        while self.end_reason is None and self.full(event):
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
            self.pending_bytes = 0
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pop(self) -> SpaceEvent | None:
        """The next event if one is waiting, else None (without waiting)."""
        if not self._events:
            return None
        event = self._events.popleft()
        self.pending_bytes -= event.nbytes
        return event

    async def wait(self) -> None:
        """Wait until an event is waiting or the subscription has ended."""
        if self._events or self.end_reason is not None:
            return
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    async def next(self) -> SpaceEvent | None:
        """The next event, or None once the subscription has ended (see `end_reason`)."""
        while (event := self.pop()) is None:
            if self.end_reason is not None:
                return None
            await self.wait()
        return event


class EventHub:
    """Subscribers by space. Subclasses change one small method to break a guarantee:
    `subscribers_for` (which subscribers an event reaches) or `deliver` (how it is handed over).
    """

    def __init__(
        self, buffer: int = DEFAULT_BUFFER_EVENTS, buffer_bytes: int = DEFAULT_BUFFER_BYTES
    ) -> None:
        if buffer < 1:
            raise ValueError("a subscriber buffer holds at least one event")
        if buffer_bytes < 1:
            raise ValueError("a subscriber buffer holds at least one byte")
        self.buffer = buffer
        self.buffer_bytes = buffer_bytes
        self._subscribers: dict[MemorySpaceId, set[Subscription]] = {}
        # The most bytes one buffer of a space's ended subscribers held (see `peak_bytes`).
        self._ended_peak_bytes: dict[MemorySpaceId, int] = {}

    def subscribe(self, space: MemorySpaceId, kinds: Iterable[int] = ()) -> Subscription:
        subscription = Subscription(space, self.buffer, frozenset(kinds), self.buffer_bytes)
        self._subscribers.setdefault(space, set()).add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        members = self._subscribers.get(subscription.space)
        if members is not None:
            peaks, peak = self._ended_peak_bytes, subscription.high_water_bytes
            if peak > peaks.get(subscription.space, 0):
                peaks[subscription.space] = peak
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
        self._ended_peak_bytes.pop(space, None)
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

    def peak_bytes(self, space: MemorySpaceId) -> int | None:
        """The most bytes one subscriber buffer of `space` has held at once, of its current
        subscribers and those that ended since the server started (0: none yet; deleting
        the space starts it again). None: this hub keeps no such figure."""
        live = (s.high_water_bytes for s in self._subscribers.get(space, ()))
        return max(self._ended_peak_bytes.get(space, 0), *live, 0)
