"""Benchmark: the whole `check` on generated schemas of 100 and 1,000 messages.

Each message has 10 fields (scalars, a repeated field, a nested message, a link to the next
message); the current schema adds `memory_space_id` to every message, so the diff, buf and the
replay all have work proportional to the size. Target: time(1,000) / time(100) <= 12 and
1,000 messages in under 10 s. Run: `python -m tests.bench.bench_schema`.
"""

from __future__ import annotations

import datetime
import tempfile
import time
from pathlib import Path

from tests.bench.common import record
from toolkit.schema.check import CheckOptions, check

SIZES = (100, 1000)
RATIO_LIMIT = 12.0
LARGE_LIMIT_S = 10.0
GROUP = 10


def message_text(i: int, count: int, with_space: bool) -> str:
    # Messages link in groups of ten, each group reachable from one RPC.
    last_of_group = (i + 1) % GROUP == 0 or i + 1 == count
    link = "  int64 next_id = 10;\n" if last_of_group else f"  Msg{i + 1} next = 10;\n"
    space = "  string memory_space_id = 11;\n" if with_space else ""
    return (
        f"message Msg{i} {{\n"
        "  message Inner {\n    string label = 1;\n    int32 weight = 2;\n  }\n"
        "  string id = 1;\n  string content = 2;\n  int32 count = 3;\n  int64 total = 4;\n"
        "  bool active = 5;\n  double score = 6;\n  bytes blob = 7;\n"
        "  repeated string tags = 8;\n  Inner inner = 9;\n"
        f"{link}{space}}}\n"
    )


def schema_text(count: int, version: str, with_space: bool) -> str:
    rpcs = "".join(f"  rpc Call{k}(Msg{k}) returns (Msg{k});\n" for k in range(0, count, GROUP))
    messages = "\n".join(message_text(i, count, with_space) for i in range(count))
    return (
        f'// engram-schema-version: {version}\n\nsyntax = "proto3";\n\npackage bench.v1;\n\n'
        f"service BenchService {{\n{rpcs}}}\n\n{messages}"
    )


def write_schema(root: Path, count: int, version: str, with_space: bool) -> None:
    target = root / "bench" / "v1" / "bench.proto"
    target.parent.mkdir(parents=True)
    target.write_text(schema_text(count, version, with_space))


def time_check(workdir: Path, count: int) -> tuple[float, int, int]:
    base, current = workdir / f"base{count}", workdir / f"current{count}"
    write_schema(base, count, "1.0.0", with_space=False)
    write_schema(current, count, "1.1.0", with_space=True)
    options = CheckOptions(
        project_root=workdir,
        baselines=(str(base),),
        current=str(current),
        accept=None,
        cache_dir=workdir / f"cache{count}",  # fresh: the timing includes compiling both
        today=datetime.date.today(),
    )
    started = time.perf_counter()
    report = check(options)
    elapsed = time.perf_counter() - started
    assert report.verdict == "compatible", report.verdict
    return elapsed, len(report.changes), len(report.replay)


def main() -> None:
    scratch = Path.cwd() / ".cache"
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-schema-", dir=scratch) as tmp:
        timings = {count: time_check(Path(tmp), count) for count in SIZES}
    small, large = timings[SIZES[0]][0], timings[SIZES[1]][0]
    ratio = large / small
    figures = {
        "seconds_100_messages": round(small, 3),
        "seconds_1000_messages": round(large, 3),
        "ratio_1000_to_100": round(ratio, 2),
        "ratio_limit": RATIO_LIMIT,
        "seconds_1000_limit": LARGE_LIMIT_S,
        "changes_1000": timings[SIZES[1]][1],
        "replay_records_1000": timings[SIZES[1]][2],
        "met": ratio <= RATIO_LIMIT and large < LARGE_LIMIT_S,
    }
    record("schema", figures)
    for key, value in figures.items():
        print(f"{key}: {value}")
    if not figures["met"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
