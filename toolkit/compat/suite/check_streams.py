"""STREAM_ISOLATION and STREAM_BACKPRESSURE."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import grpc

from toolkit.compat.calls import NewClient, NewClientFactory
from toolkit.compat.checks import check
from toolkit.compat.environment import CompatEnv
from toolkit.compat.evidence import Evidence
from toolkit.compat.scenarios import EventWatcher

SPACES = 4
SUBSCRIBERS = 4
MIN_THROUGHPUT_RATIO = 0.8
# Loopback rates on a shared 2-core machine vary by +-25%: up to this many rounds.
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
    new_client: NewClientFactory,
    compat_env: CompatEnv,
    default_space: str,
    scale: float,
    evidence: Evidence,
) -> None:
    events = max(5, int(40 * scale))
    spaces = [compat_env.new_space(f"iso{i}") for i in range(SPACES)]
    # Spaces nobody in this check subscribes to, the default space included, are written in
    # the same window: none of their events may reach a subscriber.
    unwatched = [compat_env.new_space("iso-unwatched"), default_space]
    tag = compat_env.space_name("iso")
    unwatched_ids = {s: [f"{tag}-{s}-u{n}" for n in range(events)] for s in unwatched}
    # Each space's last event is written after every other space's events were acknowledged:
    # once a subscriber has its own last one, whatever reached it before is in (no waiting).
    expected = {s: [*(f"{s}-e{n}" for n in range(events - 1)), f"{s}-last"] for s in spaces}
    watchers = {s: [EventWatcher.new(new_client(s)) for _ in range(SUBSCRIBERS)] for s in spaces}
    evidence.record(
        spaces=SPACES,
        subscribers_per_space=SUBSCRIBERS,
        events_per_space=events,
        unwatched_spaces=unwatched,
    )
    try:
        writers = [
            threading.Thread(target=_write_all, args=(new_client(s), expected[s][:-1]))
            for s in spaces
        ] + [
            threading.Thread(target=_write_all, args=(new_client(s), unwatched_ids[s]))
            for s in unwatched
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
        stray = {i: s for s, ids in unwatched_ids.items() for i in ids}
        from_unwatched = 0
        for space, space_watchers in watchers.items():
            for index, watcher in enumerate(space_watchers):
                seen = [e.memory.id for e in watcher.events]
                sequences = [e.sequence for e in watcher.events]
                if seen != expected[space] or sequences != list(range(1, len(seen) + 1)):
                    foreign = sum(1 for i in seen if not i.startswith(f"{space}-"))
                    unwatched_seen = sorted({stray[i] for i in seen if i in stray})
                    from_unwatched += sum(1 for i in seen if i in stray)
                    origin = f" (from unwatched {', '.join(unwatched_seen)})" * bool(unwatched_seen)
                    wrong.append(
                        f"{space}#{index}: {len(seen)} events, {foreign} of other spaces{origin}"
                    )
        evidence.record(wrong_subscribers=wrong, events_from_unwatched_spaces=from_unwatched)
        evidence.verify(
            not wrong,
            f"each of {SPACES * SUBSCRIBERS} subscribers: its own {events} events, in order, "
            f"none of {', '.join(unwatched)}",
            "; ".join(wrong[:4]),
        )
    finally:
        for space_watchers in watchers.values():
            for watcher in space_watchers:
                watcher.stop()
        # Leave the default space as found: remove what this check wrote there, by id.
        default = new_client(default_space)
        for memory_id in unwatched_ids[default_space]:
            default.call("Forget", default.request("Forget", memory_id=memory_id))


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


@dataclass(frozen=True)
class StallRound:
    """One subscriber that stopped reading while its space was filled, and what happened."""

    writer_finished: bool  # the filler of the stalled space never waited for it
    rate: float  # the busy space's rate meanwhile
    end: str | None  # how the stalled subscriber's stream ended
    details: str


def _stall(
    address: str,
    filler: NewClient,
    fill: int,
    label: str,
    wait_s: float,
    measure: Callable[[], float],
) -> StallRound:
    """Subscribe without reading, fill the space beyond any buffer, `measure` meanwhile."""
    assert filler.space is not None
    # Its own channel without BDP probing keeps the flow-control window at its initial 64 KiB,
    # so a subscriber that stops reading stops accepting data soon, as a slow consumer would.
    channel = grpc.insecure_channel(address, options=[("grpc.http2.bdp_probe", 0)])
    client = NewClient(channel, filler.space)
    stalled = client.stream("Stream", client.request("Stream"), timeout=120)
    try:
        stalled.initial_metadata()  # subscribed; from now on it never reads
        payload = "x" * 4096  # large events fill the stalled stream's window quickly
        requests = [
            filler.request("StreamingRemember", memory={"id": f"{label}-{n}", "content": payload})
            for n in range(fill)
        ]
        writer = threading.Thread(
            target=filler.call, args=("StreamingRemember", *requests), daemon=True
        )
        writer.start()
        writer.join(timeout=wait_s)
        rate = measure()
        drained = EventWatcher(stalled)
        end = drained.wait_end(timeout=5)
        return StallRound(not writer.is_alive(), rate, end, drained.details)
    finally:
        stalled.cancel()
        channel.close()


@check("STREAM_BACKPRESSURE")
def test_stalled_subscriber_slows_no_one_else(
    new_client: NewClientFactory, compat_env: CompatEnv, scale: float, evidence: Evidence
) -> None:
    stalled_space = compat_env.new_space("stall")
    busy_space = compat_env.new_space("busy")
    measured = max(150, int(300 * scale))
    fill = max(1200, int(3000 * scale))  # beyond a default 1024-event buffer at any scale
    wait_s = max(2.0, 10 * scale)
    writer_wait_s = max(5.0, 20 * scale)
    address = compat_env.server("current").address
    busy, filler = new_client(busy_space), new_client(stalled_space)

    def rate(label: str) -> float:
        return _throughput(busy, busy, label, measured, wait_s)

    # Each rate with a stalled subscriber is compared with the better of the rates without one
    # just before and just after it, so load drifting on a shared machine moves both sides
    # alike. The best of up to RATE_SAMPLES rounds counts (a stalled hub fails every round);
    # a writer that waited or a wrong ending fails at once.
    rate("warmup")
    without = [rate("without0")]
    rounds: list[StallRound] = []
    ratios: list[float] = []
    while len(rounds) < RATE_SAMPLES:
        n = len(rounds)
        rounds.append(
            _stall(address, filler, fill, f"fill{n}", writer_wait_s, partial(rate, f"with{n}"))
        )
        if not rounds[-1].writer_finished or rounds[-1].end != "RESOURCE_EXHAUSTED":
            ratios.append(rounds[-1].rate / without[-1] if without[-1] else 0.0)
            break
        without.append(rate(f"without{n + 1}"))
        ratios.append(rounds[-1].rate / max(without[-2:]) if max(without[-2:]) else 0.0)
        if ratios[-1] >= MIN_THROUGHPUT_RATIO:
            break
    best = max(range(len(rounds)), key=lambda i: ratios[i])
    evidence.record(
        events_measured=measured,
        stalled_space_events=fill,
        rates_without=[round(r, 1) for r in without],
        rates_with_stalled_subscriber=[round(r.rate, 1) for r in rounds],
        ratios=[round(r, 3) for r in ratios],
        writers_finished=[r.writer_finished for r in rounds],
        stalled_ends=[r.end for r in rounds],
        stalled_details=rounds[-1].details,
    )
    blocked = [r for r in rounds if not r.writer_finished]
    evidence.verify(
        not blocked,
        f"writers to {stalled_space} never wait for its stalled subscriber",
        f"the writer of {stalled_space} was still blocked after {writer_wait_s:.0f} s",
    )
    evidence.verify(
        ratios[best] >= MIN_THROUGHPUT_RATIO,
        f"space {busy_space} keeps >= {MIN_THROUGHPUT_RATIO:.0%} of its throughput",
        f"{ratios[best]:.0%} ({rounds[best].rate:.0f}/s with the stalled subscriber, "
        f"{max(without[best : best + 2]):.0f}/s without)",
    )
    wrong = [r for r in rounds if r.end != "RESOURCE_EXHAUSTED"]
    evidence.verify(
        not wrong,
        "the stalled subscriber is ended with RESOURCE_EXHAUSTED",
        f"it ended with {wrong[0].end if wrong else None}: {wrong[0].details if wrong else ''}",
    )
