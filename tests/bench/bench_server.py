"""Benchmark of the reference server, as ratios against a bare echo server in the same run.

    python -m tests.bench.bench_server        (or `nox -s bench`)

Measured as deployed: `engram-compat serve` runs as its own process, the bare grpc.aio echo
server (`echo_server`) as its own process, and this process is the measuring client (asyncio,
IN_FLIGHT calls in flight), the same harness for both (raw bytes in, raw bytes out). Every
figure is a ratio: Remember and Recall calls/s vs a bare unary echo; Stream messages/s
delivered to 8 subscribers in 2 spaces vs 8 bare server streams (the echo's message is a
StreamResponse of 108 bytes, the served events 107-111); `registry.get` vs
`dict.get` (in process: a micro-benchmark of the lookup). The events
the subscribers receive are written by StreamingRemember calls from another process
(`stream_writer`), so the measured client only reads, as it does from the echo. The writers
frame their calls themselves, so they take little of the two cores (writers are other
machines in a deployment); `--grpc-writer` makes them grpc.aio clients, which cost the served
side 24-29 us of CPU per delivered message. Each side's
figure is its best of ROUNDS (load on these machines only ever slows a round down), the
baseline and the server measured in turn; every request is encoded before a clock starts.

A diagnosis beside the fan-out (no target): the same writers and subscribers against a bare
grpc.aio relay (`echo_server --relay`: each request read is sent on to the space's
subscribers, nothing stored or checked), measured in the same turns. Its ratio is the most a
grpc.aio server can reach here; the gap between it and the reference server's is the
server's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from tests.bench.common import record
from toolkit.contract import ENGRAM_SERVICE, SPACE_SERVICE
from toolkit.schema.pool import load_schema
from toolkit.server.registry import MemorySpaceRegistry
from toolkit.server.space_id import MemorySpaceId

UNARY_CALLS = 3000
IN_FLIGHT = 32  # the measuring client's calls in flight at once (asyncio)
ROUNDS = 10  # each side's best of ROUNDS, the two sides measured in turn
STREAM_EVENTS_PER_SPACE = 2500
# A stream round is short and its rate spreads widely (the echo's from 14,000 to 28,000
# messages/s within one run), so each side needs more rounds to reach its best.
STREAM_ROUNDS = 12
SUBSCRIBERS_PER_SPACE = 4
SPACES = ("bench-a", "bench-b")
TARGETS = {"recall": 0.8, "remember": 0.7, "stream_fanout": 0.6, "registry_get": 3.0}
# The stream writers write with grpc.aio instead of framing their calls (see `stream_writer`):
# `--grpc-writer` on the command line.
GRPC_WRITER = False

SCHEMA = load_schema("current")
ROOT = Path(__file__).resolve().parents[2]


def msg(name: str, **fields: Any) -> Any:
    return SCHEMA.message(f"engram.v1.{name}")(**fields)


# --- the two servers, each in its own process ------------------------------------------


def serve_command() -> list[str]:
    """`engram-compat serve`, as installed beside this interpreter (else `-m toolkit`)."""
    script = Path(sys.executable).with_name("engram-compat")
    return [str(script)] if script.exists() else [sys.executable, "-m", "toolkit"]


PIDS: dict[str, int] = {}  # each server process by its address


def cpu_seconds(address: str) -> float:
    """CPU seconds (user + system, every thread) the server at `address` has used so far."""
    fields = Path(f"/proc/{PIDS[address]}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def with_cpu(address: str, measure: Callable[[], float], used: list[float]) -> Callable[[], float]:
    """`measure`, adding the CPU seconds the server used during it to `used[0]`."""

    def measured() -> float:
        before = cpu_seconds(address)
        rate = measure()
        used[0] += cpu_seconds(address) - before
        return rate

    return measured


@contextmanager
def server_process(command: list[str], log: Path) -> Iterator[str]:
    """Run `command` until it prints `listening on HOST:PORT`; yield the address; stop it."""
    with log.open("w") as errors:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    assert process.stdout is not None
    try:
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else ""
        if not line.startswith("listening on "):
            raise RuntimeError(f"{command[0]} did not start: {line!r} {log.read_text()[-2000:]}")
        address = line.removeprefix("listening on ").strip()
        PIDS[address] = process.pid
        yield address
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def echo_server(tmp: Path) -> Iterator[str]:
    """The bare grpc.aio echo server, in its own process."""
    with server_process([sys.executable, "-m", "tests.bench.echo_server"], tmp / "echo.log") as a:
        yield a


@contextmanager
def relay_server(tmp: Path) -> Iterator[str]:
    """The bare grpc.aio relay (`echo_server --relay`), in its own process: the fan-out's floor."""
    command = [sys.executable, "-m", "tests.bench.echo_server", "--relay"]
    with server_process(command, tmp / "relay.log") as address:
        yield address


