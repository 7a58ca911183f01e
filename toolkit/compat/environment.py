"""One pytest worker's view of the servers under test and the spaces it created on them."""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from toolkit.compat.calls import NewClient
from toolkit.compat.servers import ExternalServer, ServerUnderTest, load_factory
from toolkit.errors import ToolkitError
from toolkit.schema.pool import SchemaName

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CompatSettings:
    target: str | None
    legacy_target: str | None
    recordings: Path
    scale: float
    server_factory: str | None


class CompatEnv:
    """Starts (or points at) the servers lazily, hands out channels, cleans up at the end."""

    def __init__(self, settings: CompatSettings, workdir: Path, worker: str) -> None:
        self.settings = settings
        self.workdir = workdir
        # Unique per worker and run, so runs against a shared external target never collide.
        self.prefix = f"ec-{worker.replace('gw', 'w')}-{secrets.token_hex(3)}"
        self._servers: dict[SchemaName, ServerUnderTest] = {}
        self._channels: dict[SchemaName, grpc.Channel] = {}
        self._created: list[str] = []
        self._counter = 0
        self._lock = threading.Lock()

    def server(self, schema: SchemaName) -> ServerUnderTest:
        with self._lock:
            if schema not in self._servers:
                self._servers[schema] = self._start(schema)
            return self._servers[schema]

    def _start(self, schema: SchemaName) -> ServerUnderTest:
        external = self.settings.target if schema == "current" else self.settings.legacy_target
        if external:
            return ExternalServer(external)
        data_dir = self.workdir / f"data-{schema}"
        data_dir.mkdir(parents=True, exist_ok=True)
        return load_factory(self.settings.server_factory)(schema, data_dir)

    def channel(self, schema: SchemaName) -> grpc.Channel:
        server = self.server(schema)
        with self._lock:
            if schema not in self._channels:
                channel = grpc.insecure_channel(server.address)
                try:
                    grpc.channel_ready_future(channel).result(timeout=15)
                except grpc.FutureTimeoutError as exc:
                    channel.close()
                    raise ToolkitError(f"no gRPC server answers at {server.address}") from exc
                self._channels[schema] = channel
            return self._channels[schema]

    def log_records(self) -> list[dict[str, Any]] | None:
        return self.server("current").log_records()

    def space_name(self, label: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{self.prefix}-{label}-{self._counter}"[:64]

    def new_space(self, label: str) -> str:
        """Create a fresh space on the current server (deleted again at the end)."""
        space = self.space_name(label)
        admin = NewClient(self.channel("current"), None, "none")
        outcome = admin.call("CreateSpace", admin.request("CreateSpace", memory_space_id=space))
        if not outcome.ok:
            raise ToolkitError(f"CreateSpace({space}) failed: {outcome.code} {outcome.details}")
        with self._lock:
            self._created.append(space)
        return space

    def close(self) -> None:
        channel = self._channels.get("current")
        if channel is not None:
            admin = NewClient(channel, None, "none")
            for space in self._created:
                request = admin.request("DeleteSpace", memory_space_id=space)
                outcome = admin.call("DeleteSpace", request, timeout=5)
                if not outcome.ok:
                    log.warning("could not delete space %s: %s", space, outcome.details)
        for open_channel in self._channels.values():
            open_channel.close()
        for server in self._servers.values():
            server.stop()
