"""STREAM_BACKPRESSURE's byte part: the figures the reference server states (the hub's peak
buffered bytes, Introspect's trailing headers), how the check sizes its fill from them, and
its outcomes: failed against a hub that bounds events only, partial against a target that
states no figures."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.broken_servers import SUBSCRIBER_BUFFER_BYTES, EventsOnlyHub
from tests.conftest import run_cli
from toolkit.compat.buffers import (
    FILL_TIMES_BOUND,
    MAX_FILL_BYTES,
    BufferFigures,
    buffer_figures,
    fill_for,
)
from toolkit.compat.calls import NewClient
from toolkit.contract import BUFFER_BOUND_HEADER, BUFFER_PEAK_HEADER, SPACE_FIELD
from toolkit.server.app import RunningServer, ServerConfig, start_server_thread
from toolkit.server.hub import EventHub, EventKind, SpaceEvent
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import StoredMemory

SPACE = MemorySpaceId("stalled")
CHECK = "STREAM_BACKPRESSURE"


def _event(n: int, size: int) -> SpaceEvent:
    memory = StoredMemory(f"m{n}", "x" * size, 1.0, (), 0)
    return SpaceEvent(SPACE, EventKind.REMEMBERED, memory, 0)


def _stall(hub: EventHub, events: int, size: int) -> None:
    """A subscriber that never reads, offered `events` events of `size` bytes."""
    subscription = hub.subscribe(SPACE)

    async def publish() -> None:
        for n in range(events):
            await hub.publish(_event(n, size))

    asyncio.run(publish())
    hub.unsubscribe(subscription)


def test_peak_bytes_stays_within_the_bound_and_outlives_the_subscriber() -> None:
    hub = EventHub(buffer=1024, buffer_bytes=256 * 1024)
    assert hub.peak_bytes(SPACE) == 0
    _stall(hub, events=100, size=16 * 1024)  # ~3 MiB as the hub counts it: evicted early
    peak = hub.peak_bytes(SPACE)
    assert peak is not None and 0 < peak <= 256 * 1024
    assert hub.subscriber_count(SPACE) == 0  # ended, and its peak is still known
    hub.close_space(SPACE)  # deleted: a new space of that name starts again
    assert hub.peak_bytes(SPACE) == 0


def test_a_hub_bounding_events_only_shows_in_its_peak() -> None:
    hub = EventsOnlyHub(buffer=64, buffer_bytes=256 * 1024)
    _stall(hub, events=100, size=16 * 1024)
    peak = hub.peak_bytes(SPACE)
    assert peak is not None and peak > 4 * 256 * 1024  # 64 events of ~32 KiB each


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningServer]:
    config = ServerConfig(data_dir=tmp_path / "data", subscriber_buffer_bytes=300_000)
    server = start_server_thread(config)
    try:
        yield server
    finally:
        server.stop()


def test_introspect_states_the_bound_and_the_peak(running: RunningServer) -> None:
    with grpc.insecure_channel(running.address) as channel:
        admin = NewClient(channel, None, "none")
        assert admin.call("CreateSpace", admin.request("CreateSpace", **{SPACE_FIELD: "fresh"})).ok
        outcome = NewClient(channel, "fresh").call(
            "Introspect", NewClient(channel, "fresh").request("Introspect")
        )
    assert outcome.ok
    assert outcome.trailing_metadata[BUFFER_BOUND_HEADER] == "300000"
    assert outcome.trailing_metadata[BUFFER_PEAK_HEADER] == "0"


class _StatingClient:
    """A client whose Introspect answer states the given figures (as a foreign target might)."""

    def __init__(self, bound: str | None, peak: str | None) -> None:
        self.headers = {BUFFER_BOUND_HEADER: bound, BUFFER_PEAK_HEADER: peak}

    def request(self, rpc: str) -> None:
        return None

    def call(self, rpc: str, request: None) -> Any:
        headers = self.headers

        class Outcome:
            ok = True

            def header(self, name: str) -> str | None:
                return headers[name]

        return Outcome()


@pytest.mark.parametrize(
    ("bound", "peak", "read"),
    [
        ("524288", "1000", BufferFigures(524288, 1000)),
        (None, "1000", None),  # no bound stated
        ("lots", "1000", None),  # not a number
        ("0", "0", None),  # a bound of nothing
        ("-5", "0", None),  # negative
        ("524288", "-1", None),
    ],
)
def test_only_figures_that_can_be_verified_are_read(
    bound: str | None, peak: str | None, read: BufferFigures | None
) -> None:
    """Odd figures from a foreign target leave the byte part partial, never a wrong fill."""
    assert buffer_figures(_StatingClient(bound, peak)) == read  # type: ignore[arg-type]


def test_the_fill_is_several_times_the_bound_in_events_far_below_it() -> None:
    fill = fill_for(BufferFigures(bound=1024 * 1024, peak=0), scale=0.2)
    assert fill.total >= FILL_TIMES_BOUND * 1024 * 1024
    assert fill.size * 32 <= 1024 * 1024  # a buffer of 64 such events holds 2x the bound
    huge = fill_for(BufferFigures(bound=1 << 30, peak=0), scale=0.2)
    assert huge.total <= MAX_FILL_BYTES + huge.size
    no_figures = fill_for(None, scale=0.2)
    assert no_figures.events > 1024  # beyond a default event bound, as before


def _run(variant: str, reports: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    result = run_cli(
        [
            "runtime",
            "--server-factory",
            f"tests.broken_servers:{variant}",
            "--reports",
            str(reports),
            "--checks",
            CHECK,
            "--scale",
            "0.2",
            "-n",
            "0",
            *extra,
        ],
        env=env,
    )
    return result.returncode, json.loads((reports / "compat.json").read_text())


def _case(document: dict[str, Any]) -> dict[str, Any]:
    (check,) = document["checks"]
    (case,) = check["cases"]
    return dict(case)


@pytest.mark.slow
def test_a_hub_bounding_events_only_fails_on_bytes_alone(tmp_path: Path) -> None:
    code, document = _run("events_only_hub", tmp_path)
    case = _case(document)
    assert code == 1 and case["outcome"] == "failed"
    facts = case["evidence"]
    # Its other promises hold: the writer went on and the subscriber was ended.
    assert all(facts["writers_finished"]) and facts["stalled_ends"][-1] == "RESOURCE_EXHAUSTED"
    assert facts["buffer_bound_bytes"] == SUBSCRIBER_BUFFER_BYTES
    assert facts["buffer_peak_bytes"] > SUBSCRIBER_BUFFER_BYTES
    assert (
        BUFFER_PEAK_HEADER in case["observed"]
        and str(facts["buffer_peak_bytes"]) in (case["observed"])
    )


@pytest.mark.slow
def test_a_target_without_figures_is_partial_on_bytes(tmp_path: Path) -> None:
    code, document = _run("figureless_hub", tmp_path / "strict")
    case = _case(document)
    assert case["outcome"] == "partial" and code == 1
    assert BUFFER_PEAK_HEADER in case["not_verified"]
    assert case["evidence"]["buffer_peak_bytes"] is None
    assert case["evidence"]["stalled_ends"][-1] == "RESOURCE_EXHAUSTED"  # the rest was verified
    code, document = _run("figureless_hub", tmp_path / "allowed", "--allow-partial")
    assert code == 0 and document["allow_partial"] is True
