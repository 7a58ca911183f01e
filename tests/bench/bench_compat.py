"""Benchmark: `engram-compat runtime` (what `nox -s compat` runs) with -n auto.

Targets: the run finishes in under 60 s, and its wall time is at most 1.5x its critical path:
the slowest check's duration (from compat.json) plus the reference server's start (measured in
the same invocation: `engram-compat serve --port 0` until it prints `listening on`). The old
target "-n auto >= 1.5x faster than -n 0" is retired: on two cores with a suite of a few
seconds it measured 0.90-1.23x and cannot hold (issue 16, item 9).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.common import record

TARGET_S = 60.0
TARGET_CRITICAL_PATH_RATIO = 1.5
SERVE = (sys.executable, "-m", "toolkit", "serve", "--port", "0")


def timed_runtime(reports: Path) -> tuple[float, int]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "toolkit", "runtime", "--reports", str(reports), "-n", "auto"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(result.stdout[-2000:], file=sys.stderr)
    return time.perf_counter() - start, result.returncode


def server_start_s(data_dir: Path) -> float:
    """Seconds from launching `engram-compat serve` to its `listening on` line."""
    start = time.perf_counter()
    server = subprocess.Popen(
        [*SERVE, "--data-dir", str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()
        return time.perf_counter() - start
    finally:
        server.terminate()
        server.wait(timeout=15)
        if server.stdout is not None:
            server.stdout.close()


def interpreter_start_s() -> float:
    """Seconds for `engram-compat --version`: an interpreter with the toolkit's imports."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "toolkit", "--version"], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        start_s = server_start_s(Path(tmp) / "data")
        python_s = interpreter_start_s()
        wall_s, code = timed_runtime(Path(tmp) / "auto")
        document = json.loads((Path(tmp) / "auto" / "compat.json").read_text())
    slowest = max(document["checks"], key=lambda check: check["duration_s"])
    critical_s = slowest["duration_s"] + start_s
    ratio = wall_s / critical_s
    # The bound every run pays on this machine, proposed in place of the critical path above
    # (issue 16, item 9): an interpreter, the server's start, the slowest check, and the other
    # checks shared among the workers. Reported beside the target, which stays.
    workers = os.cpu_count() or 1
    others_s = sum(c["duration_s"] for c in document["checks"]) - slowest["duration_s"]
    work_s = python_s + start_s + slowest["duration_s"] + others_s / workers
    work_ratio = wall_s / work_s
    figures = {
        "command": "engram-compat runtime --reports DIR -n auto",
        "wall_s": round(wall_s, 2),
        "server_start_s": round(start_s, 2),
        "slowest_check": slowest["id"],
        "slowest_check_s": round(slowest["duration_s"], 2),
        "critical_path_s": round(critical_s, 2),
        "critical_path_ratio": round(ratio, 2),
        "interpreter_start_s": round(python_s, 2),
        "other_checks_s": round(others_s, 2),
        "workers": workers,
        "work_bound_s": round(work_s, 2),
        "work_bound_ratio": round(work_ratio, 2),
        "target_s": TARGET_S,
        "target_critical_path_ratio": TARGET_CRITICAL_PATH_RATIO,
        "exit_code": code,
        "met": {
            "under_60_s": wall_s < TARGET_S and code == 0,
            "critical_path": ratio <= TARGET_CRITICAL_PATH_RATIO and code == 0,
        },
    }
    record("compat", figures)
    print(
        f"compat: -n auto {wall_s:.1f} s; critical path {critical_s:.1f} s (slowest check "
        f"{slowest['id']} {slowest['duration_s']:.1f} s + server start {start_s:.1f} s), "
        f"ratio {ratio:.2f}x (targets < {TARGET_S:.0f} s, <= {TARGET_CRITICAL_PATH_RATIO}x); "
        f"against interpreter + server start + slowest + other checks / {workers} workers "
        f"({work_s:.1f} s) {work_ratio:.2f}x"
    )
    return 0 if all(figures["met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
