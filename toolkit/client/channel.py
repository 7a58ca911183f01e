"""A client channel that names its memory space on every call: the migration path for clients.

Wrap a channel once and every call carries the space as the `x-engram-memory-space` header and,
for request messages of schema 1.1.0 or later, in their `memory_space_id` field:

    channel = space_channel(grpc.insecure_channel("localhost:50051"), "team-a")

Without an explicit space the wrapper reads `ENGRAM_MEMORY_SPACE`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import grpc
from google.protobuf.message import Message

from toolkit.contract import SPACE_ENV, SPACE_FIELD, SPACE_HEADER
from toolkit.errors import ToolkitError


class MissingSpaceError(ToolkitError):
    """No memory space was given and ENGRAM_MEMORY_SPACE is not set."""


def configured_space(space: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The space a client should name: the argument, else ENGRAM_MEMORY_SPACE, else None."""
    if space:
        return space
    value = (os.environ if environ is None else environ).get(SPACE_ENV, "")
    return value or None


def with_space_field(request: Any, space: str) -> Any:
    """`request` with `memory_space_id` set when its message has that field and it is empty.

    Messages of the released 1.0.0 schema have no such field and pass through unchanged; the
    caller's message is never modified.
    """
    if not isinstance(request, Message):
        return request
    field = request.DESCRIPTOR.fields_by_name.get(SPACE_FIELD)
    if field is None or getattr(request, SPACE_FIELD):
        return request
    copy = type(request)()
    copy.CopyFrom(request)
    setattr(copy, SPACE_FIELD, space)
    return copy


def _space_of(request: Any, default: str) -> str:
    """The space a single request names itself, so header and field never disagree."""
    if isinstance(request, Message) and SPACE_FIELD in request.DESCRIPTOR.fields_by_name:
        return getattr(request, SPACE_FIELD) or default
    return default


class _CallDetails(NamedTuple):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None
    compression: Any


class SpaceInterceptor(
    grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
    grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
    grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
    grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
):
    """Adds the space header to every call and the space field to every request message."""

    def __init__(self, space: str, *, set_header: bool = True, set_field: bool = True) -> None:
        self.space = space
        self.set_header = set_header
        self.set_field = set_field

    def _details(self, details: Any, space: str) -> _CallDetails:
        metadata = [(k, v) for k, v in (details.metadata or ()) if k != SPACE_HEADER]
        if self.set_header:
            metadata.append((SPACE_HEADER, space))
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def _request(self, request: Any) -> Any:
        return with_space_field(request, self.space) if self.set_field else request

    def _requests(self, requests: Iterator[Any]) -> Iterator[Any]:
        for request in requests:
            yield self._request(request)

    def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(
            self._details(details, _space_of(request, self.space)), self._request(request)
        )

    def intercept_unary_stream(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        return continuation(
            self._details(details, _space_of(request, self.space)), self._request(request)
        )

    def intercept_stream_unary(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return continuation(self._details(details, self.space), self._requests(requests))

    def intercept_stream_stream(
        self, continuation: Callable[..., Any], details: Any, requests: Any
    ) -> Any:
        return continuation(self._details(details, self.space), self._requests(requests))


def space_channel(
    channel: grpc.Channel,
    space: str | None = None,
    *,
    set_header: bool = True,
    set_field: bool = True,
    environ: Mapping[str, str] | None = None,
) -> grpc.Channel:
    """`channel` wrapped so every call names `space` (or ENGRAM_MEMORY_SPACE).

    Raises MissingSpaceError when neither names a space: a client that names none is routed
    to the default space and is deprecated, which is what this wrapper exists to avoid.
    """
    resolved = configured_space(space, environ)
    if resolved is None:
        raise MissingSpaceError(
            f"no memory space given: pass one or set {SPACE_ENV} (e.g. {SPACE_ENV}=team-a)"
        )
    interceptor = SpaceInterceptor(resolved, set_header=set_header, set_field=set_field)
    return grpc.intercept_channel(channel, interceptor)
