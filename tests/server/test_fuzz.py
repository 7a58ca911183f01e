"""Random and mutated bytes to every method: every call gets a status, the server stays up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.broken_servers import CrashingResolver
from tests.server.calls import request_for
from tests.server.conftest import Client, start
from toolkit.schema.pool import load_schema
from toolkit.server.app import RunningServer, ServerOverrides

SCHEMA = load_schema("current")
# A status the server did not choose: an exception escaped, or the server went away.
UNHANDLED = (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE)
METHODS = SCHEMA.methods()
VALID_SAMPLES = [
    request_for(Client(None, SCHEMA), m.name, space).SerializeToString()  # type: ignore[arg-type]
    for m in METHODS
    if m.name != "ListSpaces"
    for space in ("", "default", "ghost-space")
]


@pytest.fixture(scope="module")
def fuzz_target(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningServer, grpc.Channel]]:
    data: Path = tmp_path_factory.mktemp("fuzz") / "data"
    running = start(data)
    channel = grpc.insecure_channel(running.address)
    try:
        yield running, channel
    finally:
        channel.close()
        running.stop()


def mutated(sample: bytes, data: st.DataObject) -> bytes:
    if not sample:
        return data.draw(st.binary(max_size=32))
    position = data.draw(st.integers(0, len(sample) - 1))
    action = data.draw(st.sampled_from(["flip", "truncate", "insert", "duplicate"]))
    if action == "flip":
        byte = data.draw(st.integers(0, 255))
        return sample[:position] + bytes([byte]) + sample[position + 1 :]
    if action == "truncate":
        return sample[:position]
    if action == "insert":
        return sample[:position] + data.draw(st.binary(min_size=1, max_size=8)) + sample[position:]
    return sample + sample


def send(channel: grpc.Channel, path: str, kind: str, payloads: list[bytes]) -> grpc.StatusCode:
    """Send raw bytes (no serializer) and return the status the call ended with."""
    factory = getattr(channel, kind)
    call_ = factory(path)
    try:
        if kind == "unary_unary":
            _, call = call_.with_call(payloads[0], timeout=10)
            return call.code()  # type: ignore[no-any-return]
        if kind == "stream_unary":
            _, call = call_.with_call(iter(payloads), timeout=10)
            return call.code()  # type: ignore[no-any-return]
        if kind == "unary_stream":
            stream = call_(payloads[0], timeout=10)
            stream.initial_metadata()  # returns once headers or the status arrive
            stream.cancel()
            return stream.code()  # type: ignore[no-any-return]
        stream = call_(iter(payloads), timeout=10)
        for _ in stream:
            pass
        return stream.code()  # type: ignore[no-any-return]
    except grpc.RpcError as error:
        return error.code()  # type: ignore[no-any-return]


@settings(
    max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(METHODS),
    data=st.data(),
)
def test_random_and_mutated_bytes_always_get_a_status(
    fuzz_target: tuple[RunningServer, grpc.Channel], method: object, data: st.DataObject
) -> None:
    _, channel = fuzz_target
    count = 1 if not method.kind.startswith("stream") else data.draw(st.integers(1, 3))
    payloads = []
    for _ in range(count):
        if data.draw(st.booleans()):
            payloads.append(data.draw(st.binary(max_size=96)))
        else:
            payloads.append(mutated(data.draw(st.sampled_from(VALID_SAMPLES)), data))
    code = send(channel, method.path, method.kind, payloads)
    assert isinstance(code, grpc.StatusCode)
    assert code not in UNHANDLED


def test_the_fuzz_oracle_catches_a_server_that_lets_an_exception_escape(tmp_path: Path) -> None:
    running = start(tmp_path / "data", ServerOverrides(resolver=CrashingResolver))
    try:
        with grpc.insecure_channel(running.address) as channel:
            method = SCHEMA.method("EngramService", "Recall")
            sample = request_for(Client(None, SCHEMA), "Recall", "ghost-space")  # type: ignore[arg-type]
            code = send(channel, method.path, method.kind, [sample.SerializeToString()])
    finally:
        running.stop()
    assert code in UNHANDLED


def test_the_server_is_still_serving_after_the_fuzz(
    fuzz_target: tuple[RunningServer, grpc.Channel],
) -> None:
    _, channel = fuzz_target
    answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
    client = Client(channel)
    assert client.remember("still here", "default")
