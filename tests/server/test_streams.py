"""Streams: isolation, order, bounded buffers, slow subscribers, no leftovers."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.broken_servers import ForgetfulHub, LeakyHub, StallingHub
from tests.server.calls import Collector
from tests.server.conftest import Client, start
from toolkit.server.app import RunningServer, ServerOverrides
from toolkit.server.hub import EventHub

BUFFER = 16
PAYLOAD = "x" * 16_384  # large events fill the transport's windows quickly


def open_client(running: RunningServer) -> tuple[grpc.Channel, Client]:
    channel = grpc.insecure_channel(running.address)
    return channel, Client(channel)


@pytest.fixture
def small_buffer_server(data_dir: Path, request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    hub = getattr(request, "param", None)
    running = start(data_dir, ServerOverrides(hub_factory=hub), subscriber_buffer=BUFFER)
    try:
        yield running
    finally:
        running.stop()


# --- isolation ---------------------------------------------------------------------------


def check_stream_isolation(client: Client) -> None:
    """Two spaces, one subscriber each: each sees exactly its own events, in order."""
    client.create_space("space-a")
    client.create_space("space-b")
    a = Collector(client.subscribe("space-a"))
    b = Collector(client.subscribe("space-b"))
    try:
        written_a = [client.remember(f"a{n}", "space-a") for n in range(20)]
        written_b = [client.remember(f"b{n}", "space-b") for n in range(10)]
        a.wait_for(20)
        b.wait_for(10)
        time.sleep(0.1)
        assert a.seen == list(enumerate(written_a, start=1))
        assert b.seen == list(enumerate(written_b, start=1))
    finally:
        a.stop()
        b.stop()


def test_a_subscription_sees_only_its_own_space_in_order(client: Client) -> None:
    check_stream_isolation(client)


@pytest.mark.parametrize("small_buffer_server", [LeakyHub], indirect=True)
def test_isolation_check_fails_on_a_leaky_hub(small_buffer_server: RunningServer) -> None:
    channel, client = open_client(small_buffer_server)
    try:
        with pytest.raises(AssertionError):
            check_stream_isolation(client)
    finally:
        channel.close()


def test_event_types_filter_the_stream(client: Client) -> None:
    forgotten = 2
    call = client.rpc("Stream")(client.msg("StreamRequest", event_types=[forgotten]), timeout=30)
    call.initial_metadata()
    collector = Collector(call)
    try:
        kept = client.remember("kept")
        gone = client.remember("gone")
        client.call("Forget", client.msg("ForgetRequest", memory_id=gone))
        collector.wait_for(1)
        time.sleep(0.1)
        assert [memory_id for _, memory_id in collector.seen] == [gone]
        assert kept != gone
    finally:
        collector.stop()


# --- slow subscribers ----------------------------------------------------------------------


def fill_until_evicted(client: Client, running: RunningServer, space: str, limit: int) -> int:
    """Write large memories until the space has lost a subscriber; returns how many."""
    before = running.call(lambda: running.hub.subscriber_count(space))
    for written in range(1, limit + 1):
        client.remember(PAYLOAD, space, memory_id=f"m{written}")
        if running.call(lambda: running.hub.subscriber_count(space)) < before:
            return written
    return limit


def check_slow_subscriber_is_ended_alone(running: RunningServer) -> None:
    channel, client = open_client(running)
    client.create_space("space-b")
    stalled = client.subscribe("default")  # never read until the end
    fast_same = Collector(client.subscribe("default"))
    fast_other = Collector(client.subscribe("space-b"))
    subscriptions = running.call(lambda: list(running.hub._subscribers["default"]))
    try:
        written = fill_until_evicted(client, running, "default", limit=2000)
        assert written < 2000, "the stalled subscriber was never ended"
        for n in range(5):
            client.remember(f"b{n}", "space-b")
        started = time.monotonic()
        client.remember("after", "default")  # a writer is not held up
        assert time.monotonic() - started < 1.0
        fast_same.wait_for(written + 1)
        fast_other.wait_for(5)
        assert [seq for seq, _ in fast_same.seen] == list(range(1, written + 2))
        assert len(fast_other.seen) == 5
        assert max(s.high_water for s in subscriptions) <= BUFFER
        codes = []
        try:
            for _ in stalled:
                pass
        except grpc.RpcError as error:
            codes.append(error.code())
        assert codes == [grpc.StatusCode.RESOURCE_EXHAUSTED]
    finally:
        stalled.cancel()
        fast_same.stop()
        fast_other.stop()
        channel.close()


def test_a_subscriber_that_never_reads_is_ended_and_nobody_else_waits(
    small_buffer_server: RunningServer,
) -> None:
    check_slow_subscriber_is_ended_alone(small_buffer_server)


@pytest.mark.parametrize("small_buffer_server", [StallingHub], indirect=True)
def test_slow_subscriber_check_fails_on_a_stalling_hub(small_buffer_server: RunningServer) -> None:
    with pytest.raises((AssertionError, grpc.RpcError)):
        check_slow_subscriber_is_ended_alone_quickly(small_buffer_server)


def check_slow_subscriber_is_ended_alone_quickly(running: RunningServer) -> None:
    """The writer-side half of the check with short deadlines (a stalled writer times out)."""
    channel, client = open_client(running)
    stalled = client.subscribe("default")
    try:
        for n in range(400):
            request = client.msg(
                "RememberRequest", memory=client.msg("Memory", id=f"m{n}", content=PAYLOAD)
            )
            started = time.monotonic()
            client.call("Remember", request, timeout=2)
            assert time.monotonic() - started < 1.0
    finally:
        stalled.cancel()
        channel.close()


# --- no leftovers ----------------------------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def task_count(running: RunningServer) -> int:
    return running.call(lambda: len(asyncio.all_tasks()))


def check_no_leftovers_after_cancelled_streams(
    running: RunningServer, count: int, settle_s: float = 10
) -> None:
    channel, client = open_client(running)
    try:
        client.create_space("space-b")
        client.subscribe("default").cancel()  # warm up the channel
        tasks_before, fds_before = task_count(running), open_fds()
        for n in range(count):
            call = client.subscribe("default" if n % 2 else "space-b")
            call.cancel()
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline and running.call(running.hub.subscriber_count):
            time.sleep(0.01)
        assert running.call(running.hub.subscriber_count) == 0
        assert task_count(running) <= tasks_before
        assert open_fds() <= fds_before + 2
    finally:
        channel.close()


def test_cancelled_subscriptions_leave_nothing_behind(server: RunningServer) -> None:
    check_no_leftovers_after_cancelled_streams(server, 500)


@pytest.mark.parametrize("small_buffer_server", [ForgetfulHub], indirect=True)
def test_leftover_check_fails_on_a_hub_that_forgets_to_unsubscribe(
    small_buffer_server: RunningServer,
) -> None:
    with pytest.raises(AssertionError):
        check_no_leftovers_after_cancelled_streams(small_buffer_server, 20, settle_s=1)


def test_the_hub_refuses_an_empty_buffer() -> None:
    with pytest.raises(ValueError):
        EventHub(0)
