"""Invoke any space-naming RPC with a chosen space, whatever its streaming kind."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import grpc

from tests.server.conftest import Client, Metadata


def request_for(client: Client, rpc: str, space: str) -> Any:
    """A valid request of `rpc` naming `space` (for client streams: the first message)."""
    memory = client.msg("Memory", content="probe")
    if rpc == "Remember":
        return client.msg("RememberRequest", memory=memory, memory_space_id=space)
    if rpc == "Recall":
        return client.msg(
            "RecallRequest", cue=client.msg("Cue", content_contains="p"), memory_space_id=space
        )
    if rpc == "Forget":
        return client.msg("ForgetRequest", memory_id="none", memory_space_id=space)
    if rpc == "Experience":
        episode = client.msg("Episode", what="probe")
        return client.msg("ExperienceRequest", episode=episode, memory_space_id=space)
    if rpc == "Introspect":
        return client.msg("IntrospectRequest", memory_space_id=space)
    if rpc == "Stream":
        return client.msg("StreamRequest", memory_space_id=space)
    if rpc == "StreamingRemember":
        return client.msg("StreamingRememberRequest", memory=memory, memory_space_id=space)
    if rpc == "MemoryFlow":
        recall = client.msg("RecallRequest", cue=client.msg("Cue", content_contains="p"))
        return client.msg("MemoryFlowRequest", recall=recall, memory_space_id=space)
    if rpc in ("CreateSpace", "GetSpace", "DeleteSpace"):
        return client.msg(f"{rpc}Request", memory_space_id=space)
    raise KeyError(rpc)


def invoke(client: Client, rpc: str, request: Any, metadata: Metadata = ()) -> Any:
    """Call `rpc` once and return the finished call (its `.code()`, metadata, details).

    A Stream that opened fine is cancelled once its headers arrived (it would wait forever).
    """
    callable_ = client.rpc(rpc)
    if rpc == "Stream":
        call = callable_(request, metadata=metadata, timeout=10)
        call.initial_metadata()
        call.cancel()
        return call
    if rpc == "StreamingRemember":
        _, call = _with_call(callable_, iter([request]), metadata)
        return call
    if rpc == "MemoryFlow":
        call = callable_(iter([request]), metadata=metadata, timeout=10)
        with contextlib.suppress(grpc.RpcError):
            list(call)
        return call
    _, call = _with_call(callable_, request, metadata)
    return call


def _with_call(callable_: Any, request: Any, metadata: Metadata) -> tuple[Any, Any]:
    try:
        result: tuple[Any, Any] = callable_.with_call(request, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return None, error
    return result


class Collector:
    """Reads a stream on a thread and keeps every (sequence, memory id) it sees."""

    def __init__(self, call: Any) -> None:
        self.call = call
        self.seen: list[tuple[int, str]] = []
        self.code: grpc.StatusCode | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for response in self.call:
                self.seen.append((response.sequence, response.memory.id))
        except grpc.RpcError as error:
            self.code = error.code()

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.005)

    def stop(self) -> None:
        self.call.cancel()
        self._thread.join(10)
