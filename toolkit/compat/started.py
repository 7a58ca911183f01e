"""The reference server `engram-compat runtime` starts for a whole run, before pytest starts.

Started as the command's first act, it boots while pytest and its workers start. Every worker
calls it as it would call a `--target` (each check measures only what it wrote itself) and
reads its log file (JSON lines, as `--server-log` reads a target's); it is discarded once,
after pytest returns. Light on purpose: the command imports this before pytest.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from toolkit.errors import ToolkitError
from toolkit.server.command_line import reference_command

log = logging.getLogger(__name__)

LISTENING_PREFIX = "listening on "
START_TIMEOUT_S = 30.0
# The byte bound of a subscriber's buffer in the current server the suite starts: an eighth of
# the 8 MiB default, so STREAM_BACKPRESSURE overflows it several times over with 3 MiB.
SUITE_BUFFER_BYTES = 1024 * 1024
# How the controller hands the started server to its pytest-xdist workers (workerinput).
STARTED_INPUT = "engram_compat_started_server"
PLUGIN_NAME = "engram-compat-started-server"
LOG_TAIL_LINES = 5
PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent ends
MEMORY_FS = "/dev/shm"
MEMORY_FS_MIN_FREE = 1 << 30

ServedSchema = Literal["current", "legacy"]


class ServerStartError(ToolkitError):
    """The reference server did not start (its own output is included)."""


def serve_command(schema: ServedSchema, data_dir: Path) -> list[str]:
    """`engram-compat serve` on a free loopback port for the suite (its buffer bound too)."""
    extra = ("--subscriber-buffer-bytes", str(SUITE_BUFFER_BYTES)) if schema == "current" else ()
    return reference_command(schema, data_dir, 0, *extra)


def _end_with_parent() -> None:
    """In the server's process, before it runs: Linux ends it when the command's process ends,
    even when that is killed before it could stop the server itself."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True)
class StartedServerInfo:
    """Where a started server listens and logs; `error` instead of an address when it did not
    start. Crosses from the controller to its workers as JSON."""

    address: str | None
    log: Path
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps({"address": self.address, "log": str(self.log), "error": self.error})

    @classmethod
    def from_json(cls, text: str) -> StartedServerInfo:
        data: dict[str, Any] = json.loads(text)
        return cls(data["address"], Path(data["log"]), data.get("error"))


class StartedServer:
    """`engram-compat serve` in a process of its own, its stderr log written to a file."""

    def __init__(self, schema: ServedSchema, workdir: Path) -> None:
        data_dir = workdir / f"data-{schema}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"server-{schema}.log"
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            serve_command(schema, data_dir),
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            text=True,
            preexec_fn=_end_with_parent if sys.platform == "linux" else None,
        )
        self.pid = self._process.pid
        self._lock = threading.Lock()
        self._info: StartedServerInfo | None = None

    def info(self) -> StartedServerInfo:
        """Its address once it listens (waited for the first time), or why it did not start."""
        with self._lock:
            if self._info is None:
                self._info = self._wait_for_address()
            return self._info

    def _wait_for_address(self) -> StartedServerInfo:
        assert self._process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if line.startswith(LISTENING_PREFIX):
                return StartedServerInfo(line[len(LISTENING_PREFIX) :].strip(), self.log_path)
            if not line and self._process.poll() is not None:
                break
        self.stop()
        tail = self.log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        output = " | ".join(line.strip() for line in tail if line.strip())
        return StartedServerInfo(
            None,
            self.log_path,
            f"the reference server did not start: {output or 'no output'}",
        )

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def discard(self) -> None:
        """End it at once (SIGKILL), without waiting. Its data dir and log are removed after
        the run, so nothing a graceful stop saves is ever read, and that stop (closing every
        space's store: about a second for the suite's hundred spaces) is not worth waiting
        for."""
        if self._process.poll() is None:
            self._process.kill()

    def stop(self) -> None:
        """Discard it and wait until its process has ended."""
        self.discard()
        self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()


class StartedServers:
    """The servers one run started, as a pytest plugin of its controller: it hands their
    address to each worker (pytest-xdist's workerinput); the command discards them after
    pytest returns."""

    def __init__(self, current: StartedServer) -> None:
        self.__name__ = PLUGIN_NAME  # the name pytest registers it under
        self.current = current

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[STARTED_INPUT] = self.current.info().to_json()

    def stop(self) -> None:
        self.current.stop()


def scratch_root() -> Path | None:
    """Where a run keeps what it throws away: a memory file system (/dev/shm) when the machine
    has one with room to spare, else the system's temporary folder (None). The reference
    server still syncs every write as it would on a disk; on this one a sync costs nothing,
    and removing a hundred spaces' files at the end takes milliseconds, not a second."""
    root = Path(MEMORY_FS)
    try:
        stats = os.statvfs(root)
    except OSError:
        return None
    free = stats.f_bavail * stats.f_frsize
    return root if free >= MEMORY_FS_MIN_FREE and os.access(root, os.W_OK) else None


def run_directory() -> Path:
    """A fresh folder for one run's throwaway files (servers' data and logs, pytest's)."""
    return Path(tempfile.mkdtemp(prefix="engram-compat-runtime-", dir=scratch_root()))


def start_servers(workdir: Path) -> StartedServers:
    """Start the current reference server for a run, its files in `workdir`."""
    try:
        return StartedServers(StartedServer("current", workdir))
    except OSError as exc:
        raise ToolkitError(f"cannot start the reference server: {exc}") from exc


def worker_started_server(workerinput: dict[str, Any] | None) -> StartedServerInfo | None:
    """The started server a pytest-xdist worker was handed, if any."""
    if not workerinput or STARTED_INPUT not in workerinput:
        return None
    return StartedServerInfo.from_json(str(workerinput[STARTED_INPUT]))
