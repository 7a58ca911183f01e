"""`engram-compat serve` and `engram-compat space` as a user runs them: real subprocesses."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from tests.conftest import run_cli
from tests.server.conftest import Client


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    address: str
    stderr: Path

    def log_records(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.stderr.read_text().splitlines() if line]


def launch(data_dir: Path, log: Path, *extra: str) -> ServeProcess:
    """Start `serve --port 0` and wait for its `listening on HOST:PORT` line."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "toolkit",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline() if ready else ""
    if not line.startswith("listening on "):
        process.kill()
        process.wait()
        raise AssertionError(f"no listening line: {line!r} {log.read_text()}")
    return ServeProcess(process, line.removeprefix("listening on ").strip(), log)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    running = launch(tmp_path / "data", tmp_path / "serve.log")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
        running.process.wait()


def test_serve_prints_one_line_and_stops_on_sigterm(serve: ServeProcess) -> None:
    host, port = serve.address.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    with grpc.insecure_channel(serve.address) as channel:
        client = Client(channel)
        stream = client.subscribe("default")
        client.remember("legacy call")
        started = time.monotonic()
        serve.process.send_signal(signal.SIGTERM)
        assert serve.process.wait(10) == 0
        assert time.monotonic() - started < 5
        assert [r.sequence for r in stream] == [1]  # the open stream was ended, not cut
    assert serve.process.stdout is not None
    assert serve.process.stdout.read() == ""
    records = serve.log_records()
    deprecated = [r for r in records if r["event"] == "deprecated_request"]
    assert len(deprecated) == 1
    assert deprecated[0]["level"] == "WARNING"
    assert deprecated[0]["rpc"] == "Remember"
    assert deprecated[0]["default_space"] == "default"
    assert deprecated[0]["peer"]
    assert any(r["event"] == "space_created" and r["space"] == "default" for r in records)


def test_sigint_stops_it_too(serve: ServeProcess) -> None:
    serve.process.send_signal(signal.SIGINT)
    assert serve.process.wait(5) == 0


def test_space_commands_against_a_running_server(serve: ServeProcess) -> None:
    target = ["--target", serve.address]
    created = run_cli(["space", "create", "team-a", *target])
    assert created.returncode == 0, created.stderr
    assert "created memory space team-a" in created.stdout
    assert "spaces/team-a" in created.stdout
    again = run_cli(["space", "create", "team-a", *target])
    assert again.returncode == 0 and "already exists" in again.stdout
    listed = run_cli(["space", "list", *target])
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["default", "team-a"]
    got = run_cli(["space", "get", "team-a", *target])
    assert got.stdout.startswith("team-a\tmemories=0")
    missing = run_cli(["space", "get", "ghost-space", *target])
    assert missing.returncode == 1
    assert "engram-compat space create ghost-space" in missing.stderr
    invalid = run_cli(["space", "create", "../etc", *target])
    assert invalid.returncode == 1 and "3-64 characters" in invalid.stderr
    deleted = run_cli(["space", "delete", "team-a", "--yes", *target])
    assert deleted.returncode == 0
    assert run_cli(["space", "get", "team-a", *target]).returncode == 1
    gone = run_cli(["space", "delete", "team-a", "--yes", *target])
    assert gone.returncode == 1
    assert "'team-a' does not exist; nothing deleted" in gone.stderr
    assert "create it first" not in gone.stderr


def test_space_command_without_a_server_is_one_line_and_exit_2() -> None:
    result = run_cli(["space", "list", "--target", "127.0.0.1:1", "--timeout", "2"])
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unusable_data_dir_fails_at_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli(["serve", "--port", "0", "--data-dir", str(blocker / "data")])
    assert result.returncode == 2
    assert result.stdout == ""
    assert "cannot be created or written" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_default_space_fails_at_start(tmp_path: Path) -> None:
    result = run_cli(["serve", "--port", "0", "--data-dir", str(tmp_path), "--default-space", "A"])
    assert result.returncode == 2 and "3-64 characters" in result.stderr
    assert "Traceback" not in result.stderr


def test_legacy_schema_has_no_space_service(tmp_path: Path) -> None:
    running = launch(tmp_path / "data", tmp_path / "serve.log", "--schema", "legacy")
    try:
        result = run_cli(["space", "list", "--target", running.address])
        assert result.returncode == 1
    finally:
        running.process.terminate()
        running.process.wait(10)


WRITERS_PER_SPACE = 3  # concurrent writers: the server commits their writes together


def write_load(address: str, spaces: tuple[str, ...], acknowledged: dict[str, list[str]]) -> None:
    """Write to each space from WRITERS_PER_SPACE threads until the server goes away."""

    def writer(space: str, name: int) -> None:
        with grpc.insecure_channel(address) as channel:
            client = Client(channel)
            for n in range(100_000):
                memory_id = f"{space}-{name}-{n}"
                try:
                    memory_id = client.remember(f"{space} write {n}", space, memory_id)
                except grpc.RpcError:
                    return
                acknowledged[space].append(memory_id)

    threads = [
        threading.Thread(target=writer, args=(space, name))
        for space in spaces
        for name in range(WRITERS_PER_SPACE)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    return None


def missing_writes(address: str, acknowledged: dict[str, list[str]]) -> list[str]:
    """Acknowledged writes that are not in their own space, or that show in another."""
    problems: list[str] = []
    with grpc.insecure_channel(address) as channel:
        client = Client(channel)
        stored = {
            space: {m.id for m in client.recall(space, contains="").memories}
            for space in acknowledged
        }
    for space, ids in acknowledged.items():
        problems += [f"{i} lost from {space}" for i in ids if i not in stored[space]]
        for other, found in stored.items():
            if other != space:
                problems += [f"{i} leaked into {other}" for i in ids if i in found]
    return problems


def test_sigkill_during_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = launch(data, tmp_path / "first.log")
    spaces = ("space-a", "space-b")
    acknowledged: dict[str, list[str]] = {space: [] for space in spaces}
    try:
        for space in spaces:
            assert run_cli(["space", "create", space, "--target", first.address]).returncode == 0
        write_load(first.address, spaces, acknowledged)
    finally:
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait()
    time.sleep(0.3)  # writer threads see the dead server and stop
    snapshot = {space: list(ids) for space, ids in acknowledged.items()}
    assert all(len(ids) > 20 for ids in snapshot.values()), snapshot
    second = launch(data, tmp_path / "second.log")
    try:
        assert missing_writes(second.address, snapshot) == []
    finally:
        second.process.terminate()
        second.process.wait(10)
    # The check is able to fail: a server on an empty data dir has lost every write.
    empty = launch(tmp_path / "empty", tmp_path / "empty.log")
    try:
        run_cli(["space", "create", "space-a", "--target", empty.address])
        run_cli(["space", "create", "space-b", "--target", empty.address])
        assert missing_writes(empty.address, snapshot)
    finally:
        empty.process.terminate()
        empty.process.wait(10)
