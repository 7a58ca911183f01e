"""What each RPC does, and that space A's data never shows through space B."""

from __future__ import annotations

import time
from typing import Any

import grpc
import pytest

from tests.server.calls import Collector
from tests.server.conftest import Client, start
from toolkit.contract import SPACE_HEADER
from toolkit.server.app import RunningServer


def test_remember_recall_forget_round_trip(client: Client) -> None:
    first = client.remember("the cat sat", memory_id="m-cat")
    second = client.remember("the dog ran")
    assert first == "m-cat" and second
    by_id = client.recall(memory_id="m-cat")
    assert [m.content for m in by_id.memories] == ["the cat sat"]
    by_text = client.recall(contains="the ")
    assert [m.id for m in by_text.memories] == ["m-cat", second]
    assert by_text.total_matched == 2
    limited = client.call(
        "Recall",
        client.msg("RecallRequest", cue=client.msg("Cue", content_contains="the"), max_results=1),
    )
    assert (len(limited.memories), limited.total_matched) == (1, 2)
    forgotten = client.call("Forget", client.msg("ForgetRequest", memory_id="m-cat"))
    assert forgotten.memories_affected == 1
    pattern = client.msg("Cue", content_contains="dog")
    soft = client.call("Forget", client.msg("ForgetRequest", pattern=pattern, soft_delete=True))
    assert soft.memories_affected == 1
    assert client.recall(contains="the").memories == []


