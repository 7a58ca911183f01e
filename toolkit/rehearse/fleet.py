"""N reference servers, each its own process and data dir, upgraded by SIGTERM + restart.

A server keeps its port across restarts, so the fleet's address list (the clients'
`round_robin` target) never changes. What each process runs is a `ServerCommand`: the
reference `engram-compat serve` by default; tests pass a deliberately broken server.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from toolkit.errors import ToolkitError
from toolkit.schema.pool import SchemaName

log = logging.getLogger(__name__)

LISTENING_PREFIX = "listening on "
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

ServerCommand = Callable[[SchemaName, Path, int], list[str]]


class FleetError(ToolkitError):
    """A server of the fleet did not start or stop (its log's last lines are included)."""


def reference_command(schema: SchemaName, data_dir: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "toolkit",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--schema",
        schema,
        "--log-format",
        "json",
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class FleetServer:
    """One member: its fixed port and data dir, and the process currently serving them."""

    index: int
    port: int
    data_dir: Path
    log_path: Path
    schema: SchemaName = "legacy"
    process: subprocess.Popen[str] | None = None
    starts: int = 0
    _log: IO[str] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def name(self) -> str:
        return f"s{self.index + 1}"

    def log_tail(self, lines: int = 3) -> str:
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
        for server in self.servers:
            self._stop(server)
            if server._log is not None:
                server._log.close()
                server._log = None

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
