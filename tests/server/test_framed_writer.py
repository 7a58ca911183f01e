"""The stream benchmark's framed writer: StreamingRemember calls framed by hand over HTTP/2.

The server reads them as any client's calls (one gRPC message per request, flow control
obeyed both ways), so every memory is stored and each answer counts them; a call the server
refuses is an error of the writer, never a round that silently wrote nothing.
"""

from __future__ import annotations

import pytest

from tests.bench.stream_writer import FramedWriter, grpc_body, requests
from tests.server.conftest import Client
from toolkit.server.app import RunningServer


def test_framed_calls_store_every_memory_over_many_windows(
    server: RunningServer, client: Client
) -> None:
    spaces = ["framed-a", "framed-b"]
    for space in spaces:
        client.create_space(space)
    count = 3000  # about 280 KB a call: past the first flow-control windows of 64 KiB
    bodies = [grpc_body(requests(space, count)) for space in spaces]
    writer = FramedWriter(server.address)
    try:
        for _ in range(3):  # the same connection, round after round (windows handed back)
            writer.write_round(bodies, count)
    finally:
        writer.close()
    for space in spaces:
        assert client.recall(space, contains="c").total_matched == count


def test_a_refused_call_is_an_error_of_the_writer(server: RunningServer) -> None:
    # No such space: the server answers NOT_FOUND, with no message.
    bodies = [grpc_body(requests("no-such-space", 10))]
    writer = FramedWriter(server.address)
    try:
        with pytest.raises(RuntimeError, match="without answer"):
            writer.write_round(bodies, 10)
    finally:
        writer.close()


def test_an_answer_that_counts_too_few_is_an_error_of_the_writer(
    server: RunningServer, client: Client
) -> None:
    client.create_space("framed-c")
    bodies = [grpc_body(requests("framed-c", 10))]
    writer = FramedWriter(server.address)
    try:
        with pytest.raises(RuntimeError, match="counted 10, not 11"):
            writer.write_round(bodies, 11)
    finally:
        writer.close()
