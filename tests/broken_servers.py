"""The one catalogue of deliberately broken servers, used by `tests/server/` and `tests/compat/`.

Each break is built only through the server's public seams (`ServerOverrides`: a
`SpaceResolver` subclass, an `EventHub` subclass, a store factory, a schema), never by flags in
the product. The parts (resolvers, hubs) are defined once here; the variants at the end start a
whole server with one part swapped, for the runtime suite:

    engram-compat runtime --server-factory tests.broken_servers:NAME

runs the suite against variant NAME, in-process in the suite's own pytest process.
`tests/compat/test_suite_catches_broken_servers.py` lists which checks each variant fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from google.protobuf.message import Message

from toolkit.compat.servers import ServerUnderTest
from toolkit.contract import DEFAULT_SPACE, SPACE_FIELD, SPACE_HEADER
from toolkit.schema.compile import compile_descriptor_set
from toolkit.schema.pool import Schema, SchemaName
from toolkit.server.app import ServerConfig, ServerOverrides, start_server_thread
from toolkit.server.hub import EndReason, EventHub, SpaceEvent, Subscription
from toolkit.server.logs import JsonFormatter
from toolkit.server.registry import MemorySpaceRegistry, SpaceHandle
from toolkit.server.resolve import Metadata, Resolution, SpaceResolver, field_value
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import SpaceStore, StoredMemory

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Small, so the stalled-subscriber check overflows a buffer quickly at small sizes (in events
# and in bytes: it writes 3 x the byte bound in 96 events, more than 64).
SUBSCRIBER_BUFFER = 64
SUBSCRIBER_BUFFER_BYTES = 512 * 1024

# --- resolvers: which space a call acts on ---------------------------------------------------


class AutoCreatingResolver(SpaceResolver):
    """Creates any well-formed unknown space instead of answering NOT_FOUND."""

    def lookup(self, space: MemorySpaceId) -> SpaceHandle:
        return self.registry.create(space)


class SilentResolver(SpaceResolver):
    """Routes legacy calls to the default space without telling the client: no deprecation
    header (the WARNING is still logged, so the suite's reading of the log keeps working)."""

    def on_deprecated(self, rpc: str, peer: str) -> Metadata:
        super().on_deprecated(rpc, peer)
        return ()


class DeprecatesEverythingResolver(SpaceResolver):
    """Warns (header and log) on explicit calls too, not only on calls that name no space."""

    def resolve(
        self,
        rpc: str,
        request: Message | None,
        metadata: Sequence[tuple[str, Any]],
        peer: str,
        *,
        field: str | None = None,
    ) -> Resolution:
        resolution = super().resolve(rpc, request, metadata, peer, field=field)
        if resolution.deprecated:
            return resolution
        return replace(resolution, deprecation=self.on_deprecated(rpc, peer))


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


class FieldBlindExperienceResolver(SpaceResolver):
    """Experience ignores `memory_space_id` when no header is set: it checks the named space
    (so unknown and malformed ids still fail as they should) and names it in its answer, but
    writes the episode to the default space."""

    def resolve(
        self,
        rpc: str,
        request: Message | None,
        metadata: Sequence[tuple[str, Any]],
        peer: str,
        *,
        field: str | None = None,
    ) -> Resolution:
        resolution = super().resolve(rpc, request, metadata, peer, field=field)
        if rpc != "Experience" or resolution.deprecated or self.requested_by_header(metadata):
            return resolution
        default = self.lookup(self.default_space)
        return replace(resolution, space=default.id, handle=default)


class _StoreProxy:
    """A space's store with some methods replaced; everything else is the real store's."""

    def __init__(self, store: SpaceStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _with_store(resolution: Resolution, store: Any) -> Resolution:
    return replace(resolution, handle=replace(resolution.handle, store=store))


class _StoreSwappingResolver(SpaceResolver):
    """Resolves as the reference server does, then may hand the call a broken store."""

    def swap(self, rpc: str, resolution: Resolution) -> Any | None:
        """The store the call should use instead of its space's, or None to keep it."""
        raise NotImplementedError

    def resolve(
        self,
        rpc: str,
        request: Message | None,
        metadata: Sequence[tuple[str, Any]],
        peer: str,
        *,
        field: str | None = None,
    ) -> Resolution:
        resolution = super().resolve(rpc, request, metadata, peer, field=field)
        store = self.swap(rpc, resolution)
        return resolution if store is None else _with_store(resolution, store)


class _EverySpaceFinder(_StoreProxy):
    """A space's store whose `find` answers from every registered space."""

    def __init__(self, store: SpaceStore, registry: MemorySpaceRegistry) -> None:
        super().__init__(store)
        self._registry = registry

    def find(self, **query: Any) -> tuple[list[StoredMemory], int]:
        found: list[StoredMemory] = []
        total = 0
        for space in self._registry.ids():
            memories, matched = self._registry.get(space).store.find(**query)
            found.extend(memories)
            total += matched
        return found, total


class CrossSpaceFlowReadResolver(_StoreSwappingResolver):
    """MemoryFlow's recall answers from every space, not only the flow's own (a read RPC that
    crosses spaces); unary Recall and every write stay correct."""

    def swap(self, rpc: str, resolution: Resolution) -> Any | None:
        if rpc != "MemoryFlow":
            return None
        return _EverySpaceFinder(resolution.handle.store, self.registry)


class _EverySpaceForgetter(_StoreProxy):
    """A space's store whose `forget` forgets in every registered space."""

    def __init__(self, store: SpaceStore, registry: MemorySpaceRegistry) -> None:
        super().__init__(store)
        self._registry = registry

    def forget(self, memory_ids: Sequence[str], *, soft: bool) -> list[StoredMemory]:
        forgotten: list[StoredMemory] = []
        for space in self._registry.ids():
            forgotten.extend(self._registry.get(space).store.forget(memory_ids, soft=soft))
        return forgotten


class LegacyForgetsEverywhereResolver(_StoreSwappingResolver):
    """A Forget that names no space forgets in every space, not only the default one (the
    pre-migration code path, which had only one store, run over all of them)."""

    def swap(self, rpc: str, resolution: Resolution) -> Any | None:
        if rpc != "Forget" or not resolution.deprecated:
            return None
        return _EverySpaceForgetter(resolution.handle.store, self.registry)


class _DefaultFallbackFinder(_StoreProxy):
    """A space's store whose `find` answers from the default space when it finds nothing."""

    def __init__(self, store: SpaceStore, default: SpaceStore) -> None:
        super().__init__(store)
        self._default = default

    def find(self, **query: Any) -> tuple[list[StoredMemory], int]:
        found, total = self._store.find(**query)
        return (found, total) if found else self._default.find(**query)


class FlowRecallFallsBackToDefaultResolver(_StoreSwappingResolver):
    """MemoryFlow's recall in a named space that finds nothing answers from the default space
    (a fallback that reads across spaces in one direction only: into the default)."""

    def swap(self, rpc: str, resolution: Resolution) -> Any | None:
        if rpc != "MemoryFlow" or resolution.space == self.default_space:
            return None
        default = self.lookup(self.default_space).store
        return _DefaultFallbackFinder(resolution.handle.store, default)


# The messages of a MemoryFlow call: the flow's own and the requests it carries.
_FLOW_MESSAGES = frozenset({"MemoryFlowRequest", "RememberRequest", "RecallRequest"})


class _FollowingStore(_StoreProxy):
    """A flow's store that writes each memory to the space its own message named."""

    def __init__(
        self, store: SpaceStore, own: MemorySpaceId, resolver: FlowFollowingResolver
    ) -> None:
        super().__init__(store)
        self._own = own
        self._resolver = resolver

    def remember(self, memory: StoredMemory) -> StoredMemory:
        named = self._resolver.followed.pop(memory.id, "")
        if named and named != self._own:
            return self._resolver.registry.get(MemorySpaceId(named)).store.remember(memory)
        return self._store.remember(memory)


class FlowFollowingResolver(SpaceResolver):
    """A MemoryFlow call is never held to its first message's space: a later message naming
    another space is written there, silently (no INVALID_ARGUMENT)."""

    def __init__(self, registry: MemorySpaceRegistry, default_space: MemorySpaceId) -> None:
        super().__init__(registry, default_space)
        self.followed: dict[str, str] = {}  # memory id -> the space its flow message named

    def requested_by_field(self, request: Message | None) -> str:
        named = super().requested_by_field(request)
        if request is None or request.DESCRIPTOR.name not in _FLOW_MESSAGES:
            return named
        memory = _remembered(request)
        if named and memory:
            self.followed[memory] = named
        return ""  # what the server compares with the flow's space: never a second space

    def resolve(
        self,
        rpc: str,
        request: Message | None,
        metadata: Sequence[tuple[str, Any]],
        peer: str,
        *,
        field: str | None = None,
    ) -> Resolution:
        # Read the field directly: `requested_by_field` hides it from the binding check.
        resolution = super().resolve(rpc, request, metadata, peer, field=_named_by(request))
        if rpc != "MemoryFlow":
            return resolution
        return _with_store(
            resolution, _FollowingStore(resolution.handle.store, resolution.space, self)
        )


def _inner(request: Message) -> Message | None:
    kind = request.WhichOneof("request") if "request" in request.DESCRIPTOR.oneofs_by_name else None
    inner: Message | None = getattr(request, kind) if kind else None
    return inner


def _named_by(request: Message | None) -> str:
    """The space a message names on itself or, for a MemoryFlowRequest, on its inner request."""
    if request is None:
        return ""
    inner = _inner(request)
    return field_value(request) or (field_value(inner) if inner is not None else "")


def _remembered(request: Message) -> str:
    """The id of the memory a RememberRequest (or a flow message carrying one) writes."""
    inner = _inner(request)
    message = inner if inner is not None else request
    if "memory" not in message.DESCRIPTOR.fields_by_name:
        return ""
    remembering: Any = message
    return str(remembering.memory.id)


class LegacyForFieldlessResolver(SpaceResolver):
    """The pre-migration behaviour for calls that name no space (no deprecation, no space in
    the answer), but the field of a new client is honoured: a current server posing as a
    legacy one, so a new client's space is not ignored as a 1.0.0 server would."""

    def on_deprecated(self, rpc: str, peer: str) -> Metadata:
        return ()

    def resolve(
        self,
        rpc: str,
        request: Message | None,
        metadata: Sequence[tuple[str, Any]],
        peer: str,
        *,
        field: str | None = None,
    ) -> Resolution:
        resolution = super().resolve(rpc, request, metadata, peer, field=field)
        return replace(resolution, announced=()) if resolution.deprecated else resolution


# --- event hubs: who receives a space's events -----------------------------------------------


class LeakyHub(EventHub):
    """Delivers every space's events to every subscriber."""

    def __init__(self, buffer: int = 1024) -> None:
        super().__init__(buffer)
        self._everyone: list[Subscription] = []

    def subscribe(self, space: MemorySpaceId, kinds: Iterable[int] = ()) -> Subscription:
        subscription = super().subscribe(space, kinds)
        self._everyone.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        super().unsubscribe(subscription)
        if subscription in self._everyone:
            self._everyone.remove(subscription)

    def subscribers_for(self, space: MemorySpaceId) -> Iterable[Subscription]:
        return tuple(self._everyone)


class DefaultLeakingHub(LeakyHub):
    """Delivers the default space's events to every subscriber (other spaces stay apart)."""

    def subscribers_for(self, space: MemorySpaceId) -> Iterable[Subscription]:
        if space == DEFAULT_SPACE:
            return super().subscribers_for(space)
        return EventHub.subscribers_for(self, space)


class StallingHub(EventHub):
    """Waits for room in a full subscriber's buffer while holding one hub-wide lock: one
    subscriber that stops reading stalls every writer of every space."""

    def __init__(self, buffer: int = 1024) -> None:
        super().__init__(buffer)
        self._lock = asyncio.Lock()

    async def deliver(self, subscription: Subscription, event: SpaceEvent) -> None:
        async with self._lock:
            await subscription.put(event)

    def unsubscribe(self, subscription: Subscription) -> None:
        super().unsubscribe(subscription)
        subscription.end(EndReason.CLOSED)  # a waiting `put` gives up on a subscriber that left


class EventsOnlyHub(EventHub):
    """Bounds a subscriber's buffer in events but not in bytes: a stalled subscriber of large
    events holds up to the event bound of them, however many bytes that is. Its Introspect
    still states the byte bound, and counts honestly what a buffer held."""

    def subscribe(self, space: MemorySpaceId, kinds: Iterable[int] = ()) -> Subscription:
        subscription = super().subscribe(space, kinds)
        subscription.buffer_bytes = sys.maxsize
        return subscription


class FigurelessHub(EventHub):
    """A correct hub that keeps no buffer figures: the server's Introspect then sends none (as
    a target that does not implement them), so STREAM_BACKPRESSURE cannot see bytes."""

    def peak_bytes(self, space: MemorySpaceId) -> int | None:
        return None


class ForgetfulHub(EventHub):
    """Never removes a subscriber, so cancelled streams pile up."""

    def unsubscribe(self, subscription: Subscription) -> None:
        return None


class FirstHeaderWinsResolver(SpaceResolver):
    """Of several x-engram-memory-space headers, takes the first and ignores the others."""

    def requested_by_header(self, metadata: Sequence[tuple[str, Any]]) -> str:
        first = [(k, v) for k, v in metadata if k == SPACE_HEADER][:1]
        return super().requested_by_header(first)


class ClampingResolver(SpaceResolver):
    """Quietly repairs hostile values instead of refusing them: a non-finite confidence becomes
    1.0, an out-of-range timestamp is dropped (it sees each request before the servicer)."""

    def resolve(
        self,
        rpc: str,
        request: Message | None,
        metadata: Sequence[tuple[str, Any]],
        peer: str,
        *,
        field: str | None = None,
    ) -> Resolution:
        if request is not None:
            _clamp(request)
        return super().resolve(rpc, request, metadata, peer, field=field)


def _clamp(message: Message) -> None:
    for descriptor, value in message.ListFields():
        if descriptor.name == "confidence" and not math.isfinite(value):
            setattr(message, descriptor.name, 1.0)
        elif descriptor.message_type is not None and not descriptor.is_repeated:
            if descriptor.message_type.full_name == "google.protobuf.Timestamp":
                if abs(value.seconds) > 9_000_000_000:  # beyond year 2255: cannot be stored
                    message.ClearField(descriptor.name)
            else:
                _clamp(value)


class SubscribersOutliveSpaceHub(EventHub):
    """Deleting a space leaves its subscribers open (they wait for events that never come)."""

    def close_space(self, space: MemorySpaceId, reason: EndReason = EndReason.DELETED) -> None:
        return None


# --- whole servers for the runtime suite (`--server-factory tests.broken_servers:NAME`) -----


class _Capture(logging.Handler):
    def __init__(self, records: list[dict[str, Any]]) -> None:
        super().__init__(logging.INFO)
        self.records = records
        self.formatter_json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(json.loads(self.formatter_json.format(record)))


class InProcessServer:
    """A reference server (with overrides) in a thread of this process, its log captured."""

    def __init__(
        self,
        schema: SchemaName,
        data_dir: Path,
        overrides: ServerOverrides,
        *,
        behaves_as: SchemaName | None = None,
    ) -> None:
        self._records: list[dict[str, Any]] = []
        self._handler = _Capture(self._records)
        logger = logging.getLogger("toolkit.server")
        logger.addHandler(self._handler)
        logger.setLevel(logging.INFO)
        config = ServerConfig(
            data_dir=data_dir,
            schema=behaves_as or schema,
            subscriber_buffer=SUBSCRIBER_BUFFER,
            subscriber_buffer_bytes=SUBSCRIBER_BUFFER_BYTES,
        )
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


def good(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """The reference server itself, started the same way as the variants (the control)."""
    return _serve(schema, data_dir, ServerOverrides())


def auto_create(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Creates an unknown space on first use instead of answering NOT_FOUND."""
    return _serve(schema, data_dir, ServerOverrides(resolver=AutoCreatingResolver))


def silent_deprecation(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Routes legacy calls to the default space without the deprecation header."""
    return _serve(schema, data_dir, ServerOverrides(resolver=SilentResolver))


def deprecates_everything(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Warns (header and log) on explicit calls too."""
    return _serve(schema, data_dir, ServerOverrides(resolver=DeprecatesEverythingResolver))


def header_blind(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Reads only the field; the x-engram-memory-space header is ignored."""
    return _serve(schema, data_dir, ServerOverrides(resolver=HeaderBlindResolver))


def field_blind_experience(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Experience ignores memory_space_id when no header is set (writes to the default)."""
    return _serve(schema, data_dir, ServerOverrides(resolver=FieldBlindExperienceResolver))


def cross_space_flow_read(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """MemoryFlow's recall answers from every space."""
    return _serve(schema, data_dir, ServerOverrides(resolver=CrossSpaceFlowReadResolver))


def flow_following(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """A MemoryFlow call silently follows a later message's space."""
    return _serve(schema, data_dir, ServerOverrides(resolver=FlowFollowingResolver))


def current_posing_as_legacy(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """The reference server is correct; its "legacy" server is a current one that behaves
    like 1.0.0 for legacy clients but honours a new client's memory_space_id."""
    if schema == "current":
        return _serve(schema, data_dir, ServerOverrides())
    overrides = ServerOverrides(resolver=LegacyForFieldlessResolver)
    return InProcessServer(schema, data_dir, overrides, behaves_as="current")


def legacy_forgets_everywhere(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """A legacy Forget forgets in every space."""
    return _serve(schema, data_dir, ServerOverrides(resolver=LegacyForgetsEverywhereResolver))


def flow_recall_falls_back_to_default(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """MemoryFlow's recall that finds nothing in its space answers from the default space."""
    resolver = FlowRecallFallsBackToDefaultResolver
    return _serve(schema, data_dir, ServerOverrides(resolver=resolver))


def default_leaking_hub(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Delivers the default space's events to every subscriber."""
    return _serve(schema, data_dir, ServerOverrides(hub_factory=DefaultLeakingHub))


def leaky_hub(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Delivers every space's events to every subscriber."""
    return _serve(schema, data_dir, ServerOverrides(hub_factory=LeakyHub))


def first_header_wins(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Two x-engram-memory-space headers with different values: the first is used."""
    return _serve(schema, data_dir, ServerOverrides(resolver=FirstHeaderWinsResolver))


def clamping_values(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """NaN/infinite confidences and out-of-range timestamps are repaired, not refused."""
    return _serve(schema, data_dir, ServerOverrides(resolver=ClampingResolver))


def subscribers_outlive_space(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Deleting a space does not end its subscribers."""
    return _serve(schema, data_dir, ServerOverrides(hub_factory=SubscribersOutliveSpaceHub))


def events_only_hub(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """A subscriber's buffer is bounded in events, not in bytes."""
    return _serve(schema, data_dir, ServerOverrides(hub_factory=EventsOnlyHub))


def figureless_hub(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Correct, but its Introspect states no subscriber buffer figures (bytes unverifiable)."""
    return _serve(schema, data_dir, ServerOverrides(hub_factory=FigurelessHub))


def stalling_hub(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """One subscriber that stops reading stalls every writer of every space."""
    return _serve(schema, data_dir, ServerOverrides(hub_factory=StallingHub))


RENUMBERED = {
    # Field 1 given to the new field "to make room": old clients' field 1 is now a space id.
    "RememberRequest": [
        ("Memory memory = 1;", "Memory memory = 4;"),
        (f"string {SPACE_FIELD} = 4;", f"string {SPACE_FIELD} = 1;"),
    ],
    "ForgetRequest": [
        ("string memory_id = 1;", "string memory_id = 4;"),
        (f"string {SPACE_FIELD} = 4;", f"string {SPACE_FIELD} = 1;"),
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


def schema_without_forget(workdir: Path) -> Schema:
    """proto/ without the Forget RPC (its messages stay), compiled into a pool."""
    root = workdir / "no-forget-proto"
    shutil.copytree(PROJECT_ROOT / "proto", root, dirs_exist_ok=True)
    engram = root / "engram" / "v1" / "engram.proto"
    line = "  rpc Forget(ForgetRequest) returns (ForgetResponse);\n"
    text = engram.read_text()
    if line not in text:
        raise ValueError("the Forget RPC is not declared as expected")
    engram.write_text(text.replace(line, ""))
    return Schema.from_path(compile_descriptor_set(root, workdir / "no-forget.binpb"))


def no_forget(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """Does not implement EngramService/Forget (an older or partial implementation): the
    preflight sees it through reflection, and the checks that need Forget do not run."""
    return _serve(schema, data_dir, ServerOverrides(schema=schema_without_forget(data_dir.parent)))
