"""The bare grpc.aio echo server the server benchmark measures against, in a process of its own.

    python -m tests.bench.echo_server

Binds 127.0.0.1 on a free port, prints `listening on HOST:PORT` (as `engram-compat serve`
does) and serves until SIGTERM or SIGINT. `bench.Echo/Echo` answers each request with its own
bytes; `bench.Echo/Stream` answers a request `N` with N encoded StreamResponses.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import grpc
import grpc.aio

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


async def serve() -> None:
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
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
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
    asyncio.run(serve())
