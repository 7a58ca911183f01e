"""Assemble and run the reference server: in the foreground (`serve`) or in a thread (tests).

`ServerOverrides` are the seams tests use to build deliberately broken servers without any
flag in the product: serve another schema, resolve spaces differently, fan events out
differently, or open stores differently.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc
import grpc.aio
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from toolkit import __version__
from toolkit.contract import DEFAULT_SPACE
from toolkit.errors import ToolkitError
from toolkit.schema.pool import Schema, SchemaName, load_schema
from toolkit.schema.version import SchemaVersionError, declared_version
from toolkit.server import engram_service, space_service
from toolkit.server.adopt import PreMigrationRegistry, adopt_pre_migration_store
from toolkit.server.engram_service import EngramServicer
from toolkit.server.hub import DEFAULT_BUFFER_BYTES, EventHub
from toolkit.server.logs import LogFormat
from toolkit.server.registry import (
    DEFAULT_MAX_OPEN_SPACES,
    DEFAULT_MAX_SPACES,
    MemorySpaceRegistry,
    StoreFactory,
)
from toolkit.server.resolve import LegacyResolver, SpaceResolver
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.space_service import MemorySpaceServicer
from toolkit.server.store import SpaceStore

log = logging.getLogger(__name__)

T = TypeVar("T")
ResolverFactory = Callable[[MemorySpaceRegistry, MemorySpaceId], SpaceResolver]
HubFactory = Callable[[int], EventHub]


class ServerStartError(ToolkitError):
    """The server could not bind its address."""


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """What `engram-compat serve` is told on its command line."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    default_space: str = DEFAULT_SPACE
    schema: SchemaName = "current"
    subscriber_buffer: int = 1024
    subscriber_buffer_bytes: int = DEFAULT_BUFFER_BYTES
    log_format: LogFormat = "json"
    shutdown_grace_s: float = 2.0
    max_spaces: int = DEFAULT_MAX_SPACES
    max_open_spaces: int = DEFAULT_MAX_OPEN_SPACES


@dataclass(frozen=True)
class ServerOverrides:
    """Seams for tests; each `None` means the product's own part.

    schema: serve this `Schema` instead of the packaged one named by `config.schema` (e.g. a
        deliberately renumbered schema compiled in a test); behaviour still follows
        `config.schema` ("current": spaces; "legacy": the pre-migration server).
    resolver: a `SpaceResolver` subclass (or any callable taking `(registry, default_space)`)
        used for every call's space resolution. Override `lookup` to auto-create unknown
        spaces, `on_deprecated` to drop the deprecation header, `requested_by_header` to
        ignore the header, `announce` to drop `x-engram-memory-space`.
    hub_factory: an `EventHub` subclass (or any callable taking the subscriber buffer size).
        Override `subscribers_for` to leak events across spaces, or `deliver` (e.g. to
        `await subscription.put(event)`) to let a slow subscriber stall every writer.
    store_factory: opens a space's store from its directory (default `SpaceStore.open`),
        e.g. to count how often stores are opened. Stores open on first use and again after
        the bounded set of open stores (`max_open_spaces`) closed them; a factory that raises
        `StoreDamaged` quarantines the space.
    """

    schema: Schema | None = None
    resolver: ResolverFactory | None = None
    hub_factory: HubFactory | None = None
    store_factory: StoreFactory | None = None


def _schema_version(schema: Schema) -> str:
    try:
        return str(declared_version(schema.files))
    except SchemaVersionError:
        return "unknown"


# grpcio-reflection ships only v1alpha; v1 (what grpcurl and Node's client ask for first) is the
# same messages and method under another package, so it is served by the same handler.
REFLECTION_V1_PACKAGE = "grpc.reflection.v1"
REFLECTION_V1_SERVICE = f"{REFLECTION_V1_PACKAGE}.ServerReflection"


def _reflection_v1_file() -> descriptor_pb2.FileDescriptorProto:
    """reflection.proto's v1 file: v1alpha's descriptor with its package renamed."""
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    old, new = f".{proto.package}.", f".{REFLECTION_V1_PACKAGE}."
    proto.name = "grpc/reflection/v1/reflection.proto"
    proto.package = REFLECTION_V1_PACKAGE
    for message in proto.message_type:
        for field in message.field:
            if field.type_name.startswith(old):
                field.type_name = new + field.type_name[len(old) :]
    for service in proto.service:
        for method in service.method:
            method.input_type = new + method.input_type[len(old) :]
            method.output_type = new + method.output_type[len(old) :]
    return proto


