"""N reference servers, each its own process and data dir, upgraded by SIGTERM + restart.

A server keeps its port across restarts, so the fleet's address list (the clients'
`round_robin` target) never changes. What each process runs is a `ServerCommand`: the
reference `engram-compat serve` by default; tests pass a deliberately broken server.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from toolkit.errors import ToolkitError
from toolkit.schema.pool import SchemaName
from toolkit.server import command_line

log = logging.getLogger(__name__)

LISTENING_PREFIX = "listening on "
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
HOOK_TIMEOUT_S = 120.0

ServerCommand = Callable[[SchemaName, Path, int], list[str]]


class FleetError(ToolkitError):
    """A server of the fleet did not start or stop (its log's last lines are included)."""


def reference_command(schema: SchemaName, data_dir: Path, port: int) -> list[str]:
    return command_line.reference_command(schema, data_dir, port)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class FleetServer:
    """One member: its fixed address and data dir, and the process currently serving them.

    A server of an external fleet (`HookedFleet`) has no data dir or log this side can read.
    """

    index: int
    port: int
    data_dir: Path | None
    log_path: Path | None
    schema: SchemaName = "legacy"
    process: subprocess.Popen[str] | None = None
    starts: int = 0
    host: str = "127.0.0.1"
    _log: IO[str] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def name(self) -> str:
        return f"s{self.index + 1}"

    def log_tail(self, lines: int = 3) -> str:
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])


class Fleet:
    """Start, stop, upgrade and roll back the servers; always `close()` (or use `with`)."""

    def __init__(
        self, servers: int, work_dir: Path, *, command: ServerCommand = reference_command
    ) -> None:
        self.work_dir = work_dir
        self.command = command
        self.servers = [
            FleetServer(i, free_port(), work_dir / f"s{i + 1}", work_dir / f"s{i + 1}.log")
            for i in range(servers)
        ]

    @property
    def addresses(self) -> list[str]:
        return [server.address for server in self.servers]

    def target(self) -> str:
        """The clients' target: every address, balanced by `round_robin`."""
        return "ipv4:" + ",".join(self.addresses)

    def start_all(self, schema: SchemaName = "legacy") -> None:
        for server in self.servers:
            self._launch(server, schema)
        for server in self.servers:
            self._wait_listening(server)

    def restart(
        self,
        index: int,
        schema: SchemaName,
        *,
        stopped: Callable[[FleetServer], None] | None = None,
        step: int = 0,
    ) -> float:
        """Stop server `index` (SIGTERM) and start it on the same port and data dir with
        `schema`; `stopped` runs while it is down. Returns the seconds it was away."""
        server = self.servers[index]
        began = time.monotonic()
        self._stop(server)
        if stopped is not None:
            stopped(server)
        self._launch(server, schema)
        self._wait_listening(server)
        return time.monotonic() - began

    def _launch(self, server: FleetServer, schema: SchemaName) -> None:
        assert server.data_dir is not None and server.log_path is not None
        server.data_dir.mkdir(parents=True, exist_ok=True)
        if server._log is None:
            server._log = server.log_path.open("a")
        server.schema = schema
        server.starts += 1
        server.process = subprocess.Popen(
            self.command(schema, server.data_dir, server.port),
            stdout=subprocess.PIPE,
            stderr=server._log,
            text=True,
            env=dict(os.environ),
        )

    def _wait_listening(self, server: FleetServer) -> None:
        process = server.process
        assert process is not None and process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith(LISTENING_PREFIX):
                log.debug("server %s (%s) serving on %s", server.name, server.schema, line.strip())
                return
            if not line and process.poll() is not None:
                break
        self._stop(server)
        raise FleetError(
            f"server {server.name} ({server.schema} schema, data dir {server.data_dir}) did not "
            f"start: {server.log_tail() or 'no output'}"
        )

    def _stop(self, server: FleetServer) -> None:
        process = server.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        server.process = None

    def close(self) -> None:
        for server in self.servers:  # signal every server first: they stop side by side
            if server.process is not None and server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in self.servers:
            self._stop(server)
            if server._log is not None:
                server._log.close()
                server._log = None

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_fleet(spec: str) -> list[tuple[str, int]]:
    """`HOST:PORT,HOST:PORT,...` as (host, port) pairs; a malformed entry is a user error."""
    members: list[tuple[str, int]] = []
    for entry in (part.strip() for part in spec.split(",")):
        host, sep, port = entry.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise FleetError(f"--fleet entry {entry!r} is not HOST:PORT")
        members.append((host, int(port)))
    if not members:
        raise FleetError("--fleet names no server")
    return members


class HookedFleet(Fleet):
    """Servers something else runs and upgrades: each step runs a hook command.

    The hook is run as `CMD ADDRESS ACTION STEP` (ACTION `upgrade` or `rollback`, STEP the
    plan's step number) and must exit 0 once the server at ADDRESS serves the new version;
    the rehearsal then checks that it answers health checks. The servers are assumed to run the
    legacy schema when the rehearsal starts.
    """

    def __init__(
        self,
        members: Sequence[tuple[str, int]],
        *,
        upgrade_hook: str,
        rollback_hook: str | None = None,
    ) -> None:
        self.work_dir = Path(".")
        self.command = reference_command
        self.upgrade_hook = upgrade_hook
        self.rollback_hook = rollback_hook
        self.servers = [
            FleetServer(i, port, None, None, host=host) for i, (host, port) in enumerate(members)
        ]

    def start_all(self, schema: SchemaName = "legacy") -> None:
        for server in self.servers:
            self._wait_serving(server)

    def restart(
        self,
        index: int,
        schema: SchemaName,
        *,
        stopped: Callable[[FleetServer], None] | None = None,
        step: int = 0,
    ) -> float:
        server = self.servers[index]
        action = "upgrade" if schema == "current" else "rollback"
        hook = self.upgrade_hook if schema == "current" else self.rollback_hook
        if hook is None:
            raise FleetError(f"step {step} rolls {server.address} back, but no --rollback-hook")
        began = time.monotonic()
        argv = [*shlex.split(hook), server.address, action, str(step)]
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=HOOK_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FleetError(f"the {action} hook for {server.address} failed: {exc}") from exc
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise FleetError(
                f"the {action} hook for {server.address} exited {done.returncode}: {tail}"
            )
        server.schema = schema
        server.starts += 1
        self._wait_serving(server)
        return time.monotonic() - began

    def _wait_serving(self, server: FleetServer) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        with grpc.insecure_channel(server.address) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                try:
                    answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if answer.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.1)
        raise FleetError(f"server {server.address} did not answer health checks")

    def close(self) -> None:
        return None  # the fleet belongs to someone else
