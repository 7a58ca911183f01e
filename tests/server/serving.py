"""A real `engram-compat serve` process for the resilience tests (issue 13), optionally under
a file-descriptor limit set in the child before it starts."""

from __future__ import annotations

import json
import resource
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc

from tests.server.conftest import Client


@dataclass
class Served:
    process: subprocess.Popen[str]
    address: str
    log: Path
    started_in_s: float

    def records(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def log_text(self) -> str:
        return self.log.read_text()


def descriptor_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return apply


def launch(
    data_dir: Path, log: Path, *extra: str, fd_limit: int | None = None, timeout: float = 30
) -> Served:
    """Start `serve --port 0` and wait for its `listening on HOST:PORT` line."""
    started = time.monotonic()
    command = [sys.executable, "-m", "toolkit", "serve", "--port", "0"]
    process = subprocess.Popen(
        [*command, "--data-dir", str(data_dir), *extra],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        preexec_fn=descriptor_limit(fd_limit) if fd_limit else None,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("listening on "):
        process.kill()
        process.wait()
        raise AssertionError(f"no listening line: {line!r} {log.read_text()[-2000:]}")
    elapsed = time.monotonic() - started
    return Served(process, line.removeprefix("listening on ").strip(), log, elapsed)


def stop(served: Served) -> None:
    if served.process.poll() is None:
        served.process.terminate()
        try:
            served.process.wait(10)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait()


@contextmanager
def serving(
    data_dir: Path, log: Path, *extra: str, fd_limit: int | None = None
) -> Iterator[tuple[Served, Client]]:
    served = launch(data_dir, log, *extra, fd_limit=fd_limit)
    try:
        with grpc.insecure_channel(served.address) as channel:
            yield served, Client(channel)
    finally:
        stop(served)


def code_of(action: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    """The status code and details `action` ended with (OK and "" when it returned)."""
    try:
        action()
    except grpc.RpcError as error:
        return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""
