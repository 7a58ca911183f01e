"""Benchmark of tenant isolation (issue 13.7): another space's Introspect p50 while one tenant
searches 300,000 memories by content, as a ratio against its idle p50 in the same run.

    python -m tests.bench.bench_tenants        (or `nox -s bench`)

`engram-compat serve` runs as its own process on a data dir filled beforehand (one space of
MEMORIES memories, one empty); this process measures. SCANNERS clients keep recalling the
large space by a content no memory has (a full scan each), while the p50 of SAMPLES
Introspect calls on the quiet space is taken; the idle figure is the best of the p50s taken
before and after. Target: within 3x.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc

from tests.bench.bench_server import msg, serve_command, server_process
from tests.bench.common import record
from toolkit.contract import ENGRAM_SERVICE
from toolkit.server.registry import MemorySpaceRegistry
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import StoredMemory

MEMORIES = 300_000
SCANNERS = 2
SAMPLES = 300
TARGET = 3.0
LARGE, QUIET = "large-tenant", "quiet-tenant"


def fill(data_dir: Path) -> None:
    registry = MemorySpaceRegistry(data_dir)
    try:
        store = registry.create(MemorySpaceId(LARGE)).store
        batch = 10_000
        for start in range(0, MEMORIES, batch):
            store.remember_many(
                [
                    StoredMemory(f"m{n:07d}", f"memory number {n} of a large tenant", 0.5, (), n)
                    for n in range(start, min(start + batch, MEMORIES))
                ]
            )
        registry.create(MemorySpaceId(QUIET))
    finally:
        registry.close()


def p50(introspect: Any, request: bytes, samples: int = SAMPLES) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        introspect(request, timeout=30)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-tenants-") as name:
        tmp = Path(name)
        fill(tmp / "data")
        command = [*serve_command(), "serve", "--port", "0", "--data-dir", str(tmp / "data")]
        with (
            server_process(command, tmp / "serve.log") as address,
            grpc.insecure_channel(address) as channel,
        ):
            introspect = channel.unary_unary(f"/{ENGRAM_SERVICE}/Introspect")
            recall = channel.unary_unary(f"/{ENGRAM_SERVICE}/Recall")
            quiet = msg("IntrospectRequest", memory_space_id=QUIET).SerializeToString()
            scan = msg(
                "RecallRequest",
                cue=msg("Cue", content_contains="no memory says this"),
                max_results=10,
                memory_space_id=LARGE,
            ).SerializeToString()
            recall(scan, timeout=120)  # the large store opened and read once
            p50(introspect, quiet, 50)
            idle_before = p50(introspect, quiet)
            stop = threading.Event()
            scans = [0]
            scan_s: list[float] = []

            def scanner() -> None:
                while not stop.is_set():
                    started = time.perf_counter()
                    recall(scan, timeout=120)
                    scan_s.append(time.perf_counter() - started)
                    scans[0] += 1

            threads = [threading.Thread(target=scanner) for _ in range(SCANNERS)]
            for thread in threads:
                thread.start()
            time.sleep(0.5)
            busy = p50(introspect, quiet)
            stop.set()
            for thread in threads:
                thread.join(120)
            idle = min(idle_before, p50(introspect, quiet))
    ratio = busy / idle
    figures: dict[str, Any] = {
        "memories": MEMORIES,
        "scanners": SCANNERS,
        "introspect_idle_p50_ms": round(idle * 1e3, 3),
        "introspect_busy_p50_ms": round(busy * 1e3, 3),
        "scans_meanwhile": scans[0],
        "scan_median_ms": round(statistics.median(scan_s) * 1e3, 1) if scan_s else None,
        "introspect_slowdown": round(ratio, 2),
        "target": TARGET,
        "met": ratio <= TARGET,
    }
    record("tenants", figures)
    for key in sorted(figures):
        print(f"{key}: {figures[key]}")
    if ratio > TARGET:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
