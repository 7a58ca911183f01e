"""Fixtures of the server tests: a real server on loopback, a client built from a schema pool."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest

from toolkit.contract import ENGRAM_RPC_NAMES, ENGRAM_SERVICE_NAME
from toolkit.schema.pool import Schema, load_schema
from toolkit.server.app import RunningServer, ServerConfig, ServerOverrides, start_server_thread

Metadata = Sequence[tuple[str, str]]

# Every RPC with a request that names a space, as (service, rpc): the contract's one list.
SPACE_RPCS = tuple((ENGRAM_SERVICE_NAME, name) for name in ENGRAM_RPC_NAMES)


class Client:
    """Calls any RPC of a schema by name with messages built from that schema's pool."""

    def __init__(self, channel: grpc.Channel, schema: Schema | None = None) -> None:
        self.channel = channel
        self.schema = schema or load_schema("current")

    def msg(self, name: str, **fields: Any) -> Any:
        return self.schema.message(f"engram.v1.{name}")(**fields)

    def rpc(self, name: str) -> Any:
        for method in self.schema.methods():
            if method.name == name:
                return self.schema.callable(self.channel, method)
        raise KeyError(name)

    def call(self, name: str, request: Any, metadata: Metadata = (), timeout: float = 10) -> Any:
        response, _ = self.rpc(name).with_call(request, metadata=metadata, timeout=timeout)
        return response

    def with_call(
        self, name: str, request: Any, metadata: Metadata = (), timeout: float = 10
    ) -> tuple[Any, Any]:
        result: tuple[Any, Any] = self.rpc(name).with_call(
            request, metadata=metadata, timeout=timeout
        )
        return result

    def create_space(self, space: str) -> Any:
        return self.call("CreateSpace", self.msg("CreateSpaceRequest", memory_space_id=space))

    def remember(self, content: str, space: str = "", memory_id: str = "") -> str:
        request = self.msg(
            "RememberRequest",
            memory=self.msg("Memory", id=memory_id, content=content),
            memory_space_id=space,
        )
        memory_id_out: str = self.call("Remember", request).memory_id
        return memory_id_out

    def recall(self, space: str = "", contains: str | None = None, memory_id: str = "") -> Any:
        cue = (
            self.msg("Cue", id=memory_id)
            if memory_id
            else self.msg("Cue", content_contains=contains or "")
        )
        return self.call(
            "Recall", self.msg("RecallRequest", cue=cue, max_results=100000, memory_space_id=space)
        )

    def subscribe(self, space: str = "", metadata: Metadata = (), timeout: float = 60) -> Any:
        """Open a Stream and wait until the server has registered the subscription."""
        call = self.rpc("Stream")(
            self.msg("StreamRequest", memory_space_id=space), metadata=metadata, timeout=timeout
        )
        call.initial_metadata()
        return call


def start(data_dir: Path, overrides: ServerOverrides | None = None, **config: Any) -> RunningServer:
    return start_server_thread(ServerConfig(data_dir=data_dir, **config), overrides=overrides)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def server(data_dir: Path) -> Iterator[RunningServer]:
    running = start(data_dir)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def client(server: RunningServer) -> Iterator[Client]:
    channel = grpc.insecure_channel(server.address)
    try:
        yield Client(channel)
    finally:
        channel.close()


def status_of(call: Any) -> grpc.StatusCode:
    """The status a call ended with (works for unary errors and stream calls alike)."""
    code: grpc.StatusCode = call.code()
    return code
