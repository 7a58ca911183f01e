"""Shared by the benchmarks: where figures go and how they are merged.

Every figure is a ratio against a baseline measured in the same run, because these machines
are noisy; `reports/bench.json` keeps one section per benchmark, replaced on each run.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH_FILE = Path(os.environ.get("ENGRAM_BENCH_FILE", "reports/bench.json"))


def record(section: str, figures: dict[str, Any]) -> None:
    """Replace `section` in reports/bench.json with `figures` (and when and where they ran)."""
    BENCH_FILE.parent.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {}
    if BENCH_FILE.exists():
        document = json.loads(BENCH_FILE.read_text())
    document[section] = {
        **figures,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
    }
    BENCH_FILE.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def best_rate(operation: Callable[[], int], *, repeats: int = 3) -> float:
    """Operations per second of the best of `repeats` runs; `operation` returns its count."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        count = operation()
        best = max(best, count / (time.perf_counter() - start))
    return best
