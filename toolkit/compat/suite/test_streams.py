"""STREAM_ISOLATION and STREAM_BACKPRESSURE."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import grpc

from toolkit.compat.calls import NewClient
from toolkit.compat.checks import check
from toolkit.compat.environment import CompatEnv
from toolkit.compat.evidence import Evidence
from toolkit.compat.scenarios import EventWatcher
from toolkit.compat.suite.conftest import NewClientFactory

SPACES = 4
SUBSCRIBERS = 4
MIN_THROUGHPUT_RATIO = 0.8
# Loopback rates on a shared 2-core machine vary by +-25%: the rate without the stalled
# subscriber is the best of several samples (strict), the rate with it the first sample that
# keeps the ratio, of at most as many (lenient). A stalled hub fails every one of them.
RATE_SAMPLES = 3


def _write_all(client: NewClient, ids: list[str], content: str = "") -> None:
    for memory_id in ids:
        request = client.request("Remember", memory={"id": memory_id, "content": content})
        outcome = client.call("Remember", request)
        if not outcome.ok:
            raise AssertionError(f"Remember {memory_id}: {outcome.code} {outcome.details}")


def _has(memory_id: str) -> Callable[[list[Any]], bool]:
    return lambda events: any(event.memory.id == memory_id for event in events)


@check("STREAM_ISOLATION")
def test_each_subscriber_sees_exactly_its_space(
    new_client: NewClientFactory, compat_env: CompatEnv, scale: float, evidence: Evidence
) -> None:
    events = max(5, int(40 * scale))
    spaces = [compat_env.new_space(f"iso{i}") for i in range(SPACES)]
    # Each space's last event is written after every other space's events were acknowledged:
    # once a subscriber has its own last one, whatever reached it before is in (no waiting).
    expected = {s: [*(f"{s}-e{n}" for n in range(events - 1)), f"{s}-last"] for s in spaces}
    watchers = {s: [EventWatcher.new(new_client(s)) for _ in range(SUBSCRIBERS)] for s in spaces}
    evidence.record(spaces=SPACES, subscribers_per_space=SUBSCRIBERS, events_per_space=events)
    try:
        writers = [
            threading.Thread(target=_write_all, args=(new_client(s), expected[s][:-1]))
            for s in spaces
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(60)
        for space in spaces:
            _write_all(new_client(space), expected[space][-1:])
        for space, space_watchers in watchers.items():
            for watcher in space_watchers:
                watcher.wait_until(_has(expected[space][-1]), timeout=15)
        wrong: list[str] = []
        for space, space_watchers in watchers.items():
            for index, watcher in enumerate(space_watchers):
                seen = [e.memory.id for e in watcher.events]
                sequences = [e.sequence for e in watcher.events]
                if seen != expected[space] or sequences != list(range(1, len(seen) + 1)):
                    foreign = sum(1 for i in seen if not i.startswith(f"{space}-"))
                    wrong.append(f"{space}#{index}: {len(seen)} events, {foreign} of other spaces")
        evidence.record(wrong_subscribers=wrong)
        evidence.verify(
            not wrong,
            f"each of {SPACES * SUBSCRIBERS} subscribers: its own {events} events, in order",
            "; ".join(wrong[:4]),
        )
    finally:
        for space_watchers in watchers.values():
            for watcher in space_watchers:
                watcher.stop()


def _throughput(
    writer: NewClient, reader: NewClient, prefix: str, count: int, wait_s: float
) -> float:
    """Events a second written to a space and received by a subscriber of it (bounded wait)."""
    watcher = EventWatcher.new(reader)
    try:
        ids = [f"{prefix}-{n}" for n in range(count)]
        start = time.perf_counter()
        thread = threading.Thread(target=_write_all, args=(writer, ids), daemon=True)
        thread.start()
        watcher.wait_for(count, timeout=wait_s)
        return len(watcher.events) / (time.perf_counter() - start)
    finally:
        watcher.stop()


@check("STREAM_BACKPRESSURE")
def test_stalled_subscriber_slows_no_one_else(
    new_client: NewClientFactory, compat_env: CompatEnv, scale: float, evidence: Evidence
) -> None:
    stalled_space = compat_env.new_space("stall")
    busy_space = compat_env.new_space("busy")
    measured = max(150, int(300 * scale))
    fill = max(1200, int(3000 * scale))  # beyond a default 1024-event buffer at any scale
    payload = "x" * 4096  # large events fill the stalled stream's flow-control window quickly
    wait_s = max(2.0, 10 * scale)
    busy = new_client(busy_space)
    _throughput(busy, busy, "warmup", measured // 5, wait_s)
    before = [_throughput(busy, busy, f"before{n}", measured, wait_s) for n in range(RATE_SAMPLES)]
    baseline = max(before)

    # Its own channel without BDP probing keeps the flow-control window at its initial 64 KiB,
    # so a subscriber that stops reading stops accepting data soon, as a slow consumer would.
    address = compat_env.server("current").address
    stalled_channel = grpc.insecure_channel(address, options=[("grpc.http2.bdp_probe", 0)])
    stalled_client = NewClient(stalled_channel, stalled_space)
    stalled = stalled_client.stream("Stream", stalled_client.request("Stream"), timeout=120)
    stalled.initial_metadata()  # subscribed; from now on it never reads
    filler_client = new_client(stalled_space)
    fill_requests = (
        filler_client.request("StreamingRemember", memory={"id": f"fill-{n}", "content": payload})
        for n in range(fill)
    )
    filler = threading.Thread(
        target=filler_client.call, args=("StreamingRemember", *fill_requests), daemon=True
    )
    try:
        filler.start()
        filler_wait_s = max(5.0, 20 * scale)
        filler.join(timeout=filler_wait_s)
        during: list[float] = []
        while len(during) < RATE_SAMPLES and (
            not during or max(during) < MIN_THROUGHPUT_RATIO * baseline
        ):
            during.append(_throughput(busy, busy, f"during{len(during)}", measured, wait_s))
        ratio = max(during) / baseline if baseline else 0.0
        evidence.record(
            events_measured=measured,
            stalled_space_events=fill,
            filler_finished=not filler.is_alive(),
            rates_before=[round(rate, 1) for rate in before],
            rates_with_stalled_subscriber=[round(rate, 1) for rate in during],
            ratio=round(ratio, 3),
        )
        evidence.verify(
            not filler.is_alive(),
            f"writers to {stalled_space} never wait for its stalled subscriber",
            f"the writer of {stalled_space} was still blocked after {filler_wait_s:.0f} s",
        )
        evidence.verify(
            ratio >= MIN_THROUGHPUT_RATIO,
            f"space {busy_space} keeps >= {MIN_THROUGHPUT_RATIO:.0%} of its throughput",
            f"{ratio:.0%} ({max(during):.0f}/s with the stalled subscriber, "
            f"{baseline:.0f}/s without)",
        )
        drained = EventWatcher(stalled)
        code = drained.wait_end(timeout=5)
        evidence.record(stalled_end=code, stalled_details=drained.details)
        evidence.verify(
            code == "RESOURCE_EXHAUSTED",
            "the stalled subscriber is ended with RESOURCE_EXHAUSTED",
            f"it ended with {code} after {len(drained.events)} events",
        )
    finally:
        stalled.cancel()
        stalled_channel.close()
