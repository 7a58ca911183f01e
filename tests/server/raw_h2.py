"""A minimal HTTP/2 client for calls a gRPC client library refuses to make (a header value
that is not UTF-8, a connection cut mid-call). Headers are sent as HPACK literals; the
answer's frames are read but their headers are not decoded."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Sequence

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, GOAWAY = 0x0, 0x1, 0x4, 0x7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + struct.pack(">I", stream)
        + payload
    )


def _length(value: int) -> bytes:
    """An HPACK integer with a 7-bit prefix (Huffman bit clear)."""
    if value < 127:
        return bytes([value])
    out = bytearray([127])
    value -= 127
    while value >= 128:
        out.append((value % 128) + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def literal(name: bytes, value: bytes) -> bytes:
    """A literal header field without indexing, with a new name."""
    return b"\x00" + _length(len(name)) + name + _length(len(value)) + value


def grpc_headers(path: str, extra: Sequence[tuple[bytes, bytes]]) -> bytes:
    fields = [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":path", path.encode()),
        (b":authority", b"localhost"),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
        *extra,
    ]
    return b"".join(literal(name, value) for name, value in fields)


def _read_frame(sock: socket.socket) -> tuple[int, int, int, bytes] | None:
    header = _read_exactly(sock, 9)
    if header is None:
        return None
    length = int.from_bytes(header[:3], "big")
    payload = _read_exactly(sock, length) if length else b""
    if payload is None:
        return None
    stream = int.from_bytes(header[5:9], "big") & 0x7FFFFFFF
    return header[3], header[4], stream, payload


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def call(
    address: str,
    path: str,
    extra_headers: Sequence[tuple[bytes, bytes]],
    message: bytes = b"",
    *,
    cut: bool = False,
    timeout: float = 5,
) -> bool:
    """Make one unary call; True when the server ended the stream (HEADERS with END_STREAM).
    With `cut`, the connection is closed once the request is sent, without waiting."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(PREFACE + frame(SETTINGS, 0, 0, b""))
        sock.sendall(frame(HEADERS, END_HEADERS, 1, grpc_headers(path, extra_headers)))
        body = b"\x00" + struct.pack(">I", len(message)) + message
        sock.sendall(frame(DATA, END_STREAM, 1, body))
        if cut:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = _read_frame(sock)
            if received is None:
                return False
            kind, flags, stream, _ = received
            if kind == SETTINGS and not flags & ACK:
                sock.sendall(frame(SETTINGS, ACK, 0, b""))
            elif kind == HEADERS and stream == 1 and flags & END_STREAM:
                return True
            elif kind == GOAWAY:
                return False
    return False
