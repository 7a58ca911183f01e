"""A client of MemorySpaceService: one call per action, returning plain records.

The call is separate from its printing (`toolkit.client.commands` prints for
`engram-compat space`), so other code can manage spaces without parsing text:

    with grpc.insecure_channel("localhost:50051") as channel:
        answer = call_space_service(channel, "create", "team-a", timeout=10.0)
        print(answer.spaces[0].persistence_path)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import grpc

from toolkit.client.channel import space_channel
from toolkit.contract import (
    PACKAGE,
    QUARANTINE_HEADER,
    QUARANTINED_COUNT,
    SPACE_FIELD,
    SPACE_SERVICE_NAME,
)
from toolkit.errors import EXIT_FAILED, ToolkitError
from toolkit.schema.pool import load_schema

SpaceAction = Literal["create", "get", "list", "delete"]
UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
METHODS: dict[str, tuple[str, str]] = {
    "create": ("CreateSpace", "CreateSpaceRequest"),
    "get": ("GetSpace", "GetSpaceRequest"),
    "list": ("ListSpaces", "ListSpacesRequest"),
    "delete": ("DeleteSpace", "DeleteSpaceRequest"),
}


class ServerUnreachable(ToolkitError):
    """No server answered at the target (exit 2)."""


class SpaceRefused(ToolkitError):
    """The server answered the call with an error status (exit 1)."""

    exit_code = EXIT_FAILED

    def __init__(self, code: str, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


@dataclass(frozen=True)
class SpaceRecord:
    """One memory space as MemorySpaceService describes it."""

    id: str
    memory_count: int
    created_at: str  # UTC, ISO 8601 to the second
    persistence_path: str
    quarantined: str | None = None  # why the server will not serve it (its files are damaged)


@dataclass(frozen=True)
class SpaceAnswer:
    """What one call answered: the spaces it named and, for `create`, whether it was new."""

    action: SpaceAction
    spaces: tuple[SpaceRecord, ...] = ()
    created: bool | None = None
    deleted: str | None = None


def _record(space: Any, reasons: dict[str, str]) -> SpaceRecord:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(space.created_at.seconds))
    quarantined = None
    if int(space.memory_count) == QUARANTINED_COUNT:
        quarantined = reasons.get(str(space.id), "its files are damaged")
    return SpaceRecord(
        id=str(space.id),
        memory_count=int(space.memory_count),
        created_at=created,
        persistence_path=str(space.persistence_path),
        quarantined=quarantined,
    )


def _quarantine_reasons(call: Any) -> dict[str, str]:
    reasons = {}
    for key, value in call.trailing_metadata() or ():
        if key == QUARANTINE_HEADER and isinstance(value, str):
            space, _, reason = value.partition(": ")
            reasons[space] = reason
    return reasons


def call_space_service(
    channel: grpc.Channel, action: SpaceAction, space_id: str | None, *, timeout: float
) -> SpaceAnswer:
    """Call MemorySpaceService's RPC for `action` on `channel`.

    Raises ServerUnreachable when nothing answers and SpaceRefused when the server refuses.
    """
    schema = load_schema("current")
    rpc, request_name = METHODS[action]
    method = schema.method(SPACE_SERVICE_NAME, rpc)
    request = schema.message(f"{PACKAGE}.{request_name}")()
    if space_id is not None:
        setattr(request, SPACE_FIELD, space_id)
        # The id travels in the request field; no header, so any text reaches the server.
        channel = space_channel(channel, space_id, set_header=False)
    try:
        unary: Any = schema.callable(channel, method)
        response, call = unary.with_call(request, timeout=timeout)
    except grpc.RpcError as error:
        if error.code() in UNREACHABLE:
            raise ServerUnreachable(f"no server answered: {error.details()}") from None
        raise SpaceRefused(error.code().name, str(error.details())) from None
    reasons = _quarantine_reasons(call)
    if action == "create":
        return SpaceAnswer(
            action, (_record(response.space, reasons),), created=bool(response.created)
        )
    if action == "get":
        return SpaceAnswer(action, (_record(response.space, reasons),))
    if action == "list":
        return SpaceAnswer(action, tuple(_record(s, reasons) for s in response.spaces))
    return SpaceAnswer(action, deleted=space_id)


def manage_space(
    action: SpaceAction, space_id: str | None, target: str, *, timeout: float
) -> SpaceAnswer:
    """`call_space_service` on a channel of its own to `target` (HOST:PORT)."""
    with grpc.insecure_channel(target) as channel:
        try:
            return call_space_service(channel, action, space_id, timeout=timeout)
        except ServerUnreachable as error:
            raise ServerUnreachable(f"no server at {target}: {error}") from None
