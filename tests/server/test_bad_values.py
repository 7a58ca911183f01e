"""Issue 13 item 4: bad values are the caller's error, and only the caller's."""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2

from tests.server.calls import invoke
from tests.server.conftest import Client
from tests.server.test_routing import details_of
from toolkit.contract import SPACE_HEADER
from toolkit.server.app import RunningServer
from toolkit.server.store import SpaceStore, StoredMemory
from toolkit.server.writes import Outcome, commit_group

TOO_FAR = 10**12  # seconds: year ~33,658, beyond what 64-bit nanoseconds hold


def violations(call: grpc.Call) -> list[str]:
    return [
        violation.field
        for detail in details_of(call)
        if isinstance(detail, error_details_pb2.BadRequest)
        for violation in detail.field_violations
    ]


def remember_request(client: Client, **memory: Any) -> Any:
    return client.msg("RememberRequest", memory=client.msg("Memory", **memory))


@pytest.mark.parametrize("confidence", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("rpc", ["Remember", "StreamingRemember", "MemoryFlow"])
def test_a_confidence_that_is_not_finite_is_invalid(
    client: Client, rpc: str, confidence: float
) -> None:
    memory = client.msg("Memory", content="x", confidence=confidence)
    if rpc == "Remember":
        request = client.msg("RememberRequest", memory=memory)
    elif rpc == "StreamingRemember":
        request = client.msg("StreamingRememberRequest", memory=memory)
    else:
        remember = client.msg("RememberRequest", memory=memory)
        request = client.msg("MemoryFlowRequest", remember=remember)
    call = invoke(client, rpc, request)
    assert call.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(call) == ["memory.confidence"]


def test_timestamps_out_of_range_are_invalid(client: Client) -> None:
    memory = client.msg("Memory", content="x")
    memory.created_at.seconds = TOO_FAR
    call = invoke(client, "Remember", client.msg("RememberRequest", memory=memory))
    assert call.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(call) == ["memory.created_at"]
    episode = client.msg("Episode", what="x")
    episode.when.seconds = -TOO_FAR
    call = invoke(client, "Experience", client.msg("ExperienceRequest", episode=episode))
    assert call.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(call) == ["episode.when"]
    # The edge of the range is fine.
    memory.created_at.seconds = 9_000_000_000  # year 2255
    assert invoke(client, "Remember", client.msg("RememberRequest", memory=memory)).code() == (
        grpc.StatusCode.OK
    )


def test_an_oversized_event_types_list_is_invalid(client: Client) -> None:
    request = client.msg("StreamRequest", event_types=[1] * 1000)
    call = client.rpc("Stream")(request, timeout=10)
    with pytest.raises(grpc.RpcError):
        list(call)
    assert call.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(call) == ["event_types"]


def test_two_space_headers_with_different_values_are_invalid(client: Client) -> None:
    client.create_space("team-a")
    request = client.msg("IntrospectRequest")
    two = ((SPACE_HEADER, "team-a"), (SPACE_HEADER, "default"))
    call = invoke(client, "Introspect", request, two)
    assert call.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert violations(call) == [SPACE_HEADER]
    same = ((SPACE_HEADER, "team-a"), (SPACE_HEADER, "team-a"))
    response = client.call("Introspect", request, same)
    assert response.resolved_memory_space_id == "team-a"


def commit_group_as_before(writes: Sequence[tuple[SpaceStore, StoredMemory]]) -> list[Outcome]:
    """Deliberately broken: the group's one statement fails every write in it."""
    outcomes: list[Outcome] = [memory for _, memory in writes]
    store = writes[0][0]
    try:
        store.remember_many([memory for _, memory in writes])
    except Exception as exc:
        outcomes = [exc] * len(writes)
    return outcomes


@pytest.mark.parametrize("broken", [False, True], ids=["product", "broken-variant"])
def test_one_bad_write_fails_only_itself_in_a_group_commit(tmp_path: Path, broken: bool) -> None:
    store = SpaceStore.open(tmp_path / "space")
    good = [StoredMemory(f"g{n}", "fine", 0.5, (), 1) for n in range(4)]
    bad = StoredMemory("bad", "nan", math.nan, (), 1)  # past validation: NOT NULL fails
    writes = [(store, good[0]), (store, good[1]), (store, bad), (store, good[2]), (store, good[3])]
    outcomes = (commit_group_as_before if broken else commit_group)(writes)
    failed = [i for i, outcome in enumerate(outcomes) if isinstance(outcome, Exception)]
    if broken:
        assert failed == [0, 1, 2, 3, 4]  # the check below can fail
    else:
        assert failed == [2]
        assert sorted(m.id for m in store.find()[0]) == ["g0", "g1", "g2", "g3"]
    store.close()


def test_a_nan_writer_never_fails_other_streaming_writers(server: RunningServer) -> None:
    results: dict[str, grpc.StatusCode] = {}

    def writer(name: str, confidence: float) -> None:
        with grpc.insecure_channel(server.address) as channel:
            client = Client(channel)
            requests = (
                client.msg(
                    "StreamingRememberRequest",
                    memory=client.msg("Memory", content=f"{name} {n}", confidence=confidence),
                )
                for n in range(200)
            )
            try:
                client.rpc("StreamingRemember")(requests, timeout=30)
                results[name] = grpc.StatusCode.OK
            except grpc.RpcError as error:
                results[name] = error.code()

    threads = [threading.Thread(target=writer, args=(f"w{n}", 0.5)) for n in range(6)]
    threads += [threading.Thread(target=writer, args=(f"nan{n}", math.nan)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert {k: v for k, v in results.items() if k.startswith("w")} == {
        f"w{n}": grpc.StatusCode.OK for n in range(6)
    }
    assert results["nan0"] == results["nan1"] == grpc.StatusCode.INVALID_ARGUMENT


def test_a_streaming_error_says_how_many_writes_were_committed(client: Client) -> None:
    """Issue 13 item 6 (its last part): an error after committed writes says how many."""
    client.create_space("team-a")
    good = [
        client.msg(
            "StreamingRememberRequest",
            memory=client.msg("Memory", id=f"g{n}", content="fine", confidence=0.5),
            memory_space_id="team-a",
        )
        for n in range(5)
    ]
    bad = client.msg(
        "StreamingRememberRequest", memory=client.msg("Memory", content="x", confidence=math.nan)
    )
    with pytest.raises(grpc.RpcError) as caught:
        client.rpc("StreamingRemember")(iter([*good, bad]), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "5 of the 5 memories this call sent before were committed" in (
        caught.value.details() or ""
    )
    stored = client.recall("team-a", contains="fine").memories
    assert sorted(m.id for m in stored) == [f"g{n}" for n in range(5)]
