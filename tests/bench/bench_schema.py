"""Benchmark: the whole `check` against `buf lint` + `buf breaking` alone, side by side.

On generated schemas of 1,000 and 3,000 messages (10 fields each: scalars, a repeated field,
a nested message, a link to the next message; the current schema adds `memory_space_id` to
every message, all of them requests), one run times buf's two commands on the pair as a user
would run them, then the toolkit's whole `check` with a fresh compile cache. Target: check
<= 1.5x buf at each size. Each side keeps its best of `ROUNDS`.
Run: `python -m tests.bench.bench_schema`.
"""

from __future__ import annotations

import datetime
import os
import subprocess
import tempfile
import time
from pathlib import Path

from tests.bench.common import record
from toolkit.contract import SPACE_FIELD
from toolkit.schema.buf import DEFAULT_CONFIG, buf_executable
from toolkit.schema.check import CheckOptions, check

SIZES = (1000, 3000)
RATIO_LIMIT = 1.5
ROUNDS = 2
GROUP = 10


def message_text(i: int, count: int, with_space: bool) -> str:
    # Messages link in groups of ten, each group reachable from one RPC.
    last_of_group = (i + 1) % GROUP == 0 or i + 1 == count
    link = "  int64 next_id = 10;\n" if last_of_group else f"  Msg{i + 1} next = 10;\n"
    space = f"  string {SPACE_FIELD} = 11;\n" if with_space else ""
    return (
        f"message Msg{i} {{\n"
        "  message Inner {\n    string label = 1;\n    int32 weight = 2;\n  }\n"
        "  string id = 1;\n  string content = 2;\n  int32 count = 3;\n  int64 total = 4;\n"
        "  bool active = 5;\n  double score = 6;\n  bytes blob = 7;\n"
        "  repeated string tags = 8;\n  Inner inner = 9;\n"
        f"{link}{space}}}\n"
    )


def schema_text(count: int, version: str, with_space: bool) -> str:
    # Requests only (every RPC answers `Ack`): the space field added to requests is safe with
    # servers first; in a message that is also a response it would allow no rollout order.
    rpcs = "".join(f"  rpc Call{k}(Msg{k}) returns (Ack);\n" for k in range(0, count, GROUP))
    messages = "\n".join(message_text(i, count, with_space) for i in range(count))
    return (
        f'// engram-schema-version: {version}\n\nsyntax = "proto3";\n\npackage bench.v1;\n\n'
        f"service BenchService {{\n{rpcs}}}\n\nmessage Ack {{\n  string id = 1;\n}}\n\n{messages}"
    )


def write_schema(root: Path, count: int, version: str, with_space: bool) -> None:
    target = root / "bench" / "v1" / "bench.proto"
    target.parent.mkdir(parents=True)
    target.write_text(schema_text(count, version, with_space))


def time_buf(base: Path, current: Path, cache: Path) -> float:
    """`buf lint` then `buf breaking` on the pair, as a user runs them."""
    config = ["--config", DEFAULT_CONFIG, "--error-format=json"]
    env = {**os.environ, "BUF_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    for args in (["lint"], ["breaking", "--against", str(base)]):
        command = [buf_executable(), *args, *config]
        subprocess.run(command, cwd=current, env=env, capture_output=True, check=False)
    return time.perf_counter() - started


def time_check(workdir: Path, base: Path, current: Path, round_: int) -> tuple[float, int, int]:
    options = CheckOptions(
        project_root=workdir,
        baselines=(str(base),),
        current=str(current),
        accept=None,
        cache_dir=workdir / f"cache-{round_}",  # fresh: the timing includes compiling both
        today=datetime.date.today(),
    )
    started = time.perf_counter()
    report = check(options)
    elapsed = time.perf_counter() - started
    assert report.verdict == "compatible", report.verdict
    return elapsed, len(report.changes), len(report.replay)


def measure(workdir: Path, count: int) -> dict[str, float | int | bool]:
    base, current = workdir / f"base{count}", workdir / f"current{count}"
    write_schema(base, count, "1.0.0", with_space=False)
    write_schema(current, count, "1.1.0", with_space=True)
    buf_best = check_best = float("inf")
    changes = records = 0
    for round_ in range(ROUNDS):
        buf_best = min(buf_best, time_buf(base, current, workdir / f"buf-cache-{count}"))
        elapsed, changes, records = time_check(workdir / f"run{count}", base, current, round_)
        check_best = min(check_best, elapsed)
    ratio = check_best / buf_best
    return {
        f"buf_seconds_{count}": round(buf_best, 3),
        f"check_seconds_{count}": round(check_best, 3),
        f"ratio_{count}": round(ratio, 2),
        f"changes_{count}": changes,
        f"replay_records_{count}": records,
        f"met_{count}": ratio <= RATIO_LIMIT,
    }


def main() -> None:
    scratch = Path.cwd() / ".cache"
    scratch.mkdir(exist_ok=True)
    figures: dict[str, object] = {"ratio_limit": RATIO_LIMIT}
    met: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="bench-schema-", dir=scratch) as tmp:
        for count in SIZES:
            (Path(tmp) / f"run{count}").mkdir()
            found = measure(Path(tmp), count)
            met[f"check_vs_buf_{count}"] = bool(found.pop(f"met_{count}"))
            figures.update(found)
    figures["met"] = met
    record("schema", figures)
    for key, value in figures.items():
        print(f"{key}: {value}")
    if not all(met.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
