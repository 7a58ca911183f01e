"""The wire contract of the memory-space migration: every name a client, the server, the
schema check, the runtime suite and the report must agree on, written once.

Nothing else under `toolkit/` (generated code aside) spells these strings; import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PACKAGE = "engram.v1"

# How a client names its space: the request field, else the metadata header.
SPACE_FIELD = "memory_space_id"
SPACE_HEADER = "x-engram-memory-space"
# Sent in initial metadata to a client that named no space (it was routed to the default).
DEPRECATION_HEADER = "x-engram-deprecation"
# The environment variable the client migration API reads when no space is passed.
SPACE_ENV = "ENGRAM_MEMORY_SPACE"
DEFAULT_SPACE = "default"

# MemorySpaceService answers a quarantined (damaged) space with this memory count, and sends
# its reason in trailing metadata under QUARANTINE_HEADER, one "<id>: <reason>" value a space.
QUARANTINED_COUNT = -1
QUARANTINE_HEADER = "x-engram-quarantined"

# Recall answers are bounded (by result count and by bytes, under a client's default 4 MiB
# receive limit); an answer the bound cut short carries this trailing header, its value the
# number of matching memories the bound left out (a decimal integer).
TRUNCATED_HEADER = "x-engram-truncated"

# Introspect answers carry two trailing headers about the space's stream subscribers (decimal
# integers): the byte bound of one subscriber's buffer, and the most bytes one buffer of that
# space's subscribers has held at once (a stalled subscriber's, say). STREAM_BACKPRESSURE reads
# them to see that a stalled subscriber of large events holds at most the bound.
BUFFER_BOUND_HEADER = "x-engram-subscriber-buffer-bytes"
BUFFER_PEAK_HEADER = "x-engram-subscriber-peak-bytes"

# google.rpc.ErrorInfo of a well-formed space id that is not registered.
NOT_FOUND_REASON = "MEMORY_SPACE_NOT_FOUND"
ERROR_DOMAIN = PACKAGE

ENGRAM_SERVICE_NAME = "EngramService"
SPACE_SERVICE_NAME = "MemorySpaceService"
ENGRAM_SERVICE = f"{PACKAGE}.{ENGRAM_SERVICE_NAME}"
SPACE_SERVICE = f"{PACKAGE}.{SPACE_SERVICE_NAME}"

Streaming = Literal["unary", "server_stream", "client_stream", "bidi"]


@dataclass(frozen=True)
class Rpc:
    """One RPC of EngramService: its name and streaming kind."""

    name: str
    streaming: Streaming

    @property
    def path(self) -> str:
        return f"/{ENGRAM_SERVICE}/{self.name}"

    @property
    def client_streaming(self) -> bool:
        return self.streaming in ("client_stream", "bidi")

    @property
    def server_streaming(self) -> bool:
        return self.streaming in ("server_stream", "bidi")


# Every RPC of EngramService, in the order the schema declares them. Each takes a space.
ENGRAM_RPCS: tuple[Rpc, ...] = (
    Rpc("Remember", "unary"),
    Rpc("Recall", "unary"),
    Rpc("Forget", "unary"),
    Rpc("Experience", "unary"),
    Rpc("Introspect", "unary"),
    Rpc("Stream", "server_stream"),
    Rpc("StreamingRemember", "client_stream"),
    Rpc("MemoryFlow", "bidi"),
)
ENGRAM_RPC_NAMES: tuple[str, ...] = tuple(rpc.name for rpc in ENGRAM_RPCS)
RPC_BY_NAME: dict[str, Rpc] = {rpc.name: rpc for rpc in ENGRAM_RPCS}

# MemorySpaceService's RPCs (space lifecycle; introduced by the migration).
SPACE_RPC_NAMES: tuple[str, ...] = ("CreateSpace", "GetSpace", "ListSpaces", "DeleteSpace")

# The one hazard of this migration: servers of the baseline schema ignore the new field, so
# a new client's space is silently dropped until every server is upgraded. The schema check
# predicts it (reverse wire replay); the runtime suite observes it (MATRIX).
HAZARD_SERVERS_FIRST = "UPGRADE_SERVERS_FIRST"
