"""Issue 13 item 6: memory bounded in bytes.

A stalled subscriber of large events is ended once the bytes waiting for it pass
`--subscriber-buffer-bytes`, and never slows the writers or the other subscribers; the hub's
own accounting (`Subscription.high_water_bytes`) shows what it held. A hub whose subscribers
have no byte bound (the behaviour before) holds every event and is shown failing.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import grpc
import pytest

from tests.conftest import run_cli
from tests.server.calls import Collector
from tests.server.conftest import Client, start
from tests.server.serving import serving
from toolkit.server.app import ServerOverrides
from toolkit.server.hub import EventHub, Subscription
from toolkit.server.space_id import MemorySpaceId

BOUND = 1024 * 1024  # bytes a subscriber may fall behind
EVENTS = 400
CONTENT = "x" * 65_536  # 400 events of 64 KiB: 26 MB on the wire, more as Python holds them
SPACE = "big-events"


class RecordingHub(EventHub):
    """The product's hub, keeping every subscription it made so a test can read its accounts."""

    def __init__(self, buffer: int = 1024) -> None:
        super().__init__(buffer)
        self.made: list[Subscription] = []

    def subscribe(self, space: MemorySpaceId, kinds: Iterable[int] = ()) -> Subscription:
        subscription = super().subscribe(space, kinds)
        self.made.append(subscription)
        return subscription


class NoByteBoundHub(RecordingHub):
    """Deliberately broken: subscribers are bounded in events only (as before issue 13.6)."""

    def subscribe(self, space: MemorySpaceId, kinds: Iterable[int] = ()) -> Subscription:
        subscription = super().subscribe(space, kinds)
        subscription.buffer_bytes = 1 << 62
        return subscription


def stall_and_write(data_dir: Path, hub: type[RecordingHub]) -> tuple[int, int, int, float]:
    """A stalled and a reading subscriber, then EVENTS large writes. Returns the most bytes
    the hub held for the stalled one, the events the reader received, the stalled stream's
    status code value (0 when it was not ended) and the writes' seconds."""
    running = start(
        data_dir,
        ServerOverrides(hub_factory=hub),
        subscriber_buffer_bytes=BOUND,
    )
    channel = grpc.insecure_channel(
        running.address, options=[("grpc.max_receive_message_length", 8 * 1024 * 1024)]
    )
    try:
        client = Client(channel)
        client.create_space(SPACE)
        stalled = client.subscribe(SPACE)  # never read until the writes are done
        reader = Collector(client.subscribe(SPACE))
        started = time.monotonic()
        for n in range(EVENTS):
            client.remember(CONTENT, SPACE, memory_id=f"m{n}")
        elapsed = time.monotonic() - started
        reader.wait_for(EVENTS, timeout=60)
        received = len(reader.seen)
        reader.stop()
        made = running.call(lambda: list(hub_of(running.hub).made))
        stalled_subscription = made[0]
        held = running.call(lambda: stalled_subscription.high_water_bytes)
        ended = running.call(lambda: stalled_subscription.end_reason)
        code = 0
        if ended is not None:
            try:
                for _ in stalled:
                    pass
            except grpc.RpcError as error:
                code = error.code().value[0]
        else:
            stalled.cancel()
        return held, received, code, elapsed
    finally:
        channel.close()
        running.stop()


def hub_of(hub: EventHub) -> RecordingHub:
    assert isinstance(hub, RecordingHub)
    return hub


def check_bounded(data_dir: Path, hub: type[RecordingHub]) -> None:
    held, received, code, _ = stall_and_write(data_dir, hub)
    one_event = 2 * len(CONTENT) + 4096
    assert held <= BOUND + one_event, f"the hub held {held / 1e6:.1f} MB for a stalled subscriber"
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert received == EVENTS  # the other subscriber got every event


def test_a_stalled_subscriber_is_bounded_in_bytes(data_dir: Path) -> None:
    check_bounded(data_dir, RecordingHub)


def test_the_byte_bound_check_fails_on_a_hub_without_one(data_dir: Path) -> None:
    held, received, _, _ = stall_and_write(data_dir, NoByteBoundHub)
    assert held > 8 * BOUND  # what the broken hub held: measured, not assumed
    assert received == EVENTS
    with pytest.raises(AssertionError):
        check_bounded(data_dir.parent / "again", NoByteBoundHub)


def test_serve_takes_the_byte_bound_from_its_command_line(tmp_path: Path) -> None:
    """A real `serve --subscriber-buffer-bytes`: a stalled subscriber of 64 KiB events is
    ended with RESOURCE_EXHAUSTED, its message naming the byte bound."""
    bound = 256 * 1024
    with serving(tmp_path / "data", tmp_path / "log", "--subscriber-buffer-bytes", str(bound)) as (
        _,
        client,
    ):
        client.create_space(SPACE)
        stalled = client.subscribe(SPACE)
        for n in range(120):
            client.remember(CONTENT, SPACE, memory_id=f"m{n}")
        with pytest.raises(grpc.RpcError) as caught:
            for _ in stalled:
                pass
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"{bound} bytes" in (caught.value.details() or "")


@pytest.mark.parametrize("value", ["0", "-1"])
def test_an_out_of_range_byte_bound_exits_2_with_one_line(tmp_path: Path, value: str) -> None:
    result = run_cli(
        ["serve", "--data-dir", str(tmp_path / "data"), "--subscriber-buffer-bytes", value]
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--subscriber-buffer-bytes" in result.stderr
