"""`EngramService`: the eight RPCs, each acting on the one space its call resolved to.

Served through generic handlers built from a `Schema`'s own message classes, so the same
code runs over the current schema, the legacy baseline or a deliberately broken schema.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from toolkit.contract import (
    BUFFER_BOUND_HEADER,
    BUFFER_PEAK_HEADER,
    ENGRAM_SERVICE,
    SPACE_FIELD,
    TRUNCATED_HEADER,
)
from toolkit.schema.pool import Schema
from toolkit.server.commit_flow import MAX_UNPUBLISHED, CommitFlow, CommitFlows
from toolkit.server.hub import EndReason, EventHub, EventKind, SpaceEvent
from toolkit.server.messages import Messages, check_event_types, set_if_present
from toolkit.server.registry import LazyStore, ensure_usable
from toolkit.server.resolve import Resolution, SpaceResolver
from toolkit.server.rpc import (
    Context,
    abort,
    announce,
    decoded,
    fail,
    failures,
    method_handlers,
    store_failure,
)
from toolkit.server.status import (
    RpcFailure,
    failure,
    invalid_argument,
    space_deleted,
    with_note,
)
from toolkit.server.store import (
    OutOfDescriptors,
    SpaceStore,
    StoreClosed,
    StoreDamaged,
    StoredMemory,
)
from toolkit.server.writes import StoreWriter, UnaryWrites

log = logging.getLogger(__name__)

SERVICE = ENGRAM_SERVICE
DEFAULT_MAX_RESULTS = 100
# A Recall answer holds at most this many memories, and its memories at most this many bytes
# (each with its field's tag and length): under a client's default 4 MiB receive limit with
# room for the rest of the answer. An answer the bounds cut short says how many matches they
# left out (TRUNCATED_HEADER, trailing).
MAX_RECALL_RESULTS = 10_000
MAX_RECALL_BYTES = 4 * 1024 * 1024 - 64 * 1024
# A search of more live memories than this runs on a worker thread (`SpaceStore.scan`), so
# one tenant's full scan never stalls the event loop every other tenant is served by.
OFF_LOOP_SCAN_MEMORIES = 2_000
SCAN_WORKERS = 1  # scans at once (more wait their turn): a core stays free for the loop
SCAN_NICENESS = 10  # scan threads yield the CPU to the loop's (Linux: a thread's own nice)

__all__ = ["MAX_UNPUBLISHED", "SERVICE", "Context", "EngramServicer", "abort", "decoded"]


def _lower_priority() -> None:
    """Lower the calling thread's CPU priority, where the system allows (Linux)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SCAN_NICENESS)


