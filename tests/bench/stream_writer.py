"""The stream benchmark's writers, in a process of their own.

    python -m tests.bench.stream_writer ADDRESS COUNT SPACE [SPACE ...] [--grpc]

Connects, encodes COUNT StreamingRememberRequests per space and prints `ready`. Then, for each
line read on stdin, streams them into every space at once (one StreamingRemember call per
space, all on one connection), checks that each answer counts COUNT memories, and prints
`done`. `bench_server` runs it so that the client whose receiving rate is measured does the
same work against the reference server as against the bare echo: it only reads its streams,
and the writers do not share its interpreter.

The writers share the machine's two cores with both servers and the measuring client, though,
and a grpc.aio client spends about as much CPU on each message it sends as a server does: on
the served side only, 24-29 us of CPU per delivered message (a sixth to a quarter of a core)
taken from the server being measured. So by default the calls are framed here
(`FramedWriter`): HTTP/2 over a plain socket, the requests' gRPC messages laid into DATA
frames as the server's flow-control windows allow, which costs well under a microsecond per
delivered message, about what writers on other machines cost this one. The server reads
exactly the same calls either way, one gRPC message per request. `--grpc` writes them with
grpc.aio instead (to compare).
"""

from __future__ import annotations

import asyncio
import select
import socket
import struct
import sys
from dataclasses import dataclass, field

import grpc
import grpc.aio

from tests.server.raw_h2 import (
    ACK,
    DATA,
    END_HEADERS,
    END_STREAM,
    GOAWAY,
    HEADERS,
    PREFACE,
    SETTINGS,
    frame,
    grpc_headers,
)
from toolkit.contract import ENGRAM_SERVICE
from toolkit.schema.pool import load_schema

PATH = f"/{ENGRAM_SERVICE}/StreamingRemember"
RST_STREAM, PING, WINDOW_UPDATE, CONTINUATION = 0x3, 0x6, 0x8, 0x9
INITIAL_WINDOW_SIZE = 0x4
DEFAULT_WINDOW = 65_535
# Every DATA frame within HTTP/2's default largest frame: a larger maximum a server announces
# applies only once it has seen the acknowledgement (grpc refuses a larger frame before).
MAX_FRAME = 16_384
SCHEMA = load_schema("current")


def requests(space: str, count: int) -> list[bytes]:
    memory = SCHEMA.message("engram.v1.Memory")
    request = SCHEMA.message("engram.v1.StreamingRememberRequest")
    return [
        request(
            memory=memory(id=f"s{n}", content="c" * 64, confidence=0.5), memory_space_id=space
        ).SerializeToString()
        for n in range(count)
    ]


def grpc_body(messages: list[bytes]) -> bytes:
    """The messages as a gRPC request body: each behind its flag byte and length."""
    return b"".join(b"\x00" + struct.pack(">I", len(m)) + m for m in messages)


@dataclass
class _Call:
    body: memoryview
    window: int
    sent: int = 0
    answer: bytearray = field(default_factory=bytearray)
    ended: bool = False


