"""Benchmark: `engram-compat runtime` (what `nox -s compat` runs) with -n auto against -n 0.

Targets: the -n auto run finishes in under 60 s; it is at least 1.5x faster than -n 0.
Both run in the same invocation against freshly started reference servers.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.common import record

TARGET_S = 60.0
TARGET_SPEEDUP = 1.5


def timed_replay(workers: str, reports: Path) -> tuple[float, int]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "toolkit", "runtime", "--reports", str(reports), "-n", workers],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        print(result.stdout[-2000:], file=sys.stderr)
    return time.perf_counter() - start, result.returncode


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        serial_s, serial_code = timed_replay("0", Path(tmp) / "serial")
        auto_s, auto_code = timed_replay("auto", Path(tmp) / "auto")
    speedup = serial_s / auto_s
    figures = {
        "command": "engram-compat runtime --reports DIR -n auto  (vs -n 0)",
        "auto_s": round(auto_s, 2),
        "serial_s": round(serial_s, 2),
        "speedup": round(speedup, 2),
        "target_s": TARGET_S,
        "target_speedup": TARGET_SPEEDUP,
        "exit_codes": {"auto": auto_code, "serial": serial_code},
        "met": auto_s < TARGET_S and speedup >= TARGET_SPEEDUP and auto_code == serial_code == 0,
    }
    record("compat", figures)
    print(
        f"compat: -n auto {auto_s:.1f} s, -n 0 {serial_s:.1f} s, speedup {speedup:.2f}x "
        f"(targets < {TARGET_S:.0f} s, >= {TARGET_SPEEDUP}x)"
    )
    return 0 if figures["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
