"""Deliberately broken servers, built only through the `ServerOverrides` seams."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from toolkit.server.hub import EventHub, SpaceEvent, Subscription
from toolkit.server.registry import SpaceHandle
from toolkit.server.resolve import Metadata, SpaceResolver
from toolkit.server.space_id import MemorySpaceId


class AutoCreatingResolver(SpaceResolver):
    """Creates any well-formed unknown space instead of answering NOT_FOUND."""

    def lookup(self, space: MemorySpaceId) -> SpaceHandle:
        return self.registry.create(space)


class SilentResolver(SpaceResolver):
    """Routes legacy calls to the default space without the deprecation header or log."""

    def on_deprecated(self, rpc: str, peer: str) -> Metadata:
        return ()


class CrashingResolver(SpaceResolver):
    """Lets an unexpected exception escape when a request names a space it does not know."""

    def lookup(self, space: MemorySpaceId) -> SpaceHandle:
        if space not in self.registry.ids():
            raise RuntimeError(f"no store for {space}")
        return super().lookup(space)


class HeaderBlindResolver(SpaceResolver):
    """Ignores the x-engram-memory-space header."""

    def requested_by_header(self, metadata: Sequence[tuple[str, Any]]) -> str:
        return ""


class LeakyHub(EventHub):
    """Delivers every space's events to every subscriber."""

    def subscribers_for(self, space: MemorySpaceId) -> Iterable[Subscription]:
        return tuple(s for members in self._subscribers.values() for s in members)


class StallingHub(EventHub):
    """Waits for room in a slow subscriber's buffer, so one slow reader stalls every writer."""

    async def deliver(self, subscription: Subscription, event: SpaceEvent) -> None:
        await subscription.put(event)


class ForgetfulHub(EventHub):
    """Never removes a subscriber, so cancelled streams pile up."""

    def unsubscribe(self, subscription: Subscription) -> None:
        return None