def test_remember_requires_a_memory_or_episode(client: Client) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        client.call("Remember", client.msg("RememberRequest"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_experience_and_introspect(client: Client) -> None:
    episode = client.msg("Episode", what="met alice", where="lab", who=["alice"])
    response = client.call("Experience", client.msg("ExperienceRequest", episode=episode))
    assert response.episode_id
    remembered = client.call("Remember", client.msg("RememberRequest", episode=episode))
    assert remembered.memory_id
    client.remember("one")
    intro = client.call("Introspect", client.msg("IntrospectRequest"))
    assert intro.schema_version == "1.1.0"
    assert intro.memory_count == 1
    assert intro.default_memory_space_id == intro.resolved_memory_space_id == "default"


def test_streaming_remember_stores_the_whole_client_stream(client: Client) -> None:
    client.create_space("team-a")
    requests = [
        client.msg(
            "StreamingRememberRequest",
            memory=client.msg("Memory", content=f"item {n}"),
            memory_space_id="team-a" if n == 0 else "",
        )
        for n in range(5)
    ]
    response = client.call("StreamingRemember", iter(requests))
    assert response.count == 5 and len(response.memory_ids) == 5
    assert client.recall("team-a", contains="item").total_matched == 5
    assert client.recall(contains="item").total_matched == 0


def test_a_client_stream_cannot_switch_space(client: Client) -> None:
    client.create_space("team-a")
    client.create_space("team-b")
    requests = [
        client.msg("StreamingRememberRequest", memory=client.msg("Memory"), memory_space_id=s)
        for s in ("team-a", "team-b")
    ]
    with pytest.raises(grpc.RpcError) as caught:
        client.call("StreamingRemember", iter(requests))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "team-b" not in caught.value.details()


def test_memory_flow_serves_remember_and_recall_in_one_space(client: Client) -> None:
    client.create_space("team-a")
    remember = client.msg("RememberRequest", memory=client.msg("Memory", content="flowing"))
    recall = client.msg("RecallRequest", cue=client.msg("Cue", content_contains="flow"))
    requests = [
        client.msg("MemoryFlowRequest", remember=remember, memory_space_id="team-a"),
        client.msg("MemoryFlowRequest", recall=recall),
    ]
    answers = list(client.rpc("MemoryFlow")(iter(requests), timeout=10))
    assert answers[0].remember.memory_id
    assert [m.content for m in answers[1].recall.memories] == ["flowing"]
    switch = [
        client.msg("MemoryFlowRequest", recall=recall, memory_space_id="team-a"),
        client.msg("MemoryFlowRequest", recall=recall, memory_space_id="default"),
    ]
    with pytest.raises(grpc.RpcError) as caught:
        list(client.rpc("MemoryFlow")(iter(switch), timeout=10))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_undecodable_bytes_get_invalid_argument(client: Client) -> None:
    raw = client.channel.unary_unary("/engram.v1.EngramService/Remember")
    with pytest.raises(grpc.RpcError) as caught:
        raw(b"\x0a\xff\xff\xff", timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_space_service_lifecycle(client: Client, server: RunningServer) -> None:
    created = client.create_space("team-a")
    assert created.created and created.space.id == "team-a"
    assert created.space.persistence_path.endswith("spaces/team-a")
    assert not client.create_space("team-a").created
    client.remember("x", "team-a")
    got = client.call("GetSpace", client.msg("GetSpaceRequest", memory_space_id="team-a"))
    assert got.space.memory_count == 1
    listed = client.call("ListSpaces", client.msg("ListSpacesRequest"))
    assert [s.id for s in listed.spaces] == ["default", "team-a"]
    stream = client.subscribe("team-a")
    deleted = client.call("DeleteSpace", client.msg("DeleteSpaceRequest", memory_space_id="team-a"))
    assert deleted.deleted
    with pytest.raises(grpc.RpcError) as ended:  # issue 13 item 3: not OK, NOT_FOUND
        list(stream)
    assert ended.value.code() == grpc.StatusCode.NOT_FOUND
    assert ended.value.details() == "memory space team-a was deleted"
    assert not (server.registry.spaces_dir / "team-a").exists()
    with pytest.raises(grpc.RpcError) as caught:
        client.call("DeleteSpace", client.msg("DeleteSpaceRequest", memory_space_id="default"))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as caught:
        client.call("GetSpace", client.msg("GetSpaceRequest", memory_space_id="team-a"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def read_everything(client: Client, space: str, metadata: Any = ()) -> dict[str, Any]:
    """Every read RPC's view of `space`, by field and by header."""
    header = [(SPACE_HEADER, space)]
    cue = client.msg("Cue", content_contains="")
    views: dict[str, Any] = {
        "recall": client.recall(space, contains="").memories,
        "recall_header": client.call(
            "Recall", client.msg("RecallRequest", cue=cue, max_results=1000), metadata=header
        ).memories,
        "introspect": client.call(
            "Introspect", client.msg("IntrospectRequest", memory_space_id=space)
        ).memory_count,
        "space": client.call(
            "GetSpace", client.msg("GetSpaceRequest", memory_space_id=space)
        ).space.memory_count,
    }
    flow = client.msg("MemoryFlowRequest", recall=client.msg("RecallRequest", cue=cue))
    flow.memory_space_id = space
    answers = list(client.rpc("MemoryFlow")(iter([flow])))
    views["flow"] = answers[0].recall.memories
    return views


def test_data_of_space_a_is_invisible_from_space_b(client: Client) -> None:
    client.create_space("space-a")
    client.create_space("space-b")
    stream_b = Collector(client.subscribe("space-b"))
    secret = client.remember("secret of a", "space-a", memory_id="shared-id")
    client.call(
        "Experience",
        client.msg(
            "ExperienceRequest", episode=client.msg("Episode", what="a"), memory_space_id="space-a"
        ),
    )
    views_b = read_everything(client, "space-b")
    assert views_b == {"recall": [], "recall_header": [], "introspect": 0, "space": 0, "flow": []}
    assert client.recall("space-b", memory_id=secret).memories == []
    forgotten = client.call(
        "Forget", client.msg("ForgetRequest", memory_id=secret, memory_space_id="space-b")
    )
    assert forgotten.memories_affected == 0
    time.sleep(0.2)
    stream_b.stop()
    assert stream_b.seen == []
    views_a = read_everything(client, "space-a")
    assert views_a["introspect"] == views_a["space"] == 1
    assert [m.id for m in views_a["recall"]] == ["shared-id"]


def test_legacy_schema_serves_one_space_without_deprecation(tmp_path: Any) -> None:
    from toolkit.schema.pool import load_schema

    running = start(tmp_path / "data", schema="legacy")
    channel = grpc.insecure_channel(running.address)
    try:
        new = Client(channel)
        old = Client(channel, load_schema("legacy"))
        # A new client naming a space: the old server ignores the unknown field.
        _, call = new.with_call(
            "Remember",
            new.msg(
                "RememberRequest", memory=new.msg("Memory", content="hi"), memory_space_id="x-y"
            ),
        )
        assert dict(call.initial_metadata() or ()) == {}
        intro = old.call("Introspect", old.msg("IntrospectRequest"))
        assert intro.memory_count == 1 and intro.schema_version == "1.0.0"
        with pytest.raises(grpc.RpcError) as caught:
            new.create_space("team-a")
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        channel.close()
        running.stop()


def test_health_and_reflection(server: RunningServer) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "engram.v1.EngramService", "engram.v1.MemorySpaceService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        listed = next(iter(stub.ServerReflectionInfo(iter([request]), timeout=5)))
        names = {s.name for s in listed.list_services_response.service}
        assert {"engram.v1.EngramService", "engram.v1.MemorySpaceService"} <= names
        symbol = reflection_pb2.ServerReflectionRequest(file_containing_symbol="engram.v1.Memory")
        found = next(iter(stub.ServerReflectionInfo(iter([symbol]), timeout=5)))
        assert found.file_descriptor_response.file_descriptor_proto
