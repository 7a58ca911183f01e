"""Benchmark of the reference server, as ratios against a bare echo server in the same run.

    python -m tests.bench.bench_server        (or `nox -s bench`)

The same client harness drives both servers (raw bytes in, raw bytes out), both servers run
grpc.aio on their own event loop thread in this process, and every figure is a ratio:
Remember and Recall calls/s vs a bare unary echo; Stream messages/s delivered to 8
subscribers in 2 spaces vs 8 bare server streams; `registry.get` vs `dict.get`. The events
the subscribers receive are written by StreamingRemember calls from another process
(`stream_writer`), so the measured client only reads, as it does from the echo. Each side's
figure is its best of ROUNDS (load on these machines only ever slows a round down), the
baseline and the server measured in turn; every request is encoded before a clock starts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

from tests.bench.common import record
from toolkit.schema.pool import load_schema
from toolkit.server.app import ServerConfig, start_server_thread
from toolkit.server.registry import MemorySpaceRegistry
from toolkit.server.space_id import MemorySpaceId

UNARY_CALLS = 1000
ROUNDS = 10  # each side's best of ROUNDS, the two sides measured in turn
STREAM_EVENTS_PER_SPACE = 2500
# A stream round is short and its rate spreads widely (the echo's from 14,000 to 28,000
# messages/s within one run), so each side needs more rounds to reach its best.
STREAM_ROUNDS = 12
SUBSCRIBERS_PER_SPACE = 4
SPACES = ("bench-a", "bench-b")
TARGETS = {"recall": 0.8, "remember": 0.7, "stream_fanout": 0.6, "registry_get": 3.0}

SCHEMA = load_schema("current")
ROOT = Path(__file__).resolve().parents[2]


def msg(name: str, **fields: Any) -> Any:
    return SCHEMA.message(f"engram.v1.{name}")(**fields)


# --- the bare echo server ------------------------------------------------------------------


def _stream_message() -> bytes:
    memory = msg("Memory", id="0123456789abcdef", content="c" * 64, confidence=0.5)
    response = msg("StreamResponse", event_type=1, memory=memory, sequence=1)
    response.timestamp.FromNanoseconds(time.time_ns())
    data: bytes = response.SerializeToString()
    return data


async def _echo(request: bytes, context: Any) -> bytes:
    return request


async def _echo_stream(request: bytes, context: Any) -> Any:
    message = _stream_message()
    for _ in range(int(request.decode())):
        yield message


@contextmanager
def echo_server() -> Iterator[str]:
    """A grpc.aio echo server on its own loop thread, like the reference server."""
    loop = asyncio.new_event_loop()
    ready: concurrent.futures.Future[tuple[Any, int]] = concurrent.futures.Future()

    async def start() -> None:
        server = grpc.aio.server()
        handlers = {
            "Echo": grpc.unary_unary_rpc_method_handler(_echo),
            "Stream": grpc.unary_stream_rpc_method_handler(_echo_stream),
        }
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("bench.Echo", handlers),)
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        ready.set_result((server, port))

    thread = threading.Thread(target=lambda: (loop.run_until_complete(start()), loop.run_forever()))
    thread.start()
    server, port = ready.result(30)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


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
    """A measurement of sequential calls/s on one connected channel."""
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_unary(path)
        call(payload, timeout=10)  # connect outside the measurement

        def measure() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                call(payload, timeout=10)
            return calls / (time.perf_counter() - start)

        yield measure


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
        [sys.executable, "-m", "tests.bench.stream_writer", address, str(count), *SPACES],
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
        ("remember", "/engram.v1.EngramService/Remember", remember),
        ("recall", "/engram.v1.EngramService/Recall", recall),
    ):
        with (
            unary_caller(echo, "/bench.Echo/Echo", payload) as bare_calls,
            unary_caller(engram, path, payload) as served_calls,
        ):
            rates = best_interleaved({"bare": bare_calls, "served": served_calls})
        bare, served = rates["bare"], rates["served"]
        figures[f"{name}_calls_per_s"] = round(served, 1)
        figures[f"{name}_echo_calls_per_s"] = round(bare, 1)
        figures[f"{name}_ratio"] = round(served / bare, 3)
    return figures


def measure_stream(echo: str, engram: str) -> dict[str, float]:
    count = STREAM_EVENTS_PER_SPACE
    streams = SUBSCRIBERS_PER_SPACE * len(SPACES)
    bare_streams = stream_rate(echo, [("/bench.Echo/Stream", str(count).encode())] * streams, count)
    subscriptions = [
        (
            "/engram.v1.EngramService/Stream",
            msg("StreamRequest", memory_space_id=space).SerializeToString(),
        )
        for space in SPACES
        for _ in range(SUBSCRIBERS_PER_SPACE)
    ]
    with stream_writer(engram, count) as write_round:
        served_streams = stream_rate(engram, subscriptions, count, write_round)
        rates = best_interleaved(
            {"bare": bare_streams, "served": served_streams}, rounds=STREAM_ROUNDS
        )
    bare, served = rates["bare"], rates["served"]
    return {
        "stream_fanout_msgs_per_s": round(served, 1),
        "stream_echo_msgs_per_s": round(bare, 1),
        "stream_fanout_ratio": round(served / bare, 3),
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
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp, echo_server() as echo:
        config = ServerConfig(data_dir=Path(tmp) / "data")
        with start_server_thread(config) as engram:
            for space in SPACES:
                engram.registry.create(MemorySpaceId(space))
            figures.update(measure_unary(echo, engram.address))
            figures.update(measure_stream(echo, engram.address))
    figures.update(measure_registry_get())
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