@contextmanager
def engram_server(tmp: Path) -> Iterator[str]:
    """`engram-compat serve` on a fresh data dir, in its own process, with the bench's spaces."""
    # A subscriber buffer that holds a whole round: the echo never drops a message, so the
    # served streams are measured delivering every event, not ended for falling behind (on a
    # loaded machine a round's writes ran more than the default 1,024 events ahead of a
    # stream's sending now and then, and the round failed).
    command = [
        *serve_command(),
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(tmp / "data"),
        "--subscriber-buffer",
        str(STREAM_EVENTS_PER_SPACE),
    ]
    with server_process(command, tmp / "serve.log") as address:
        with grpc.insecure_channel(address) as channel:
            create = channel.unary_unary(f"/{SPACE_SERVICE}/CreateSpace")
            for space in SPACES:
                create(
                    msg("CreateSpaceRequest", memory_space_id=space).SerializeToString(), timeout=30
                )
        yield address


# --- the harness, shared by both servers -------------------------------------------------


def best_interleaved(
    measurements: dict[str, Callable[[], float]], rounds: int = ROUNDS
) -> dict[str, float]:
    """The best rate of each measurement over `rounds`, taken in turn (baseline, server,
    baseline, ...): load that comes and goes during a run affects both sides alike."""
    best = dict.fromkeys(measurements, 0.0)
    for _ in range(rounds):
        for name, measure in measurements.items():
            best[name] = max(best[name], measure())
    return best


@contextmanager
def unary_caller(
    address: str, path: str, payload: bytes, calls: int = UNARY_CALLS
) -> Iterator[Callable[[], float]]:
    """A measurement of calls/s with IN_FLIGHT calls in flight on one connected channel."""

    async def once() -> float:
        async with grpc.aio.insecure_channel(address) as channel:
            call = channel.unary_unary(path)
            await call(payload, timeout=10)  # connect outside the measurement
            left = [calls]

            async def worker() -> None:
                while left[0] > 0:
                    left[0] -= 1
                    await call(payload, timeout=30)

            start = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
            return calls / (time.perf_counter() - start)

    yield lambda: asyncio.run(once())


async def _drain(call: Any, expected: int) -> int:
    received = 0
    async for _ in call:
        received += 1
        if received == expected:
            call.cancel()
            break
    return received


def stream_rate(
    address: str,
    subscriptions: list[tuple[str, bytes]],
    expected: int,
    source: Callable[[], Awaitable[None]] | None = None,
) -> Callable[[], float]:
    """A measurement of messages/s received by every subscription, from when `source` (the
    writers, if the server needs any) is told to start."""

    async def once() -> float:
        async with grpc.aio.insecure_channel(address) as channel:
            calls = [
                channel.unary_stream(path)(payload, timeout=60) for path, payload in subscriptions
            ]
            await asyncio.gather(*(c.initial_metadata() for c in calls))
            started = time.perf_counter()
            writing = () if source is None else (source(),)
            results = await asyncio.gather(*(_drain(c, expected) for c in calls), *writing)
            elapsed = time.perf_counter() - started
            received = sum(results[: len(calls)])
            assert received == expected * len(calls), (received, expected * len(calls))
            return received / elapsed

    return lambda: asyncio.run(once())


