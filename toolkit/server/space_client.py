"""The client side of `engram-compat space ...`: one MemorySpaceService call, printed."""

from __future__ import annotations

import sys
import time
from typing import Any

import grpc

from toolkit.compat.client import space_channel
from toolkit.contract import PACKAGE, SPACE_SERVICE_NAME
from toolkit.errors import EXIT_FAILED, EXIT_OK, ToolkitError
from toolkit.schema.pool import load_schema

UNREACHABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
METHODS = {
    "create": ("CreateSpace", "CreateSpaceRequest"),
    "get": ("GetSpace", "GetSpaceRequest"),
    "list": ("ListSpaces", "ListSpacesRequest"),
    "delete": ("DeleteSpace", "DeleteSpaceRequest"),
}


class ServerUnreachable(ToolkitError):
    """No server answered at the target."""


def _created_at(space: Any) -> str:
    seconds = space.created_at.seconds
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _describe(space: Any) -> str:
    return (
        f"{space.id}\tmemories={space.memory_count}\tcreated_at={_created_at(space)}"
        f"\tpath={space.persistence_path}"
    )


def run_space_command(action: str, space_id: str | None, target: str, timeout: float) -> int:
    schema = load_schema("current")
    rpc, request_name = METHODS[action]
    method = schema.method(SPACE_SERVICE_NAME, rpc)
    request = schema.message(f"{PACKAGE}.{request_name}")()
    with grpc.insecure_channel(target) as plain:
        channel: grpc.Channel = plain
        if space_id is not None:
            request.memory_space_id = space_id
            # The id travels in the request field; no header, so any text reaches the server.
            channel = space_channel(plain, space_id, set_header=False)
        try:
            response = schema.callable(channel, method)(request, timeout=timeout)
        except grpc.RpcError as error:
            if error.code() in UNREACHABLE:
                raise ServerUnreachable(f"no server at {target}: {error.details()}") from None
            print(f"engram-compat space {action}: {error.details()}", file=sys.stderr)
            return EXIT_FAILED
    if action == "create":
        verb = "created" if response.created else "already exists:"
        print(f"{verb} memory space {response.space.id}")
        print(f"  path: {response.space.persistence_path}")
    elif action == "get":
        print(_describe(response.space))
    elif action == "list":
        for space in response.spaces:
            print(_describe(space))
    else:
        print(f"deleted memory space {space_id}")
    return EXIT_OK