class EngramServicer:
    """The Engram RPCs over a registry, a resolver and an event hub."""

    def __init__(
        self,
        schema: Schema,
        resolver: SpaceResolver,
        hub: EventHub,
        *,
        server_version: str,
        schema_version: str,
    ) -> None:
        self.schema = schema
        self.messages = Messages(schema)
        self.resolver = resolver
        self.hub = hub
        self.server_version = server_version
        self.schema_version = schema_version
        self.writer = StoreWriter()
        self.unary_writes = UnaryWrites()
        self.flows = CommitFlows(self.writer, self._remembered_event, self._publish_event)
        self._scans = concurrent.futures.ThreadPoolExecutor(
            max_workers=SCAN_WORKERS, thread_name_prefix="engram-scan", initializer=_lower_priority
        )

    async def close(self) -> None:
        """Commit the streamed writes still in flight and stop the writer and scan threads."""
        await self.writer.close()
        self._scans.shutdown(wait=True)

    # --- plumbing --------------------------------------------------------------------------

    def generic_handler(self) -> grpc.GenericRpcHandler:
        table: dict[str, Callable[..., Any]] = {
            "Remember": self._unary("Remember", self.remember),
            "Recall": self.recall_call,
            "Forget": self._unary("Forget", self.forget),
            "Experience": self._unary("Experience", self.experience),
            "Introspect": self.introspect_call,
            "Stream": self.stream,
            "StreamingRemember": self.streaming_remember,
            "MemoryFlow": self.memory_flow,
        }
        # Stream and Recall answer with bytes they encoded themselves: no serializer.
        raw = frozenset({"Stream", "Recall"})
        return method_handlers(self.schema, SERVICE, table, raw_responses=raw)

    async def _open(
        self,
        rpc: str,
        request: Any,
        context: Context,
        *,
        field: str | None = None,
        streaming: bool = False,
    ) -> Resolution:
        """Resolve the call's space and name it in the answer's metadata."""
        resolution = self.resolver.resolve(
            rpc, request, context.invocation_metadata() or (), context.peer(), field=field
        )
        await announce(resolution, context, early=streaming)  # an error's answer names it too
        ensure_usable(resolution.handle)
        return resolution

    def _unary(
        self, rpc: str, body: Callable[[Any, Resolution], Awaitable[Any]]
    ) -> Callable[[Any, Context], Awaitable[Any]]:
        async def handle(request: Any, context: Context) -> Any:
            # `failures`, inline: an async context manager costs every call a generator.
            try:
                resolution = await self._open(rpc, decoded(request), context)
                return await body(request, resolution)
            except Exception as exc:
                await fail(context, rpc, exc)

        return handle

    def _bound(self, rpc: str, resolution: Resolution, field: str) -> None:
        """Every message of a streaming call acts on the space its first message chose."""
        if field and field != resolution.space:
            raise invalid_argument(
                f"{rpc} is bound to memory space '{resolution.space}' by its first message;"
                " a later message names a different space",
                SPACE_FIELD,
            )

    async def _publish(self, resolution: Resolution, kind: EventKind, memory: StoredMemory) -> None:
        await self.hub.publish(SpaceEvent(resolution.space, kind, memory, time.time_ns()))

    def _remembered_event(self, resolution: Resolution, memory: StoredMemory) -> SpaceEvent:
        """A streamed write's event, encoded (on the writer thread: see `CommitFlow`)."""
        event = SpaceEvent(resolution.space, EventKind.REMEMBERED, memory, time.time_ns())
        if self.hub.subscriber_count(resolution.space):  # else nobody may ever send it
            event.wire(self._stream_body)
            _ = event.nbytes
        return event

    async def _publish_event(self, event: SpaceEvent) -> None:
        await self.hub.publish(event)

    # --- unary RPCs ------------------------------------------------------------------------

    async def remember(self, request: Any, resolution: Resolution) -> Any:
        store = resolution.handle.store
        kind = request.WhichOneof("memory_type")
        if kind == "memory":
            stored = self.messages.stored_memory(request.memory)
            memory = await self.unary_writes.remember(store, stored)
            await self._publish(resolution, EventKind.REMEMBERED, memory)
            return self.messages.new(
                "RememberResponse", memory_id=memory.id, confidence=memory.confidence
            )
        if kind == "episode":
            episode = store.experience(self.messages.stored_episode(request.episode))
            await self._publish(
                resolution, EventKind.EXPERIENCED, self.messages.episode_as_memory(episode)
            )
            return self.messages.new("RememberResponse", memory_id=episode.id, confidence=1.0)
        raise invalid_argument("RememberRequest needs a memory or an episode", "memory_type")

    async def _find(
        self,
        store: SpaceStore,
        *,
        memory_id: str | None,
        content_contains: str | None,
        min_confidence: float,
        limit: int | None = None,
    ) -> tuple[list[StoredMemory], int]:
        """`store.find`, a search of a large space on a scan thread (`SpaceStore.scan`)."""
        if memory_id is not None or store.count() <= OFF_LOOP_SCAN_MEMORIES:
            return store.find(
                memory_id=memory_id,
                content_contains=content_contains,
                min_confidence=min_confidence,
                limit=limit,
            )
        # The open store is taken here, on the loop (the registry's bounded set of open
        # stores is the loop's); the scan runs on a scan thread.
        current = store.store() if isinstance(store, LazyStore) else store
        scan = functools.partial(
            current.scan,
            content_contains=content_contains,
            min_confidence=min_confidence,
            limit=limit,
        )
        try:
            return await asyncio.get_running_loop().run_in_executor(self._scans, scan)
        except (StoreClosed, StoreDamaged, OutOfDescriptors):
            if store.closed:
                raise
            # Closed by the bounded set meanwhile, or SQLite could not read beside it: the
            # memories in memory answer alike (on the loop, once).
            return store.find(
                content_contains=content_contains, min_confidence=min_confidence, limit=limit
            )

    async def recall_call(self, request: Any, context: Context) -> bytes:
        """Recall, encoded (see `recall_answer`), saying in its trailing metadata how many
        matches the bounds left out."""
        try:
            resolution = await self._open("Recall", decoded(request), context)
            answer, omitted = await self.recall_answer(request, resolution)
        except Exception as exc:
            await fail(context, "Recall", exc)
            return b""
        if omitted:
            context.set_trailing_metadata((*resolution.announced, (TRUNCATED_HEADER, str(omitted))))
        return answer

    async def recall_answer(self, request: Any, resolution: Resolution) -> tuple[bytes, int]:
        """The encoded RecallResponse, at most MAX_RECALL_RESULTS memories and
        MAX_RECALL_BYTES; and how many matches it leaves out that the request asked for."""
        limit = request.max_results if request.max_results > 0 else DEFAULT_MAX_RESULTS
        cue = request.cue
        kind = cue.WhichOneof("cue_type")
        found, total = await self._find(
            resolution.handle.store,
            memory_id=cue.id if kind == "id" else None,
            content_contains=cue.content_contains if kind == "content_contains" else None,
            min_confidence=cue.threshold,
            limit=min(limit, MAX_RECALL_RESULTS),
        )
        answer, held = self.messages.recall_response(found, total, MAX_RECALL_BYTES)
        return answer, min(limit, total) - held

    async def forget(self, request: Any, resolution: Resolution) -> Any:
        store = resolution.handle.store
        target = request.WhichOneof("target")
        if target == "memory_id":
            ids = [request.memory_id]
        elif target == "pattern":
            kind = request.pattern.WhichOneof("cue_type")
            matched, _ = await self._find(
                store,
                memory_id=request.pattern.id if kind == "id" else None,
                content_contains=(
                    request.pattern.content_contains if kind == "content_contains" else None
                ),
                min_confidence=request.pattern.threshold,
            )
            ids = [m.id for m in matched]
        else:
            raise invalid_argument("ForgetRequest needs a memory_id or a pattern", "target")
        affected = store.forget(ids, soft=request.soft_delete)
        for memory in affected:
            await self._publish(resolution, EventKind.FORGOTTEN, memory)
        return self.messages.new("ForgetResponse", memories_affected=len(affected))

    async def experience(self, request: Any, resolution: Resolution) -> Any:
        if not request.HasField("episode"):
            raise invalid_argument("ExperienceRequest needs an episode", "episode")
        episode = resolution.handle.store.experience(self.messages.stored_episode(request.episode))
        await self._publish(
            resolution, EventKind.EXPERIENCED, self.messages.episode_as_memory(episode)
        )
        return self.messages.new("ExperienceResponse", episode_id=episode.id)

    async def introspect_call(self, request: Any, context: Context) -> Any:
        """Introspect, with the space's subscriber buffer figures in its trailing metadata."""
        try:
            resolution = await self._open("Introspect", decoded(request), context)
            response = await self.introspect(request, resolution)
        except Exception as exc:
            await fail(context, "Introspect", exc)
            return None
        peak = self.hub.peak_bytes(resolution.space)
        if peak is not None:
            buffers = (
                (BUFFER_BOUND_HEADER, str(self.hub.buffer_bytes)),
                (BUFFER_PEAK_HEADER, str(peak)),
            )
            context.set_trailing_metadata((*resolution.announced, *buffers))
        return response

    async def introspect(self, request: Any, resolution: Resolution) -> Any:
        response = self.messages.new(
            "IntrospectResponse",
            server_version=self.server_version,
            schema_version=self.schema_version,
            memory_count=resolution.handle.store.count(),
        )
        set_if_present(response, "default_memory_space_id", str(self.resolver.default_space))
        set_if_present(response, "resolved_memory_space_id", str(resolution.space))
        return response

    # --- streaming RPCs --------------------------------------------------------------------

    async def stream(self, request: Any, context: Context) -> AsyncIterator[bytes]:
        """Events of the call's space. Initial metadata is sent once the subscription is
        registered, so a client that has seen the headers will see every later event.

        Each event is encoded once, by the first stream that sends it; every stream then
        appends only its own sequence field to those shared bytes."""
        async with failures(context, "Stream"):
            resolution = self.resolver.resolve(
                "Stream", decoded(request), context.invocation_metadata() or (), context.peer()
            )
            context.set_trailing_metadata(resolution.announced)
            ensure_usable(resolution.handle)
            check_event_types(request.event_types)
        subscription = self.hub.subscribe(resolution.space, request.event_types)
        try:
            await announce(resolution, context, early=True)
            sequence = 0
            sequence_field = self.messages.sequence_field
            encode = self._stream_body
            pop = subscription.pop
            # Everything waiting is sent before the stream waits again: one wakeup per batch.
            while True:
                event = pop()
                if event is None:
                    if subscription.end_reason is not None:
                        break
                    await subscription.wait()
                    continue
                sequence += 1
                yield event.wire(encode) + sequence_field(sequence)
        finally:
            self.hub.unsubscribe(subscription)
        if subscription.end_reason is EndReason.DELETED:
            await abort(context, space_deleted(resolution.space))
        if subscription.end_reason is EndReason.OVERFLOW:
            await abort(
                context,
                failure(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"subscriber fell behind: more than {subscription.buffer} events or "
                    f"{subscription.buffer_bytes} bytes of events were waiting to be sent; "
                    "the stream was ended, resubscribe to continue",
                ),
            )

    def _stream_body(self, event: SpaceEvent) -> bytes:
        """An event's StreamResponse without its sequence, encoded once for all its streams."""
        return self.messages.stream_body(int(event.kind), event.memory, event.timestamp_ns)

    async def streaming_remember(self, requests: AsyncIterator[Any], context: Context) -> Any:
        """Each memory goes to the writer thread and the call reads on (`CommitFlow`); the
        answer waits for all of them."""
        rpc = "StreamingRemember"
        resolution: Resolution | None = None
        ids: list[str] = []
        flow: CommitFlow | None = None

        def committed_so_far(error: Exception) -> RpcFailure | None:
            found = store_failure(rpc, error)
            if flow is None or not flow.committed:
                return found
            if found is None:  # unforeseen: still say what stays stored
                log.exception("StreamingRemember failed", extra={"event": "rpc_failed"})
                found = failure(grpc.StatusCode.INTERNAL, f"{rpc} failed: {type(error).__name__}")
            return with_note(
                found,
                f"; {flow.committed} of the {len(ids)} memories this call sent before were "
                "committed and stay stored",
            )

        try:
            async with failures(context, rpc, committed_so_far):
                try:
                    # context.read(), not `async for`: no async generator step per message.
                    while (request := await context.read()) is not grpc.aio.EOF:
                        decoded(request)
                        if resolution is None:
                            resolution = await self._open(rpc, request, context)
                            flow = self.flows.start(resolution)
                        else:
                            self._bound(rpc, resolution, self.resolver.requested_by_field(request))
                        assert flow is not None
                        memory = self.messages.stored_memory(request.memory)
                        await flow.submit(resolution.handle.store, memory)
                        ids.append(memory.id)
                    if resolution is None:
                        await self._open(rpc, None, context)
                    if flow is not None:
                        await flow.finish()
                except Exception:
                    if flow is not None:
                        await flow.drain()  # so the error can say what was committed
                    raise
        finally:
            if flow is not None:
                flow.abandon()
        return self.messages.new("StreamingRememberResponse", memory_ids=ids, count=len(ids))

    def _flow_field(self, request: Any) -> str:
        """A MemoryFlow message names its space on itself or on its inner request."""
        outer = self.resolver.requested_by_field(request)
        kind = request.WhichOneof("request")
        inner = self.resolver.requested_by_field(getattr(request, kind)) if kind else ""
        if outer and inner and outer != inner:
            raise invalid_argument(
                f"MemoryFlowRequest.{SPACE_FIELD} and its {kind} request name different spaces",
                SPACE_FIELD,
            )
        return outer or inner

    async def memory_flow(
        self, requests: AsyncIterator[Any], context: Context
    ) -> AsyncIterator[Any]:
        rpc = "MemoryFlow"
        resolution: Resolution | None = None
        omitted = 0
        async with failures(context, rpc):
            async for request in requests:
                decoded(request)
                field = self._flow_field(request)
                if resolution is None:
                    resolution = await self._open(
                        rpc, request, context, field=field, streaming=True
                    )
                else:
                    self._bound(rpc, resolution, field)
                kind = request.WhichOneof("request")
                if kind == "remember":
                    answer = await self.remember(request.remember, resolution)
                elif kind == "recall":
                    encoded, left_out = await self.recall_answer(request.recall, resolution)
                    answer = self.messages.parse("RecallResponse", encoded)
                    if left_out:
                        omitted += left_out
                        context.set_trailing_metadata(
                            (*resolution.announced, (TRUNCATED_HEADER, str(omitted)))
                        )
                else:
                    raise invalid_argument("MemoryFlowRequest needs remember or recall", "request")
                yield self.messages.new("MemoryFlowResponse", **{kind: answer})
            if resolution is None:
                await self._open(rpc, None, context, streaming=True)