def _enable_reflection(
    server: grpc.aio.Server, services: list[str], pool: descriptor_pool.DescriptorPool
) -> None:
    """Server reflection as v1alpha and v1, one servicer behind both."""
    servicer = reflection.aio.ReflectionServicer(
        [*services, reflection.SERVICE_NAME, REFLECTION_V1_SERVICE], pool=pool
    )
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.method_handlers_generic_handler(
        REFLECTION_V1_SERVICE,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((v1,))


def _reflection_pool(schema: Schema) -> descriptor_pool.DescriptorPool:
    """The schema's files plus health and reflection, so `grpcurl` can describe all three."""
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()
    files = list(schema.files.file)
    for module in (health_pb2, reflection_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        files.append(proto)
    files.append(_reflection_v1_file())
    for file_proto in files:
        if file_proto.name not in added:
            pool.Add(file_proto)
            added.add(file_proto.name)
    return pool


class EngramServer:
    """The assembled server on a `grpc.aio` server; start and stop it on one event loop."""

    def __init__(self, config: ServerConfig, overrides: ServerOverrides | None = None) -> None:
        self.config = config
        self.overrides = overrides or ServerOverrides()
        self.default_space = MemorySpaceId(config.default_space)
        self.schema = self.overrides.schema or load_schema(config.schema)
        self.port = 0
        self._grpc: grpc.aio.Server | None = None
        self._health: HealthServicer | None = None
        self._engram: EngramServicer | None = None
        self._stopped = False
        self.registry: MemorySpaceRegistry | None = None
        self.hub: EventHub | None = None

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    def services(self) -> list[str]:
        names = [engram_service.SERVICE]
        if self.config.schema == "current":
            names.append(space_service.SERVICE)
        return [name for name in names if any(m.service == name for m in self.schema.methods())]

    async def start(self) -> int:
        """Adopt a pre-migration store, open the data dir, register its spaces (their stores
        open on first use), bind, and serve; returns the bound port."""
        legacy = self.config.schema == "legacy"
        if not legacy:
            adopt_pre_migration_store(self.config.data_dir, self.default_space)
        registry = (PreMigrationRegistry if legacy else MemorySpaceRegistry)(
            self.config.data_dir,
            store_factory=self.overrides.store_factory or SpaceStore.open,
            max_spaces=self.config.max_spaces,
            max_open_spaces=self.config.max_open_spaces,
        )
        self.registry = registry
        started = time.monotonic()
        recovered = registry.recover(check=False)
        recovery_s = time.monotonic() - started
        registry.check_in_background()
        registry.create(self.default_space)
        hub = (self.overrides.hub_factory or EventHub)(self.config.subscriber_buffer)
        hub.buffer_bytes = self.config.subscriber_buffer_bytes  # factories take the count only
        self.hub = hub
        resolver_factory = self.overrides.resolver or (
            LegacyResolver if self.config.schema == "legacy" else SpaceResolver
        )
        resolver = resolver_factory(registry, self.default_space)

        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        services = self.services()
        engram = EngramServicer(
            self.schema,
            resolver,
            hub,
            server_version=__version__,
            schema_version=_schema_version(self.schema),
        )
        self._engram = engram
        handlers: list[grpc.GenericRpcHandler] = [engram.generic_handler()]
        if space_service.SERVICE in services:
            handlers.append(
                MemorySpaceServicer(
                    self.schema, registry, hub, self.default_space
                ).generic_handler()
            )
        server.add_generic_rpc_handlers(tuple(handlers))
        self._health = HealthServicer()
        for name in ["", *services]:
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        _enable_reflection(
            server,
            [*services, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name],
            _reflection_pool(self.schema),
        )
        target = f"{self.config.host}:{self.config.port}"
        try:
            self.port = server.add_insecure_port(target)
        except RuntimeError as exc:
            registry.close()
            raise ServerStartError(f"cannot listen on {target}: {exc}") from exc
        if self.port == 0:
            registry.close()
            raise ServerStartError(f"cannot listen on {target}")
        await server.start()
        self._grpc = server
        log.info(
            "serving",
            extra={
                "event": "server_started",
                "address": self.address,
                "schema": self.config.schema,
                "data_dir": str(registry.data_dir),
                "default_space": str(self.default_space),
                "spaces": len(registry),
                "quarantined": [str(s) for s in registry.quarantined()],
                "recovered": len(recovered),
                "recovery_s": round(recovery_s, 3),
            },
        )
        return self.port

    async def stop(self) -> None:
        """End streams, stop accepting calls, let running calls finish briefly, close stores."""
        if self._stopped:
            return
        self._stopped = True
        if self.hub is not None:
            self.hub.close()
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        if self._grpc is not None:
            await self._grpc.stop(self.config.shutdown_grace_s)
        if self._engram is not None:
            await self._engram.close()
        if self.registry is not None:
            self.registry.close()
        log.info("stopped", extra={"event": "server_stopped", "address": self.address})


class RunningServer:
    """A server running on its own event loop in a background thread."""

    def __init__(
        self, server: EngramServer, loop: asyncio.AbstractEventLoop, thread: threading.Thread
    ) -> None:
        self.server = server
        self._loop = loop
        self._thread = thread
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def registry(self) -> MemorySpaceRegistry:
        assert self.server.registry is not None
        return self.server.registry

    @property
    def hub(self) -> EventHub:
        assert self.server.hub is not None
        return self.server.hub

    def call(self, function: Callable[[], T], timeout: float = 10.0) -> T:
        """Run `function` on the server's loop thread (to inspect the hub or the tasks)."""

        async def run() -> T:
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self) -> None:
        """Stop gracefully and join the thread; safe to call more than once."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            future = asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop)
            future.result(self.server.config.shutdown_grace_s + 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_server_thread(
    config: ServerConfig, *, overrides: ServerOverrides | None = None
) -> RunningServer:
    """Start a server in a background thread; returns once it is bound and serving."""
    server = EngramServer(config, overrides)
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[None] = concurrent.futures.Future()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:
            ready.set_exception(exc)
            loop.close()
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=run, name=f"engram-server-{id(server):x}", daemon=True)
    thread.start()
    ready.result(timeout=60)
    return RunningServer(server, loop, thread)


async def serve_until_signalled(
    config: ServerConfig, *, announce: Callable[[str], Any] = print
) -> None:
    """Serve in the foreground until SIGTERM or SIGINT, then stop gracefully."""
    server = EngramServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    announce(f"listening on {server.address}")
    try:
        await stop.wait()
    finally:
        await server.stop()
