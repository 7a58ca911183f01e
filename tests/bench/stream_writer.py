"""The stream benchmark's writers, in a process of their own.

    python -m tests.bench.stream_writer ADDRESS COUNT SPACE [SPACE ...]

Connects, encodes COUNT StreamingRememberRequests per space and prints `ready`. Then, for each
line read on stdin, streams them into every space at once (one StreamingRemember call per
space) and prints `done`. `bench_server` runs it so that the client whose receiving rate is
measured does the same work against the reference server as against the bare echo: it only
reads its streams, and the writers do not share its interpreter.
"""

from __future__ import annotations

import asyncio
import sys

import grpc
import grpc.aio

from toolkit.schema.pool import load_schema

PATH = "/engram.v1.EngramService/StreamingRemember"


def requests(space: str, count: int) -> list[bytes]:
    schema = load_schema("current")
    memory = schema.message("engram.v1.Memory")
    request = schema.message("engram.v1.StreamingRememberRequest")
    return [
        request(
            memory=memory(id=f"s{n}", content="c" * 64, confidence=0.5), memory_space_id=space
        ).SerializeToString()
        for n in range(count)
    ]


async def serve_rounds(address: str, count: int, spaces: list[str]) -> None:
    encoded = {space: requests(space, count) for space in spaces}
    async with grpc.aio.insecure_channel(address) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        remember = channel.stream_unary(PATH)
        print("ready", flush=True)
        while await asyncio.to_thread(sys.stdin.readline):
            await asyncio.gather(*(remember(iter(encoded[space]), timeout=60) for space in spaces))
            print("done", flush=True)


def main() -> None:
    address, count, *spaces = sys.argv[1:]
    asyncio.run(serve_rounds(address, int(count), spaces))


if __name__ == "__main__":
    main()
