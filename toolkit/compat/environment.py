"""One pytest worker's view of the servers under test and the spaces it created on them."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

import grpc

from toolkit.compat.calls import WRITES, NewClient
from toolkit.compat.server_log import LogFile, ServerLog
from toolkit.compat.servers import ExternalServer, ServerUnderTest, load_factory
from toolkit.compat.settings import CompatSettings
from toolkit.compat.started import ServerStartError, StartedServerInfo
from toolkit.contract import SPACE_FIELD
from toolkit.documents.compat import Cleanup, Preflight
from toolkit.errors import ToolkitError
from toolkit.schema.pool import SchemaName, load_schema

log = logging.getLogger(__name__)


class CompatEnv:
    """Starts (or points at) the servers, hands out channels, cleans up at the end."""

    def __init__(
        self,
        settings: CompatSettings,
        workdir: Path,
        worker: str,
        started: Callable[[], StartedServerInfo] | None = None,
    ) -> None:
        self.settings = settings
        self.workdir = workdir
        # The current server `engram-compat runtime` started for the whole run (shared by its
        # workers, stopped by the command): called as a target is, its log file read.
        self._started = started
        # Unique per worker and run, so runs against a shared external target never collide.
        self.prefix = f"ec-{worker.replace('gw', 'w')}-{secrets.token_hex(3)}"
        self._servers: dict[SchemaName, Future[ServerUnderTest]] = {}
        self._channels: dict[SchemaName, grpc.Channel] = {}
        self._created: list[str] = []
        self._server_log: ServerLog | None = None
        self._counter = 0
        self._lock = threading.Lock()

    def start(self, schema: SchemaName) -> None:
        """Start `schema`'s server in the background, so it boots while the suite gets ready."""
        future = self._claim(schema)
        if future is not None:
            threading.Thread(
                target=self._start, args=(schema, future), name=f"start-{schema}", daemon=True
            ).start()

    def server(self, schema: SchemaName) -> ServerUnderTest:
        """`schema`'s server, once it is serving (started now if nobody started it yet)."""
        future = self._claim(schema)
        if future is not None:
            self._start(schema, future)
        return self._servers[schema].result()

    def _claim(self, schema: SchemaName) -> Future[ServerUnderTest] | None:
        """A new future to fulfil when `schema`'s server is not being started yet."""
        with self._lock:
            if schema in self._servers:
                return None
            future: Future[ServerUnderTest] = Future()
            self._servers[schema] = future
            return future

    def _start(self, schema: SchemaName, future: Future[ServerUnderTest]) -> None:
        try:
            external = self.settings.target if schema == "current" else self.settings.legacy_target
            if external:
                log_file = None
                if schema == "current" and self.settings.server_log is not None:
                    log_file = LogFile(self.settings.server_log, self.settings.server_log_pattern)
                future.set_result(ExternalServer(external, log_file))
                return
            if schema == "current" and self._started is not None:
                info = self._started()
                if info.address is None:
                    raise ServerStartError(info.error or "the reference server did not start")
                future.set_result(ExternalServer(info.address, LogFile(info.log)))
                return
            data_dir = self.workdir / f"data-{schema}"
            data_dir.mkdir(parents=True, exist_ok=True)
            future.set_result(load_factory(self.settings.server_factory)(schema, data_dir))
        except BaseException as exc:  # handed to whoever waits for this server
            future.set_exception(exc)

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

    def server_log(self) -> ServerLog | None:
        """The current server's log with its sentinel; None when the log cannot be read."""
        server = self.server("current")
        if server.log_records() is None:
            return None
        calls = self.channel("current")
        with self._lock:
            if self._server_log is None:
                self._server_log = ServerLog(server.log_records, server.address, calls)
            return self._server_log

    def preflight(self) -> Preflight:
        """What the current server implements, against the schema under test."""
        from toolkit.compat.preflight import run_preflight

        return run_preflight(self.channel("current"), load_schema("current"))

    def space_name(self, label: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{self.prefix}-{label}-{self._counter}"[:64]

    def new_space(self, label: str) -> str:
        """Create a fresh space on the current server (deleted at the end on an external one)."""
        space = self.space_name(label)
        admin = NewClient(self.channel("current"), None, "none")
        outcome = admin.call("CreateSpace", admin.request("CreateSpace", **{SPACE_FIELD: space}))
        if not outcome.ok:
            raise ToolkitError(f"CreateSpace({space}) failed: {outcome.code} {outcome.details}")
        with self._lock:
            self._created.append(space)
        return space

    def forget_space(self, space: str) -> None:
        """A space the suite created and has deleted itself: nothing left to clean up."""
        with self._lock:
            if space in self._created:
                self._created.remove(space)

    def _clean_target(self, channel: grpc.Channel) -> Cleanup:
        """Remove what this worker wrote: its spaces, and its writes to the default space by id.

        Only spaces this worker created are deleted; in the default space only the ids its own
        calls wrote (as the server's answers named them) are forgotten.
        """
        admin = NewClient(channel, None, "none")
        deleted: list[str] = []
        forgotten: list[str] = []
        failures: list[str] = []
        for space in self._created:
            request = admin.request("DeleteSpace", **{SPACE_FIELD: space})
            outcome = admin.call("DeleteSpace", request, timeout=5)
            if outcome.ok:
                deleted.append(space)
            else:
                failures.append(f"space {space} was not deleted: {outcome.code} {outcome.details}")
        introspect = admin.call("Introspect", admin.request("Introspect"), timeout=5)
        default = str(introspect.response.default_memory_space_id) if introspect.ok else ""
        if default:
            home = NewClient(channel, default, "field")
            for memory_id in sorted(WRITES.in_space(default)):
                forget = home.call("Forget", home.request("Forget", memory_id=memory_id), timeout=5)
                if forget.ok:
                    forgotten.append(memory_id)
                else:
                    failures.append(
                        f"memory {memory_id} in space {default} was not forgotten: "
                        f"{forget.code} {forget.details}"
                    )
            episodes = sorted(WRITES.episodes_in(default))
            if episodes:
                failures.append(
                    f"{len(episodes)} episodes written to space {default} stay "
                    f"({', '.join(episodes[:5])}{', ...' if len(episodes) > 5 else ''}): "
                    "the contract has no RPC that removes an episode"
                )
        elif WRITES.in_space(""):
            failures.append("the default space is unknown: its memories were not forgotten")
        for failure in failures:
            log.warning("%s", failure)
        return Cleanup(tuple(deleted), tuple(forgotten), tuple(failures))

    def close(self) -> Cleanup | None:
        """Clean an external target (what was cleaned up); stop every server this env started."""
        channel = self._channels.get("current")
        cleanup = None
        if channel is not None and self.settings.target:
            # A server the suite started is discarded with its data dir: nothing to delete there.
            cleanup = self._clean_target(channel)
        if self._server_log is not None:
            self._server_log.close()
        for open_channel in self._channels.values():
            open_channel.close()
        for future in self._servers.values():
            try:
                server = future.result()
            except Exception:  # it never started; its error was reported where it was needed
                continue
            server.stop()
        return cleanup