@contextmanager
def stream_writer(address: str, count: int) -> Iterator[Callable[[], Awaitable[None]]]:
    """The writers of the stream benchmark, in their own process (see `stream_writer`)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.bench.stream_writer",
            address,
            str(count),
            *SPACES,
            *(["--grpc"] if GRPC_WRITER else []),
        ],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    def expect(word: str) -> None:
        line = stdout.readline().strip()
        if line != word:
            raise RuntimeError(f"stream writer said {line!r}, expected {word!r}")

    async def write_round() -> None:
        stdin.write("go\n")
        stdin.flush()
        await asyncio.to_thread(expect, "done")

    try:
        expect("ready")
        yield write_round
    finally:
        stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the measurements ------------------------------------------------------------------------


def measure_unary(echo: str, engram: str) -> dict[str, float]:
    remember = msg(
        "RememberRequest",
        memory=msg("Memory", id="bench-memory", content="c" * 64, confidence=0.5),
        memory_space_id="bench-a",
    ).SerializeToString()
    recall = msg(
        "RecallRequest", cue=msg("Cue", id="bench-memory"), memory_space_id="bench-a"
    ).SerializeToString()
    figures: dict[str, float] = {}
    for name, path, payload in (
        ("remember", f"/{ENGRAM_SERVICE}/Remember", remember),
        ("recall", f"/{ENGRAM_SERVICE}/Recall", recall),
    ):
        with (
            unary_caller(echo, "/bench.Echo/Echo", payload) as bare_calls,
            unary_caller(engram, path, payload) as served_calls,
        ):
            bare_cpu, served_cpu = [0.0], [0.0]
            rates = best_interleaved(
                {
                    "bare": with_cpu(echo, bare_calls, bare_cpu),
                    "served": with_cpu(engram, served_calls, served_cpu),
                }
            )
        bare, served = rates["bare"], rates["served"]
        # The servers' own CPU per call: steadier than rates under load (a diagnosis, no target).
        figures[f"{name}_cpu_us_per_call"] = round(served_cpu[0] / (ROUNDS * UNARY_CALLS) * 1e6, 1)
        figures[f"{name}_echo_cpu_us_per_call"] = round(
            bare_cpu[0] / (ROUNDS * UNARY_CALLS) * 1e6, 1
        )
        figures[f"{name}_calls_per_s"] = round(served, 1)
        figures[f"{name}_echo_calls_per_s"] = round(bare, 1)
        figures[f"{name}_ratio"] = round(served / bare, 3)
    return figures


def measure_stream(echo: str, engram: str, relay: str) -> dict[str, float]:
    count = STREAM_EVENTS_PER_SPACE
    streams = SUBSCRIBERS_PER_SPACE * len(SPACES)
    bare_streams = stream_rate(echo, [("/bench.Echo/Stream", str(count).encode())] * streams, count)
    subscriptions = [
        (
            f"/{ENGRAM_SERVICE}/Stream",
            msg("StreamRequest", memory_space_id=space).SerializeToString(),
        )
        for space in SPACES
        for _ in range(SUBSCRIBERS_PER_SPACE)
    ]
    bare_cpu, served_cpu, relay_cpu = [0.0], [0.0], [0.0]
    with stream_writer(engram, count) as write_round, stream_writer(relay, count) as relay_round:
        served_streams = stream_rate(engram, subscriptions, count, write_round)
        relayed_streams = stream_rate(relay, subscriptions, count, relay_round)
        rates = best_interleaved(
            {
                "bare": with_cpu(echo, bare_streams, bare_cpu),
                "served": with_cpu(engram, served_streams, served_cpu),
                "relay": with_cpu(relay, relayed_streams, relay_cpu),
            },
            rounds=STREAM_ROUNDS,
        )
    bare, served, relayed = rates["bare"], rates["served"], rates["relay"]
    messages = STREAM_ROUNDS * count * streams
    return {
        "stream_cpu_us_per_msg": round(served_cpu[0] / messages * 1e6, 2),
        "stream_echo_cpu_us_per_msg": round(bare_cpu[0] / messages * 1e6, 2),
        "stream_fanout_msgs_per_s": round(served, 1),
        "stream_echo_msgs_per_s": round(bare, 1),
        "stream_fanout_ratio": round(served / bare, 3),
        # The floor (a diagnosis, no target): a bare grpc.aio relay of the same writes.
        "stream_relay_cpu_us_per_msg": round(relay_cpu[0] / messages * 1e6, 2),
        "stream_relay_msgs_per_s": round(relayed, 1),
        "stream_relay_ratio": round(relayed / bare, 3),
    }


def measure_registry_get() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as tmp:
        registry = MemorySpaceRegistry(Path(tmp))
        ids = [MemorySpaceId(f"space-{n}") for n in range(8)]
        for space in ids:
            registry.create(space)
        plain = {space: object() for space in ids}
        space = ids[3]
        number = 1_000_000
        get = registry.get
        lookup = plain.get
        registry_s = min(timeit.repeat(lambda: get(space), number=number, repeat=5))
        dict_s = min(timeit.repeat(lambda: lookup(space), number=number, repeat=5))
        registry.close()
    return {
        "registry_get_ns": round(registry_s / number * 1e9, 1),
        "dict_get_ns": round(dict_s / number * 1e9, 1),
        "registry_get_ratio": round(registry_s / dict_s, 3),
    }


def main() -> None:
    global GRPC_WRITER
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--grpc-writer",
        action="store_true",
        help="the stream benchmark's writers use grpc.aio (their CPU then competes with serve's)",
    )
    GRPC_WRITER = parser.parse_args().grpc_writer
    figures: dict[str, Any] = {"load_average_before": [round(x, 2) for x in os.getloadavg()]}
    with tempfile.TemporaryDirectory(prefix="bench-server-") as name:
        tmp = Path(name)
        with echo_server(tmp) as echo, engram_server(tmp) as engram:
            figures.update(measure_unary(echo, engram))
            with relay_server(tmp) as relay:
                figures.update(measure_stream(echo, engram, relay))
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    figures.update(measure_registry_get())
    figures["deployment"] = "out of process: serve, echo and the measuring client"
    figures["in_flight"] = IN_FLIGHT
    figures["stream_writer"] = "grpc.aio" if GRPC_WRITER else "framed"
    figures["targets"] = TARGETS
    figures["met"] = {
        "recall": figures["recall_ratio"] >= TARGETS["recall"],
        "remember": figures["remember_ratio"] >= TARGETS["remember"],
        "stream_fanout": figures["stream_fanout_ratio"] >= TARGETS["stream_fanout"],
        "registry_get": figures["registry_get_ratio"] <= TARGETS["registry_get"],
    }
    record("server", figures)
    for key in sorted(figures):
        print(f"{key}: {figures[key]}")
    if not all(figures["met"].values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
