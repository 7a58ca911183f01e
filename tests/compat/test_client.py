"""The space-naming channel wrapper, against a real gRPC server that shows what it received."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from toolkit.client import MissingSpaceError, configured_space, space_channel
from toolkit.contract import ENGRAM_SERVICE, PACKAGE, RPC_BY_NAME, SPACE_ENV, SPACE_HEADER
from toolkit.schema.pool import load_schema

REMEMBER = RPC_BY_NAME["Remember"].path
STREAMING_REMEMBER = RPC_BY_NAME["StreamingRemember"].path
STREAM = RPC_BY_NAME["Stream"].path
MEMORY_FLOW = RPC_BY_NAME["MemoryFlow"].path


@dataclass
class Received:
    headers: list[dict[str, str]] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)


def _echo_server(received: Received) -> tuple[grpc.Server, int]:
    def headers(context: grpc.ServicerContext) -> None:
        received.headers.append(dict(context.invocation_metadata()))

    def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
        headers(context)
        received.requests.append(request)
        return b""

    def client_stream(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        headers(context)
        received.requests.extend(requests)
        return b""

    def server_stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        unary(request, context)
        yield b""

    def bidi(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[bytes]:
        headers(context)
        for request in requests:
            received.requests.append(request)
            yield b""

    handler = grpc.method_handlers_generic_handler(
        ENGRAM_SERVICE,
        {
            "Remember": grpc.unary_unary_rpc_method_handler(unary),
            "StreamingRemember": grpc.stream_unary_rpc_method_handler(client_stream),
            "Stream": grpc.unary_stream_rpc_method_handler(server_stream),
            "MemoryFlow": grpc.stream_stream_rpc_method_handler(bidi),
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


@pytest.fixture
def echo() -> Iterator[tuple[Received, grpc.Channel]]:
    received = Received()
    server, port = _echo_server(received)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield received, channel
    finally:
        channel.close()
        server.stop(None)


def _call(channel: grpc.Channel, kind: str, path: str, schema: str, message: str) -> Any:
    cls = load_schema(schema).message(f"{PACKAGE}.{message}")  # type: ignore[arg-type]
    factory = getattr(channel, kind)(
        path, request_serializer=cls.SerializeToString, response_deserializer=lambda b: b
    )
    return cls, factory


def _field(schema: str, message: str, wire: bytes) -> str:
    cls = load_schema(schema).message(f"{PACKAGE}.{message}")  # type: ignore[arg-type]
    return str(cls.FromString(wire).memory_space_id)


def test_unary_call_carries_header_and_field(echo: tuple[Received, grpc.Channel]) -> None:
    received, channel = echo
    cls, remember = _call(
        space_channel(channel, "team-a"), "unary_unary", REMEMBER, "current", "RememberRequest"
    )
    request = cls(auto_link=True)
    remember(request)
    assert received.headers[0][SPACE_HEADER] == "team-a"
    assert _field("current", "RememberRequest", received.requests[0]) == "team-a"
    assert request.memory_space_id == "", "the caller's message must not be modified"


def test_every_streaming_request_carries_the_field(echo: tuple[Received, grpc.Channel]) -> None:
    received, channel = echo
    wrapped = space_channel(channel, "team-b")
    cls, streaming = _call(
        wrapped, "stream_unary", STREAMING_REMEMBER, "current", "StreamingRememberRequest"
    )
    streaming(iter([cls(), cls()]))
    flow_cls, flow = _call(wrapped, "stream_stream", MEMORY_FLOW, "current", "MemoryFlowRequest")
    list(flow(iter([flow_cls(), flow_cls()])))
    stream_cls, stream = _call(wrapped, "unary_stream", STREAM, "current", "StreamRequest")
    list(stream(stream_cls()))
    assert [h[SPACE_HEADER] for h in received.headers] == ["team-b"] * 3
    fields = [
        _field("current", "StreamingRememberRequest", received.requests[0]),
        _field("current", "StreamingRememberRequest", received.requests[1]),
        _field("current", "MemoryFlowRequest", received.requests[2]),
        _field("current", "MemoryFlowRequest", received.requests[3]),
        _field("current", "StreamRequest", received.requests[4]),
    ]
    assert fields == ["team-b"] * 5


def test_legacy_messages_get_only_the_header(echo: tuple[Received, grpc.Channel]) -> None:
    received, channel = echo
    cls, remember = _call(
        space_channel(channel, "team-c"), "unary_unary", REMEMBER, "legacy", "RememberRequest"
    )
    remember(cls(auto_link=True))
    assert received.headers[0][SPACE_HEADER] == "team-c"
    assert received.requests[0] == cls(auto_link=True).SerializeToString()


def test_a_field_set_by_the_caller_wins_and_the_header_follows_it(
    echo: tuple[Received, grpc.Channel],
) -> None:
    received, channel = echo
    cls, remember = _call(
        space_channel(channel, "team-a"), "unary_unary", REMEMBER, "current", "RememberRequest"
    )
    remember(cls(memory_space_id="team-z"))
    assert received.headers[0][SPACE_HEADER] == "team-z"
    assert _field("current", "RememberRequest", received.requests[0]) == "team-z"


def test_header_only_mode(echo: tuple[Received, grpc.Channel]) -> None:
    received, channel = echo
    wrapped = space_channel(channel, "team-h", set_field=False)
    cls, remember = _call(wrapped, "unary_unary", REMEMBER, "current", "RememberRequest")
    remember(cls())
    assert received.headers[0][SPACE_HEADER] == "team-h"
    assert _field("current", "RememberRequest", received.requests[0]) == ""


def test_space_comes_from_the_environment(
    echo: tuple[Received, grpc.Channel], monkeypatch: pytest.MonkeyPatch
) -> None:
    received, channel = echo
    monkeypatch.setenv(SPACE_ENV, "from-env")
    cls, remember = _call(
        space_channel(channel), "unary_unary", REMEMBER, "current", "RememberRequest"
    )
    remember(cls())
    assert received.headers[0][SPACE_HEADER] == "from-env"
    assert configured_space("explicit", {SPACE_ENV: "from-env"}) == "explicit"


def test_no_space_at_all_is_an_error(echo: tuple[Received, grpc.Channel]) -> None:
    _, channel = echo
    with pytest.raises(MissingSpaceError, match=SPACE_ENV):
        space_channel(channel, environ={})
