"""Start-up and descriptors with 10,000 spaces (issue 13 item 1), `engram-compat serve` as its
own process, as a user deploys it.

Seeds 10,000 spaces (copies of one real store, each with its manifest), then starts `serve`
on them under a 1,024-descriptor limit (set in the child before it runs) with the default
`--max-open-spaces`, and measures the time until it prints `listening on`; the same start on
an empty data dir is the baseline (the interpreter and grpc's import). It then reads one
memory from each of 1,000 spaces spread over the set (far more than can be open at once) and
lists every space.

Targets: the start with 10,000 spaces takes under 5 s, and every read succeeds under the
descriptor limit. The start-up target is absolute (the issue's figure), not a ratio.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import grpc

from tests.bench.common import record
from tests.server.conftest import Client
from tests.server.serving import launch, stop
from toolkit.server.store import DATABASE_NAME, MANIFEST_NAME

SPACES = 10_000
FD_LIMIT = 1024
READS = 1000
TARGET_START_S = 5.0


def seed(data: Path) -> None:
    served = launch(data, data.parent / "seed.log")
    try:
        with grpc.insecure_channel(served.address) as channel:
            client = Client(channel)
            client.create_space("space-00000")
            client.remember("seed", "space-00000", "seed")
    finally:
        stop(served)
    spaces = data / "spaces"
    for n in range(1, SPACES):
        copy = spaces / f"space-{n:05d}"
        copy.mkdir()
        for name in (DATABASE_NAME, MANIFEST_NAME):
            shutil.copyfile(spaces / "space-00000" / name, copy / name)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        root = Path(tmp)
        empty = launch(root / "empty", root / "empty.log", fd_limit=FD_LIMIT)
        stop(empty)
        data = root / "data"
        seed(data)
        served = launch(data, root / "serve.log", fd_limit=FD_LIMIT, timeout=120)
        failures = 0
        try:
            started = next(r for r in served.records() if r.get("event") == "server_started")
            with grpc.insecure_channel(served.address) as channel:
                client = Client(channel)
                began = time.perf_counter()
                for n in range(0, SPACES, SPACES // READS):
                    try:
                        found = client.recall(f"space-{n:05d}", memory_id="seed").memories
                        failures += [m.id for m in found] != ["seed"]
                    except grpc.RpcError:
                        failures += 1
                reads_s = time.perf_counter() - began
                listed = client.call("ListSpaces", client.msg("ListSpacesRequest"), timeout=300)
        finally:
            stop(served)
    figures = {
        "spaces": SPACES + 1,
        "descriptor_limit": FD_LIMIT,
        "start_s": round(served.started_in_s, 3),
        "empty_start_s": round(empty.started_in_s, 3),
        "recovery_s": started["recovery_s"],
        "reads": READS,
        "read_failures": failures,
        "reads_per_s": round(READS / reads_s, 1),
        "listed": len(listed.spaces),
        "met": {
            "start_under_5s": served.started_in_s < TARGET_START_S,
            "reads_under_descriptor_limit": failures == 0 and len(listed.spaces) == SPACES + 1,
        },
    }
    record("server_startup", figures)
    print(figures)
    return 0 if all(figures["met"].values()) else 1  # type: ignore[union-attr]


if __name__ == "__main__":
    sys.exit(main())
