"""The bare grpc.aio echo server the server benchmark measures against, in a process of its own.

    python -m tests.bench.echo_server [--relay]

Binds 127.0.0.1 on a free port, prints `listening on HOST:PORT` (as `engram-compat serve`
does) and serves until SIGTERM or SIGINT. `bench.Echo/Echo` answers each request with its own
bytes; `bench.Echo/Stream` answers a request `N` with N encoded StreamResponses.

With `--relay` it is instead the floor of the fan-out, a diagnosis (no target): the least a
grpc.aio server can do to fan streamed writes out. It serves the reference server's
StreamingRemember and Stream paths, so the same writers and subscribers run against it; each
request read is relayed, as the echo's encoded StreamResponse, to every subscriber of the
space its call's first request names. Nothing is stored, decoded beyond that or bounded.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio

from toolkit.contract import ENGRAM_SERVICE
from toolkit.schema.pool import load_schema

SERVICE = "bench.Echo"


def stream_message() -> bytes:
    schema = load_schema("current")
    memory = schema.message("engram.v1.Memory")(
        id="0123456789abcdef", content="c" * 64, confidence=0.5
    )
    response = schema.message("engram.v1.StreamResponse")(event_type=1, memory=memory, sequence=1)
    response.timestamp.FromNanoseconds(time.time_ns())
    data: bytes = response.SerializeToString()
    return data


class _Relayed:
    """One relay subscriber: messages waiting, and its stream's wakeup."""

    def __init__(self) -> None:
        self.waiting: deque[bytes] = deque()
        self.wakeup: asyncio.Future[None] | None = None


def relay_handlers(message: bytes) -> dict[str, grpc.RpcMethodHandler]:
    schema = load_schema("current")
    stream_request = schema.message("engram.v1.StreamRequest")
    write_request = schema.message("engram.v1.StreamingRememberRequest")
    write_response = schema.message("engram.v1.StreamingRememberResponse")
    subscribers: dict[str, set[_Relayed]] = {}

    async def stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
        space = stream_request.FromString(request).memory_space_id
        subscriber = _Relayed()
        subscribers.setdefault(space, set()).add(subscriber)
        try:
            await context.send_initial_metadata(())
            while True:
                while subscriber.waiting:
                    yield subscriber.waiting.popleft()
                subscriber.wakeup = asyncio.get_running_loop().create_future()
                await subscriber.wakeup
        finally:
            subscribers[space].discard(subscriber)

    async def remember(requests: Any, context: Any) -> bytes:
        count, space = 0, None
        while (request := await context.read()) is not grpc.aio.EOF:
            if space is None:
                space = write_request.FromString(request).memory_space_id
            count += 1
            for subscriber in subscribers.get(space, ()):
                subscriber.waiting.append(message)
                wakeup = subscriber.wakeup
                if wakeup is not None and not wakeup.done():
                    wakeup.set_result(None)
        encoded: bytes = write_response(count=count).SerializeToString()
        return encoded

    return {
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
        "StreamingRemember": grpc.stream_unary_rpc_method_handler(remember),
    }


async def serve(relay: bool = False) -> None:
    message = stream_message()

    async def echo(request: bytes, context: Any) -> bytes:
        return request

    async def echo_stream(request: bytes, context: Any) -> Any:
        for _ in range(int(request.decode())):
            yield message

    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(echo),
        "Stream": grpc.unary_stream_rpc_method_handler(echo_stream),
    }
    if relay:
        generic = grpc.method_handlers_generic_handler(ENGRAM_SERVICE, relay_handlers(message))
    else:
        generic = grpc.method_handlers_generic_handler(SERVICE, handlers)
    server.add_generic_rpc_handlers((generic,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    await stop.wait()
    await server.stop(None)


if __name__ == "__main__":
    asyncio.run(serve(relay="--relay" in sys.argv[1:]))
