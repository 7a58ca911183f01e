"""Issue 13 item 5: a full disk is an answer, not a crash (a real `serve` on a small tmpfs)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.server.serving import code_of, serving

DISK_SIZE = "4m"
BIG = "x" * 300_000  # more than any page the WAL already holds


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path) -> None:
    """Write a filler file until the disk has no room left."""
    with (disk / "filler").open("wb", buffering=0) as handle:
        for size in (65536, 4096, 512, 1):  # down to the last byte
            try:
                while True:
                    if not handle.write(b"\0" * size):
                        break
            except OSError as exc:
                assert exc.errno == errno.ENOSPC


def healthy(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


def test_a_full_disk_refuses_writes_and_keeps_reads_and_health(small_disk: Path) -> None:
    data = small_disk / "data"
    log = small_disk.parent / "serve.log"
    with serving(data, log) as (served, client):
        client.create_space("team-a")
        client.remember("before the disk filled", "team-a", "kept")
        fill(small_disk)
        for _ in range(5):
            code, details = code_of(lambda: client.remember(BIG, "team-a"))
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
            assert "the server's disk is full" in details
        code, details = code_of(lambda: client.create_space("team-b"))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
        assert [m.id for m in client.recall("team-a", memory_id="kept").memories] == ["kept"]
        assert healthy(served.address)
    records = served.records()
    warnings = [r for r in records if r["level"] == "WARNING" and r["event"] == "disk_full"]
    assert len(warnings) == 1
    assert not [r for r in records if r["level"] == "ERROR"]
    assert "Traceback" not in served.log_text()
    assert not (data / "spaces" / "team-b").exists()
    # It restarts on the full disk and serves reads.
    with serving(data, small_disk.parent / "restart.log") as (served, client):
        assert [m.id for m in client.recall("team-a", memory_id="kept").memories] == ["kept"]
        assert healthy(served.address)
        assert code_of(lambda: client.remember(BIG, "team-a"))[0] == (
            grpc.StatusCode.RESOURCE_EXHAUSTED
        )
