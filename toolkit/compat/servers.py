"""The server under test: an external target, or a reference server started for the suite.

The suite only needs an address, the server's log records (when it can read them) and a way
to stop what it started. `engram-compat runtime` starts the current reference server itself,
once for the run (started.py); the workers call it as an `ExternalServer` with its log file.
`ServerProcess` is that server in a subprocess of a pytest session run without the command.
MATRIX's 1.0.0 server (`serve --schema legacy`) runs in a thread of the process that needs it:
it answers four calls and its log is not read, so a process of its own would only cost start-up
time. A `ServerFactory` makes one; tests of the suite pass their own (deliberately broken
servers) with `--compat-server-factory module:function`.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from toolkit.compat.started import (
    LISTENING_PREFIX,
    START_TIMEOUT_S,
    ServerStartError,
    serve_command,
)
from toolkit.errors import ToolkitError
from toolkit.schema.pool import SchemaName

log = logging.getLogger(__name__)


class ServerUnderTest(Protocol):
    @property
    def address(self) -> str: ...

    def log_records(self) -> list[dict[str, Any]] | None:
        """The server's structured log records so far; None when the suite cannot read them."""
        ...

    def stop(self) -> None: ...


ServerFactory = Callable[[SchemaName, Path], ServerUnderTest]


class LogReader(Protocol):
    def records(self) -> list[dict[str, Any]]: ...


class ExternalServer:
    """A server someone else runs: the suite stops nothing, and reads its log only when given
    the file it writes (`--server-log`)."""

    def __init__(self, address: str, log_file: LogReader | None = None) -> None:
        self._address = address
        self._log_file = log_file

    @property
    def address(self) -> str:
        return self._address

    def log_records(self) -> list[dict[str, Any]] | None:
        return self._log_file.records() if self._log_file is not None else None

    def stop(self) -> None:
        return None


def parse_log_line(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class ServerProcess:
    """`engram-compat serve --port 0` in a subprocess, its stderr log collected as it arrives."""

    def __init__(self, schema: SchemaName, data_dir: Path) -> None:
        command = serve_command(schema, data_dir)
        self._records: list[dict[str, Any]] = []
        self._raw: list[str] = []
        self._lock = threading.Lock()
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        self._address = self._wait_for_address()

    def _read_log(self) -> None:
        assert self._process.stderr is not None
        for line in self._process.stderr:
            record = parse_log_line(line)
            with self._lock:
                self._raw.append(line.rstrip("\n"))
                if record is not None:
                    self._records.append(record)

    def _wait_for_address(self) -> str:
        assert self._process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if line.startswith(LISTENING_PREFIX):
                return line[len(LISTENING_PREFIX) :].strip()
            if not line and self._process.poll() is not None:
                break
        self.stop()
        with self._lock:
            output = " | ".join(self._raw[-5:])
        raise ServerStartError(f"the reference server did not start: {output or 'no output'}")

    @property
    def address(self) -> str:
        return self._address

    def log_records(self) -> list[dict[str, Any]] | None:
        with self._lock:
            return list(self._records)

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdout,):
            if stream is not None:
                stream.close()
        self._reader.join(timeout=5)


class ServerThread:
    """The reference server (what `engram-compat serve` runs) on a thread of this process."""

    def __init__(self, schema: SchemaName, data_dir: Path) -> None:
        from toolkit.server.app import ServerConfig, start_server_thread

        self._running = start_server_thread(ServerConfig(data_dir=data_dir, schema=schema))

    @property
    def address(self) -> str:
        return self._running.address

    def log_records(self) -> list[dict[str, Any]] | None:
        return None

    def stop(self) -> None:
        self._running.stop()


def reference_server(schema: SchemaName, data_dir: Path) -> ServerUnderTest:
    """The current server in a process of its own (its log read); the legacy one in a thread."""
    if schema == "legacy":
        return ServerThread(schema, data_dir)
    return ServerProcess(schema, data_dir)


def load_factory(spec: str | None) -> ServerFactory:
    """`module:function` as a server factory; the reference server when `spec` is None."""
    if not spec:
        return reference_server
    module_name, _, attribute = spec.partition(":")
    try:
        factory: ServerFactory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ToolkitError(f"server factory {spec!r} cannot be loaded: {exc}") from exc
    return factory
