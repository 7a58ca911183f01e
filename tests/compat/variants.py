"""Deliberately broken reference servers, each breaking one guarantee the compat suite checks.

Built in the tests through the server's seams (`ServerOverrides`), never by flags in the
product. `engram-compat replay --server-factory tests.compat.variants:NAME` runs the suite
against one of them, in-process in the suite's own pytest process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from toolkit.compat.servers import ServerUnderTest
from toolkit.schema.compile import compile_descriptor_set
from toolkit.schema.pool import Schema, SchemaName
from toolkit.server.app import ServerConfig, ServerOverrides, start_server_thread
from toolkit.server.hub import EventHub, SpaceEvent, Subscription
from toolkit.server.logs import JsonFormatter
from toolkit.server.registry import SpaceHandle
from toolkit.server.resolve import Metadata, Resolution, SpaceResolver
from toolkit.server.space_id import MemorySpaceId

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Small, so the stalled-subscriber check overflows a buffer quickly at small sizes.
SUBSCRIBER_BUFFER = 64


class _Capture(logging.Handler):
    def __init__(self, records: list[dict[str, Any]]) -> None:
        super().__init__(logging.INFO)
        self.records = records
        self.formatter_json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(json.loads(self.formatter_json.format(record)))


class InProcessServer:
    """A reference server (with overrides) in a thread of this process, its log captured."""

    def __init__(self, schema: SchemaName, data_dir: Path, overrides: ServerOverrides) -> None:
        self._records: list[dict[str, Any]] = []
        self._handler = _Capture(self._records)
        logger = logging.getLogger("toolkit.server")
        logger.addHandler(self._handler)
        logger.setLevel(logging.INFO)
        config = ServerConfig(data_dir=data_dir, schema=schema, subscriber_buffer=SUBSCRIBER_BUFFER)
        self._running = start_server_thread(config, overrides=overrides)

    @property
    def address(self) -> str:
        return self._running.address

    def log_records(self) -> list[dict[str, Any]] | None:
        return list(self._records)

    def stop(self) -> None:
        try:
            self._running.stop()
        finally:
            logging.getLogger("toolkit.server").removeHandler(self._handler)


def _serve(schema: SchemaName, data_dir: Path, overrides: ServerOverrides) -> ServerUnderTest:
    # Only the current-schema server is broken; MATRIX's legacy server is the real one.
    return InProcessServer(
        schema, data_dir, overrides if schema == "current" else ServerOverrides()
    )


# --- the variants ----------------------------------------------------------------------------


def good(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """The reference server itself, started the same way as the variants (the control)."""
    return _serve(schema, data_dir, ServerOverrides())


class _AutoCreate(SpaceResolver):
    def lookup(self, space: MemorySpaceId) -> SpaceHandle:
        return self.registry.create(space)


def auto_create(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Creates an unknown space on first use instead of answering NOT_FOUND."""
    return _serve(schema, data_dir, ServerOverrides(resolver=_AutoCreate))


class _NoDeprecationHeader(SpaceResolver):
    def on_deprecated(self, rpc: str, peer: str) -> Metadata:
        super().on_deprecated(rpc, peer)  # still logs the warning
        return ()


def no_deprecation_header(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Logs deprecated calls but never sends x-engram-deprecation."""
    return _serve(schema, data_dir, ServerOverrides(resolver=_NoDeprecationHeader))


class _DeprecatesEverything(SpaceResolver):
    def resolve(
        self, rpc: str, request: Any, metadata: Any, peer: str, *, field: str | None = None
    ) -> Resolution:
        resolution = super().resolve(rpc, request, metadata, peer, field=field)
        if resolution.deprecated:
            return resolution
        return replace(resolution, deprecation=self.on_deprecated(rpc, peer))


def deprecates_everything(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Warns (header and log) on explicit calls too, not only on calls that name no space."""
    return _serve(schema, data_dir, ServerOverrides(resolver=_DeprecatesEverything))


class _IgnoreHeader(SpaceResolver):
    def requested_by_header(self, metadata: Any) -> str:
        return ""


def ignore_header(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Reads only the field; the x-engram-memory-space header is ignored."""
    return _serve(schema, data_dir, ServerOverrides(resolver=_IgnoreHeader))


class _LeakyHub(EventHub):
    def subscribers_for(self, space: MemorySpaceId) -> tuple[Subscription, ...]:
        return tuple(s for members in self._subscribers.values() for s in members)


def leaky_hub(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Delivers every space's events to every subscriber."""
    return _serve(schema, data_dir, ServerOverrides(hub_factory=_LeakyHub))


class _StallingHub(EventHub):
    """Waits for a full subscriber while holding one hub-wide lock: everyone waits."""

    def __init__(self, buffer: int = 1024) -> None:
        super().__init__(buffer)
        self._lock = asyncio.Lock()

    async def deliver(self, subscription: Subscription, event: SpaceEvent) -> None:
        async with self._lock:
            while subscription.pending >= subscription.buffer and self._subscribed(subscription):
                await asyncio.sleep(0.001)
            subscription.offer(event)

    def _subscribed(self, subscription: Subscription) -> bool:
        return subscription in self._subscribers.get(subscription.space, ())


def stalling_hub(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """One subscriber that stops reading stalls every writer of every space."""
    return _serve(schema, data_dir, ServerOverrides(hub_factory=_StallingHub))


RENUMBERED = {
    # Field 1 given to the new field "to make room": old clients' field 1 is now a space id.
    "RememberRequest": [
        ("Memory memory = 1;", "Memory memory = 4;"),
        ("string memory_space_id = 4;", "string memory_space_id = 1;"),
    ],
    "ForgetRequest": [
        ("string memory_id = 1;", "string memory_id = 4;"),
        ("string memory_space_id = 4;", "string memory_space_id = 1;"),
    ],
}


def renumbered_schema(workdir: Path) -> Schema:
    """proto/ with RememberRequest and ForgetRequest renumbered, compiled into a pool."""
    root = workdir / "renumbered-proto"
    shutil.copytree(PROJECT_ROOT / "proto", root, dirs_exist_ok=True)
    engram = root / "engram" / "v1" / "engram.proto"
    text = engram.read_text()
    for message, swaps in RENUMBERED.items():
        start = text.index(f"message {message} {{")
        end = text.index("\n}\n", start)
        body = text[start:end]
        for old, new in swaps:
            if old not in body:
                raise ValueError(f"{message}: {old!r} not found to renumber")
            body = body.replace(old, new)
        text = text[:start] + body + text[end:]
    engram.write_text(text)
    return Schema.from_path(compile_descriptor_set(root, workdir / "renumbered.binpb"))


def renumbered(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Serves a schema whose old field numbers now belong to memory_space_id."""
    broken = renumbered_schema(data_dir.parent)
    return _serve(schema, data_dir, ServerOverrides(schema=broken))
