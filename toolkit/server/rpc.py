"""The RPC glue every servicer shares: the call context, ending a call with a status, naming
the call's space in its metadata, request decoding, and one table from RPC name to handler.

A handler's body raises; `failures` turns what it raised into the call's status, once, for
every handler (unary, streaming, EngramService and MemorySpaceService alike).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import grpc
import grpc.aio
from grpc_status import rpc_status

from toolkit.contract import RPC_BY_NAME, Streaming
from toolkit.schema.pool import Schema
from toolkit.server.messages import Undecodable, decoder
from toolkit.server.registry import SpaceQuarantined
from toolkit.server.resolve import Resolution
from toolkit.server.status import RpcFailure, failure, invalid_argument
from toolkit.server.store import DiskFull, OutOfDescriptors, StoreClosed

log = logging.getLogger(__name__)

# grpc.aio.ServicerContext; grpc ships no type information.
Context: TypeAlias = Any
# What a failure turns into for one RPC; `None` lets the exception through unchanged.
Translate = Callable[[Exception], RpcFailure | None]


async def abort(context: Context, error: RpcFailure) -> None:
    """End the call with `error`, keeping the trailing metadata already set (the space)."""
    status = rpc_status.to_status(error.status)
    trailing = (*(context.trailing_metadata() or ()), *status.trailing_metadata)
    await context.abort(status.code, status.details, trailing)


async def announce(resolution: Resolution, context: Context, *, early: bool) -> None:
    """Name the call's space in its trailing metadata, and in its initial metadata when that
    has to be sent anyway or early.

    Trailing metadata travels with the status. Initial metadata sent by hand is a write of its
    own and a wait on the event loop (it cost unary calls 13-19% of their rate), so it is sent
    only for a deprecated call (`x-engram-deprecation` is initial metadata) and, with `early`,
    on a call that streams answers, whose client learns its space before the first one.
    """
    context.set_trailing_metadata(resolution.announced)
    if early or resolution.deprecation:
        await context.send_initial_metadata(resolution.announced + resolution.deprecation)


def decoded(request: Any) -> Any:
    if isinstance(request, Undecodable):
        raise invalid_argument(request.error, "request")
    return request


def deleted_during_call(rpc: str) -> RpcFailure:
    return failure(
        grpc.StatusCode.NOT_FOUND, f"{rpc}: the memory space was deleted during the call"
    )


def store_failure(rpc: str, error: Exception) -> RpcFailure | None:
    """The status of a store's failure inside `rpc`, or None when it is no store failure."""
    if isinstance(error, RpcFailure):
        return error
    if isinstance(error, StoreClosed):
        return deleted_during_call(rpc)
    if isinstance(error, SpaceQuarantined):
        code = grpc.StatusCode.DATA_LOSS if error.damage.corrupt else grpc.StatusCode.UNAVAILABLE
        return failure(code, f"{rpc}: {error}")
    if isinstance(error, OutOfDescriptors):
        return failure(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{rpc}: {error}")
    if isinstance(error, DiskFull):
        disk_full_once()
        return failure(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{rpc}: {error}; nothing was written")
    return None


DISK_FULL_LOG_INTERVAL_S = 300.0
_disk_full_logged_at: list[float] = []


def disk_full_once() -> None:
    """One WARNING for a full disk, however many writes it refuses (not one per call):
    at most one every `DISK_FULL_LOG_INTERVAL_S`."""
    now = time.monotonic()
    if not _disk_full_logged_at or now - _disk_full_logged_at[-1] > DISK_FULL_LOG_INTERVAL_S:
        _disk_full_logged_at[:] = [now]
        log.warning(
            "the server's disk is full: writes are refused with RESOURCE_EXHAUSTED; "
            "reads and health keep working",
            extra={"event": "disk_full"},
        )


@asynccontextmanager
async def failures(
    context: Context, rpc: str, translate: Translate | None = None
) -> AsyncIterator[None]:
    """End the call with the status of whatever its body raised (see `store_failure`);
    `translate` names the status of the exceptions one servicer adds (tried first)."""
    try:
        yield
    except Exception as exc:
        await fail(context, rpc, exc, translate)


async def fail(
    context: Context, rpc: str, exc: Exception, translate: Translate | None = None
) -> None:
    """End the call with the status of `exc` (as `failures` does); re-raise it when it has
    none. For the hottest handlers, which catch themselves rather than enter `failures`."""
    error = translate(exc) if translate is not None else None
    if error is None:
        error = store_failure(rpc, exc)
    if error is None:
        raise exc
    await abort(context, error)


Handler = Callable[..., Any]


def method_handlers(
    schema: Schema,
    service: str,
    table: Mapping[str, Handler],
    *,
    raw_responses: frozenset[str] = frozenset(),
    kinds: Mapping[str, Streaming] | None = None,
) -> grpc.GenericRpcHandler:
    """A generic handler of `service` from one table: RPC name to its handler.

    Each RPC's streaming kind comes from the contract (`kinds` for another service, default
    unary); an RPC of the schema without an entry in `table` is not served. The RPCs in
    `raw_responses` answer with bytes they encoded themselves (no serializer).
    """
    builders = {
        "unary": grpc.unary_unary_rpc_method_handler,
        "server_stream": grpc.unary_stream_rpc_method_handler,
        "client_stream": grpc.stream_unary_rpc_method_handler,
        "bidi": grpc.stream_stream_rpc_method_handler,
    }
    handlers: dict[str, grpc.RpcMethodHandler] = {}
    for method in schema.methods():
        if method.service != service or method.name not in table:
            continue
        if kinds is not None:
            kind = kinds.get(method.name, "unary")
        else:
            rpc = RPC_BY_NAME.get(method.name)
            kind = rpc.streaming if rpc is not None else "unary"
        options: dict[str, Any] = {"request_deserializer": decoder(method.request)}
        if method.name not in raw_responses:
            options["response_serializer"] = method.response.SerializeToString
        handlers[method.name] = builders[kind](table[method.name], **options)
    return grpc.method_handlers_generic_handler(service, handlers)