class FramedWriter:
    """StreamingRemember calls framed by hand on one HTTP/2 connection (no HPACK state: every
    header is a literal; the answers' headers are not decoded, their message is)."""

    def __init__(self, address: str) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(PREFACE + frame(SETTINGS, 0, 0, b""))
        self.window = DEFAULT_WINDOW  # the connection's send window
        self.initial_window = DEFAULT_WINDOW
        self.next_stream = 1
        self.calls: dict[int, _Call] = {}
        self._pending = bytearray()  # frames read in part
        self._replies = bytearray()  # frames to send back (acks, window updates)

    def close(self) -> None:
        self.sock.close()

    def write_round(self, bodies: list[bytes], expected: int) -> None:
        """One call per body, all at once; raises unless every answer counts `expected`."""
        out = bytearray()
        self.calls = {}
        for body in bodies:
            stream, self.next_stream = self.next_stream, self.next_stream + 2
            self.calls[stream] = _Call(memoryview(body), self.initial_window)
            out += frame(HEADERS, END_HEADERS, stream, grpc_headers(PATH, ()))
        while not all(call.ended for call in self.calls.values()):
            # Acknowledgements first: a window a SETTINGS frame opened is the server's only
            # once it has read the ACK.
            out += self._replies
            self._replies.clear()
            out += self._sendable()
            if out:
                self.sock.sendall(out)
                out.clear()
            waiting = self.window <= 0 or not any(
                c.sent < len(c.body) and c.window > 0 for c in self.calls.values()
            )
            ready, _, _ = select.select([self.sock], [], [], 60 if waiting else 0)
            if ready:
                self._read()
        count_field = SCHEMA.message("engram.v1.StreamingRememberResponse")
        for stream, call in self.calls.items():
            if len(call.answer) < 5:
                raise RuntimeError(f"StreamingRemember on stream {stream} ended without answer")
            answer = count_field.FromString(bytes(call.answer[5:]))
            if answer.count != expected:
                raise RuntimeError(f"StreamingRemember counted {answer.count}, not {expected}")

    def _sendable(self) -> bytes:
        out = bytearray()
        for stream, call in self.calls.items():
            while call.sent < len(call.body):
                size = min(len(call.body) - call.sent, call.window, self.window, MAX_FRAME)
                if size <= 0:
                    break
                chunk = call.body[call.sent : call.sent + size]
                call.sent += size
                call.window -= size
                self.window -= size
                last = call.sent == len(call.body)
                out += frame(DATA, END_STREAM if last else 0, stream, bytes(chunk))
        return bytes(out)

    def _read(self) -> None:
        data = self.sock.recv(1 << 16)
        if not data:
            raise RuntimeError("the server closed the connection")
        pending = self._pending
        pending += data
        offset = 0
        while len(pending) - offset >= 9:
            length = int.from_bytes(pending[offset : offset + 3], "big")
            if len(pending) - offset < 9 + length:
                break
            kind, flags = pending[offset + 3], pending[offset + 4]
            stream = int.from_bytes(pending[offset + 5 : offset + 9], "big") & 0x7FFFFFFF
            payload = bytes(pending[offset + 9 : offset + 9 + length])
            offset += 9 + length
            self._frame(kind, flags, stream, payload)
        del pending[:offset]

    def _frame(self, kind: int, flags: int, stream: int, payload: bytes) -> None:
        call = self.calls.get(stream)
        if kind == SETTINGS and not flags & ACK:
            for at in range(0, len(payload), 6):
                key, value = struct.unpack(">HI", payload[at : at + 6])
                if key == INITIAL_WINDOW_SIZE:
                    for open_call in self.calls.values():
                        open_call.window += value - self.initial_window
                    self.initial_window = value
            self._replies += frame(SETTINGS, ACK, 0, b"")
        elif kind == WINDOW_UPDATE:
            increment = struct.unpack(">I", payload)[0] & 0x7FFFFFFF
            if stream == 0:
                self.window += increment
            elif call is not None:
                call.window += increment
        elif kind == PING and not flags & ACK:
            self._replies += frame(PING, ACK, 0, payload)
        elif kind == DATA and payload:
            self._replies += frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload)))
            if call is not None:
                call.answer += payload
                if not flags & END_STREAM:
                    credit = struct.pack(">I", len(payload))
                    self._replies += frame(WINDOW_UPDATE, 0, stream, credit)
        elif kind == RST_STREAM and payload == bytes(4) and call is not None:
            call.ended = True  # NO_ERROR: the answer is complete (grpc sends it after trailers)
        elif kind in (RST_STREAM, GOAWAY):
            raise RuntimeError(f"the server ended the call (HTTP/2 frame {kind}: {payload!r})")
        if kind in (HEADERS, CONTINUATION, DATA) and flags & END_STREAM and call is not None:
            call.ended = True


def framed_rounds(address: str, count: int, spaces: list[str]) -> None:
    bodies = [grpc_body(requests(space, count)) for space in spaces]
    writer = FramedWriter(address)
    try:
        print("ready", flush=True)
        while sys.stdin.readline():
            writer.write_round(bodies, count)
            print("done", flush=True)
    finally:
        writer.close()


async def grpc_rounds(address: str, count: int, spaces: list[str]) -> None:
    encoded = {space: requests(space, count) for space in spaces}
    async with grpc.aio.insecure_channel(address) as channel:
        await asyncio.wait_for(channel.channel_ready(), 30)
        remember = channel.stream_unary(PATH)
        print("ready", flush=True)
        while await asyncio.to_thread(sys.stdin.readline):
            await asyncio.gather(*(remember(iter(encoded[space]), timeout=60) for space in spaces))
            print("done", flush=True)


def main() -> None:
    args = sys.argv[1:]
    use_grpc = "--grpc" in args
    address, count, *spaces = [a for a in args if a != "--grpc"]
    if use_grpc:
        asyncio.run(grpc_rounds(address, int(count), spaces))
    else:
        framed_rounds(address, int(count), spaces)


if __name__ == "__main__":
    main()
