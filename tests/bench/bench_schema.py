"""Benchmark: the whole `check` against `buf lint` + `buf breaking` alone, side by side.

On generated schemas of 1,000 and 3,000 messages (10 fields each: scalars, a repeated field,
a nested message, a link to the next message; the current schema adds `memory_space_id` to
every message, all of them requests), one run times buf's two commands on the pair as a user
would run them, then the toolkit's whole `check` with a fresh compile cache. Target: check
<= 1.5x buf at each size. Each side keeps its best of `ROUNDS`.
Run: `python -m tests.bench.bench_schema`.

`--large` instead measures a 5 MB pair (`LARGE_COUNT` messages) with a realistic set of
changes: fields added to every seventh message, a field renumbered, one renamed, a field
widened from int32 to int64 in every tenth, a message removed, one renamed with an identical
structure and one added (the check finds it incompatible: the renumbering). Same target; it
also reports the toolkit's own time (check minus buf's wall) and the load average before and
after, since buf alone takes minutes there on a shared machine, and the CPU of the check's own
process (the toolkit's judgement) apart from its children's (buf and protoc). One round; section
`schema_large` of reports/bench.json.
"""

from __future__ import annotations

import argparse
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
LARGE_COUNT = 17_000  # about 5 MB of .proto text on each side


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
    rpcs = _rpcs(count)
    messages = "\n".join(message_text(i, count, with_space) for i in range(count))
    return (
        f'// engram-schema-version: {version}\n\nsyntax = "proto3";\n\npackage bench.v1;\n\n'
        f"service BenchService {{\n{rpcs}}}\n\nmessage Ack {{\n  string id = 1;\n}}\n\n{messages}"
    )


def write_schema(root: Path, count: int, version: str, with_space: bool) -> None:
    write_text(root, schema_text(count, version, with_space))


def write_text(root: Path, text: str) -> None:
    target = root / "bench" / "v1" / "bench.proto"
    target.parent.mkdir(parents=True)
    target.write_text(text)


def changed_message_text(i: int, count: int) -> str:
    """Message `i` of the current side of the realistic pair (see the module docstring)."""
    text = message_text(i, count, with_space=False)
    if i % 7 == 0:
        text = text.replace("  bool active = 5;\n", "  bool active = 5;\n  string note = 12;\n")
    if i == 5:
        text = text.replace("double score = 6;", "double score = 16;")
    if i == 11:
        text = text.replace("string content = 2;", "string body = 2;")
    if i % GROUP == GROUP - 1:
        text = text.replace("  int32 count = 3;\n", "  int64 count = 3;\n")
    return text


def realistic_pair(count: int) -> tuple[str, str]:
    """The baseline and current .proto text of the realistic pair."""
    base = schema_text(count, "1.0.0", with_space=False) + (
        "\nmessage Retired {\n  string a = 1;\n}\n"
        "\nmessage Legacy {\n  string a = 1;\n  int32 b = 2;\n}\n"
    )
    head = schema_text(0, "1.1.0", with_space=False).replace(
        "service BenchService {\n}", "service BenchService {\n" + _rpcs(count) + "}"
    )
    messages = "\n".join(changed_message_text(i, count) for i in range(count))
    current = (
        head
        + messages
        + (
            "\nmessage Successor {\n  string a = 1;\n  int32 b = 2;\n}\n"
            "\nmessage Fresh {\n  string z = 1;\n}\n"
        )
    )
    return base, current


def _rpcs(count: int) -> str:
    return "".join(f"  rpc Call{k}(Msg{k}) returns (Ack);\n" for k in range(0, count, GROUP))


def time_buf(base: Path, current: Path, cache: Path) -> float:
    """`buf lint` then `buf breaking` on the pair, as a user runs them."""
    config = ["--config", DEFAULT_CONFIG, "--error-format=json"]
    env = {**os.environ, "BUF_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    for args in (["lint"], ["breaking", "--against", str(base)]):
        command = [buf_executable(), *args, *config]
        subprocess.run(command, cwd=current, env=env, capture_output=True, check=False)
    return time.perf_counter() - started


def time_check(
    workdir: Path, base: Path, current: Path, round_: int, verdict: str = "compatible"
) -> tuple[float, int, int]:
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
    assert report.verdict == verdict, report.verdict
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


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def measure_large(workdir: Path, count: int = LARGE_COUNT) -> dict[str, object]:
    """One round of buf and check on the realistic pair, with the load around each."""
    base, current = workdir / "base-large", workdir / "current-large"
    base_text, current_text = realistic_pair(count)
    write_text(base, base_text)
    write_text(current, current_text)
    (workdir / "run-large").mkdir()
    load_before = load_average()
    buf_wall = time_buf(base, current, workdir / "buf-cache-large")
    load_between = load_average()
    before = os.times()
    check_wall, changes, records = time_check(
        workdir / "run-large", base, current, 0, verdict="incompatible"
    )
    after = os.times()
    load_after = load_average()
    # CPU of the check's own process (the toolkit's judgement) and of its children (buf's
    # builds, lint and breaking, and the two protoc compiles), which run side by side.
    own_cpu = after.user + after.system - before.user - before.system
    children_cpu = (
        after.children_user + after.children_system - before.children_user - before.children_system
    )
    ratio = check_wall / buf_wall
    return {
        "messages": count,
        "baseline_bytes": len(base_text.encode()),
        "current_bytes": len(current_text.encode()),
        "buf_seconds": round(buf_wall, 3),
        "check_seconds": round(check_wall, 3),
        "toolkit_own_seconds": round(check_wall - buf_wall, 3),
        "check_own_cpu_seconds": round(own_cpu, 1),
        "check_children_cpu_seconds": round(children_cpu, 1),
        "ratio": round(ratio, 2),
        "changes": changes,
        "replay_records": records,
        "load_average_before": load_before,
        "load_average_between": load_between,
        "load_average_after": load_after,
        "met": {"check_vs_buf_large": ratio <= RATIO_LIMIT},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--large", action="store_true", help="measure the 5 MB realistic pair instead (minutes)"
    )
    args = parser.parse_args()
    scratch = Path.cwd() / ".cache"
    scratch.mkdir(exist_ok=True)
    if args.large:
        with tempfile.TemporaryDirectory(prefix="bench-schema-", dir=scratch) as tmp:
            large = measure_large(Path(tmp))
        record("schema_large", {"ratio_limit": RATIO_LIMIT, **large})
        for key, value in large.items():
            print(f"{key}: {value}")
        met = large["met"]
        if not (isinstance(met, dict) and all(met.values())):
            raise SystemExit(1)
        return
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
