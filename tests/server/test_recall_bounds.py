"""Issue 13 item 6: Recall answers bounded by result count and by bytes, the bound signalled
(`TRUNCATED_HEADER`); `SpaceStore.scan` (the off-loop search) answers as `find` does; and a
StreamingRemember error after committed writes says how many were committed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from tests.server.conftest import Client
from toolkit.contract import TRUNCATED_HEADER
from toolkit.server import engram_service
from toolkit.server.app import RunningServer
from toolkit.server.store import SpaceStore, StoredMemory

BIG = "b" * 100_000  # 60 of them: 6 MB of matches, over the client's 4 MiB receive limit


def truncated(call: grpc.Call) -> int | None:
    for key, value in call.trailing_metadata() or ():
        if key == TRUNCATED_HEADER:
            return int(value)
    return None


def recall_big(client: Client) -> tuple[int, int, int | None]:
    """Recall every big memory of `big` under the default receive limit: returned, matched,
    omitted (the trailing header)."""
    request = client.msg(
        "RecallRequest",
        cue=client.msg("Cue", content_contains="bbb"),
        max_results=1000,
        memory_space_id="big",
    )
    response, call = client.with_call("Recall", request)
    return len(response.memories), response.total_matched, truncated(call)


def fill_big(client: Client) -> None:
    client.create_space("big")
    for n in range(60):
        client.remember(BIG, "big", memory_id=f"big-{n}")


def test_a_recall_answer_stays_under_the_receive_limit_and_says_what_it_left_out(
    client: Client,
) -> None:
    fill_big(client)
    returned, matched, omitted = recall_big(client)
    assert matched == 60
    assert 0 < returned < 60
    assert omitted == 60 - returned
    assert returned * len(BIG) <= engram_service.MAX_RECALL_BYTES
    # Not cut short: no header.
    small = client.msg("RecallRequest", cue=client.msg("Cue", id="big-3"), memory_space_id="big")
    response, call = client.with_call("Recall", small)
    assert len(response.memories) == 1 and truncated(call) is None


def test_the_byte_bound_check_fails_without_the_bound(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_big(client)
    monkeypatch.setattr(engram_service, "MAX_RECALL_BYTES", 1 << 40)  # broken: no byte bound
    with pytest.raises(grpc.RpcError) as caught:
        recall_big(client)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # the client's limit


def test_a_recall_answer_is_bounded_in_count(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engram_service, "MAX_RECALL_RESULTS", 7)
    client.create_space("many")
    for n in range(20):
        client.remember(f"item {n}", "many")
    request = client.msg(
        "RecallRequest",
        cue=client.msg("Cue", content_contains="item"),
        max_results=100,
        memory_space_id="many",
    )
    response, call = client.with_call("Recall", request)
    assert (len(response.memories), response.total_matched, truncated(call)) == (7, 20, 13)
    # A request that asks for fewer than the bound is not cut short by the server.
    request.max_results = 5
    response, call = client.with_call("Recall", request)
    assert len(response.memories) == 5 and truncated(call) is None


def test_memory_flow_recalls_are_bounded_too(client: Client) -> None:
    fill_big(client)
    recall = client.msg(
        "RecallRequest", cue=client.msg("Cue", content_contains="bbb"), max_results=1000
    )
    call = client.rpc("MemoryFlow")(
        iter([client.msg("MemoryFlowRequest", recall=recall, memory_space_id="big")]),
        timeout=30,
    )
    answers = list(call)
    returned = len(answers[0].recall.memories)
    assert 0 < returned < 60 and truncated(call) == 60 - returned


# --- scan answers as find does -----------------------------------------------------------


def memory(memory_id: str, content: str, confidence: float = 0.5) -> StoredMemory:
    return StoredMemory(memory_id, content, confidence, (0.25, 0.5), 1)


def test_scan_answers_as_find(tmp_path: Path) -> None:
    store = SpaceStore.open(tmp_path / "space")
    try:
        store.remember_many([memory(f"m{n}", f"text {n} é", n / 40) for n in range(40)])
        store.remember(memory("m3", "text 3 upserted keeps its place", 0.9))
        store.forget(["m5", "m6"], soft=True)
        store.forget(["m7"], soft=False)
        store.remember(memory("m7", "text 7 back at the end", 0.9))
        for needle in ("text", "1", "é", "", "upserted", "absent", None):
            for threshold in (0.0, 0.5):
                for limit in (None, 3):
                    kwargs = {
                        "content_contains": needle,
                        "min_confidence": threshold,
                        "limit": limit,
                    }
                    assert store.scan(**kwargs) == store.find(**kwargs), kwargs
    finally:
        store.close()


# --- StreamingRemember says what it committed ----------------------------------------------


def test_a_stream_ended_by_a_deleted_space_says_how_many_were_committed(
    server: RunningServer, client: Client
) -> None:
    client.create_space("doomed")
    first_sent = threading.Event()
    go_on = threading.Event()

    def requests() -> Iterator[object]:
        for n in range(5):
            yield client.msg(
                "StreamingRememberRequest",
                memory=client.msg("Memory", id=f"d{n}", content="kept"),
                memory_space_id="doomed",
            )
        first_sent.set()
        go_on.wait(20)
        yield client.msg("StreamingRememberRequest", memory=client.msg("Memory", content="late"))

    result: list[grpc.RpcError] = []

    def call() -> None:
        try:
            client.rpc("StreamingRemember")(requests(), timeout=30)
        except grpc.RpcError as error:
            result.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    assert first_sent.wait(20)
    # Wait until the five are committed, then delete the space under the open call.
    for _ in range(200):
        if len(client.recall("doomed", contains="kept").memories) == 5:
            break
        threading.Event().wait(0.02)
    client.call("DeleteSpace", client.msg("DeleteSpaceRequest", memory_space_id="doomed"))
    go_on.set()
    thread.join(30)
    assert result, "the call should have ended in an error"
    error = result[0]
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert "5 of the 6 memories this call sent before were committed" in (error.details() or "")
