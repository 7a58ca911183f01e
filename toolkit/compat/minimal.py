"""The smallest valid request of every Engram RPC, in one place for every check that needs one.

The RPCs themselves come from `toolkit.contract.ENGRAM_RPCS`; a check that calls "each RPC"
iterates `RPC_NAMES` and asks here for the request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from google.protobuf.message import Message

from toolkit.compat.calls import CallOutcome, NewClient
from toolkit.contract import ENGRAM_RPC_NAMES

RPC_NAMES: tuple[str, ...] = ENGRAM_RPC_NAMES
# Streams that wrongly succeed would run until the deadline; an error arrives at once.
ERROR_TIMEOUT_S = 3.0

_Build = Callable[[NewClient, str], list[Message]]
_MINIMAL: dict[str, _Build] = {
    "Remember": lambda c, m: [c.request("Remember", memory={"id": m, "content": "e"})],
    "Recall": lambda c, m: [c.request("Recall", cue={"id": m})],
    "Forget": lambda c, m: [c.request("Forget", memory_id=m)],
    "Experience": lambda c, m: [c.request("Experience", episode={"id": m, "what": "e"})],
    "Introspect": lambda c, m: [c.request("Introspect")],
    "Stream": lambda c, m: [c.request("Stream")],
    "StreamingRemember": lambda c, m: [
        c.request("StreamingRemember", memory={"id": m, "content": "e"})
    ],
    "MemoryFlow": lambda c, m: [c.request("MemoryFlow", remember={"memory": {"id": m}})],
}
if set(_MINIMAL) != set(RPC_NAMES):  # pragma: no cover - a contract change must be mirrored
    raise RuntimeError(f"minimal requests for {sorted(_MINIMAL)}, contract has {RPC_NAMES}")


def minimal_requests(client: NewClient, rpc: str, memory_id: str) -> list[Message]:
    """The smallest valid request(s) of `rpc` (its space named as `client` names it)."""
    return _MINIMAL[rpc](client, memory_id)


def minimal_call(
    client: NewClient,
    rpc: str,
    memory_id: str,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = ERROR_TIMEOUT_S,
) -> CallOutcome:
    """One call of `rpc` with its smallest valid request."""
    return client.call(
        rpc, *minimal_requests(client, rpc, memory_id), metadata=metadata, timeout=timeout
    )
