"""The suite's clients: a legacy client that sends recorded bytes, and new-schema clients.

Every call returns a `CallOutcome` (status, details, headers, responses, error details), so a
check compares plain values and records them as evidence. The legacy client sends and receives
raw bytes (identity serializers): what reaches the server is exactly what old clients sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from toolkit.client.channel import space_channel
from toolkit.contract import (
    DEPRECATION_HEADER,
    ENGRAM_SERVICE,
    SPACE_FIELD,
    SPACE_HEADER,
    SPACE_RPC_NAMES,
    SPACE_SERVICE,
)
from toolkit.schema.pool import RpcMethod, Schema, load_schema

ENGRAM = ENGRAM_SERVICE
SPACES = SPACE_SERVICE
DEFAULT_TIMEOUT_S = 20.0
ClientMode = Literal["field", "header", "both", "none"]
# The contract's response headers a call's evidence shows.
ENGRAM_HEADERS = (SPACE_HEADER, DEPRECATION_HEADER)


@dataclass(frozen=True)
class CallOutcome:
    code: str  # "OK" or a grpc.StatusCode name
    details: str
    initial_metadata: dict[str, str]
    trailing_metadata: dict[str, str]
    responses: tuple[Any, ...] = ()
    error_info: dict[str, Any] | None = None
    bad_request: list[dict[str, str]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code == "OK"

    @property
    def response(self) -> Any:
        return self.responses[0] if self.responses else None

    def header(self, name: str) -> str | None:
        return self.initial_metadata.get(name, self.trailing_metadata.get(name))

    def evidence(self) -> dict[str, Any]:
        """The facts of this call a report shows: status, message, headers, error details."""
        found: dict[str, Any] = {"code": self.code, "details": self.details}
        metadata = {**self.trailing_metadata, **self.initial_metadata}
        headers = {k: v for k, v in metadata.items() if k in ENGRAM_HEADERS}
        if headers:
            found["headers"] = headers
        if self.error_info is not None:
            found["error_info"] = self.error_info
        if self.bad_request is not None:
            found["bad_request"] = self.bad_request
        return found


def _metadata(pairs: Iterable[tuple[str, Any]] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in pairs or ():
        if not key.endswith("-bin"):
            found[key] = value if isinstance(value, str) else bytes(value).decode(errors="replace")
    return found


def _error_details(call: Any) -> tuple[dict[str, Any] | None, list[dict[str, str]] | None]:
    try:
        status = rpc_status.from_call(call)
    except ValueError:
        return None, None
    if status is None:
        return None, None
    info: dict[str, Any] | None = None
    bad: list[dict[str, str]] | None = None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            unpacked = error_details_pb2.ErrorInfo()
            detail.Unpack(unpacked)
            info = {
                "reason": unpacked.reason,
                "domain": unpacked.domain,
                "metadata": dict(unpacked.metadata),
            }
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            unpacked_bad = error_details_pb2.BadRequest()
            detail.Unpack(unpacked_bad)
            bad = [
                {"field": v.field, "description": v.description}
                for v in unpacked_bad.field_violations
            ]
    return info, bad


def outcome_of(call: Any, responses: Sequence[Any], error: grpc.RpcError | None) -> CallOutcome:
    source = error if error is not None else call
    code = source.code()
    info, bad = _error_details(source) if error is not None else (None, None)
    return CallOutcome(
        code=code.name if code is not None else "UNKNOWN",
        details=source.details() or "",
        initial_metadata=_metadata(source.initial_metadata()),
        trailing_metadata=_metadata(source.trailing_metadata()),
        responses=tuple(responses),
        error_info=info,
        bad_request=bad,
    )


class WriteLog:
    """The memories this process's calls wrote, by the space the server said it acted on.

    Filled from the answers (`memory_id`, `memory_ids`, a flow's `remember` answers) and the
    echoed space header, so legacy writes to the default space can be removed by id afterwards.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._written: dict[str, set[str]] = {}
        self._episodes: dict[str, set[str]] = {}

    def note(self, outcome: CallOutcome) -> None:
        if not outcome.ok:
            return
        ids = [i for response in outcome.responses for i in written_ids(response)]
        episodes = [str(getattr(r, "episode_id", "") or "") for r in outcome.responses]
        space = outcome.header(SPACE_HEADER) or ""
        with self._lock:
            if ids:
                self._written.setdefault(space, set()).update(ids)
            if any(episodes):
                self._episodes.setdefault(space, set()).update(e for e in episodes if e)

    def episodes_in(self, space: str) -> set[str]:
        """Episode ids written to `space`: the contract has no RPC that removes one."""
        with self._lock:
            return set(self._episodes.get(space, set())) | set(self._episodes.get("", set()))

    def in_space(self, space: str) -> set[str]:
        """Ids written to `space` (with "", where the server named no space)."""
        with self._lock:
            return set(self._written.get(space, set())) | set(self._written.get("", set()))


def written_ids(response: Any) -> list[str]:
    if not isinstance(response, Message):
        return []
    fields = response.DESCRIPTOR.fields_by_name
    found: Any = response
    ids: list[str] = []
    if "memory_id" in fields and found.memory_id:
        ids.append(str(found.memory_id))
    if "memory_ids" in fields:
        ids.extend(str(i) for i in found.memory_ids)
    if "remember" in fields and response.HasField("remember"):
        ids.extend(written_ids(found.remember))
    return ids


WRITES = WriteLog()


def invoke(
    channel: grpc.Channel,
    method: RpcMethod,
    requests: Sequence[Any],
    *,
    raw: bool = False,
    metadata: Sequence[tuple[str, str]] = (),
    timeout: float = DEFAULT_TIMEOUT_S,
) -> CallOutcome:
    """Call `method` with `requests` (one for unary requests) and gather everything seen."""
    serializer = None if raw else method.request.SerializeToString
    deserializer = None if raw else method.response.FromString
    factory = getattr(channel, method.kind)(
        method.path, request_serializer=serializer, response_deserializer=deserializer
    )
    unary_request = method.kind.startswith("unary_")
    argument: Any = requests[0] if unary_request else iter(requests)
    kwargs: dict[str, Any] = {"metadata": tuple(metadata) or None, "timeout": timeout}
    if method.kind.endswith("_unary"):
        try:
            response, call = factory.with_call(argument, **kwargs)
        except grpc.RpcError as error:
            return outcome_of(None, (), error)
        outcome = outcome_of(call, (response,), None)
        WRITES.note(outcome)
        return outcome
    stream = factory(argument, **kwargs)
    responses: list[Any] = []
    try:
        for response in stream:
            responses.append(response)
    except grpc.RpcError as error:
        return outcome_of(None, responses, error)
    outcome = outcome_of(stream, responses, None)
    WRITES.note(outcome)
    return outcome


class LegacyClient:
    """A client of schema 1.0.0: sends recorded wire bytes, reads replies with baseline classes."""

    def __init__(self, channel: grpc.Channel, schema: Schema | None = None) -> None:
        self.channel = channel
        self.schema = schema or load_schema("legacy")

    def method(self, rpc: str) -> RpcMethod:
        return self.schema.method(ENGRAM, rpc)

    def send(
        self, rpc: str, wire_requests: Sequence[bytes], *, timeout: float = DEFAULT_TIMEOUT_S
    ) -> CallOutcome:
        method = self.method(rpc)
        outcome = invoke(self.channel, method, wire_requests, raw=True, timeout=timeout)
        parsed = tuple(method.response.FromString(r) for r in outcome.responses)
        answered = CallOutcome(
            outcome.code,
            outcome.details,
            outcome.initial_metadata,
            outcome.trailing_metadata,
            parsed,
            outcome.error_info,
            outcome.bad_request,
        )
        WRITES.note(answered)
        return answered

    def call(self, rpc: str, *requests: Message) -> CallOutcome:
        return self.send(rpc, [r.SerializeToString() for r in requests])


class NewClient:
    """A client of the current schema naming `space` by field, header, both, or not at all."""

    def __init__(
        self,
        channel: grpc.Channel,
        space: str | None,
        mode: ClientMode = "field",
        schema: Schema | None = None,
    ) -> None:
        self.schema = schema or load_schema("current")
        self.space = space
        self.mode = mode
        if space is None or mode in ("none", "field"):
            self.channel = channel
        else:
            self.channel = space_channel(channel, space, set_field=mode == "both")

    def method(self, rpc: str) -> RpcMethod:
        service = SPACES if rpc in SPACE_RPC_NAMES else ENGRAM
        return self.schema.method(service, rpc)

    def request(self, rpc: str, **fields: Any) -> Message:
        """A request message of `rpc` with `fields`; in field mode it names the space."""
        message: Message = self.method(rpc).request(**fields)
        return self._named(message)

    def _named(self, message: Message) -> Message:
        has_field = SPACE_FIELD in message.DESCRIPTOR.fields_by_name
        if self.mode == "field" and self.space and has_field and not getattr(message, SPACE_FIELD):
            setattr(message, SPACE_FIELD, self.space)
        return message

    def call(
        self,
        rpc: str,
        *requests: Message,
        metadata: Sequence[tuple[str, str]] = (),
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> CallOutcome:
        named = [self._named(r) for r in requests]
        return invoke(self.channel, self.method(rpc), named, metadata=metadata, timeout=timeout)

    def stream(self, rpc: str, requests: Iterator[Message] | Message, **kwargs: Any) -> Any:
        """Start a streaming call and return the live call object (for stream checks)."""
        method = self.method(rpc)
        factory = getattr(self.channel, method.kind)(
            method.path,
            request_serializer=method.request.SerializeToString,
            response_deserializer=method.response.FromString,
        )
        if isinstance(requests, Message):
            return factory(self._named(requests), **kwargs)
        return factory((self._named(r) for r in requests), **kwargs)


# `new_client(space, mode)`, the suite's fixture: a NewClient on the server under test.
NewClientFactory = Callable[..., NewClient]


def echoed_space(outcome: CallOutcome) -> str | None:
    return outcome.header(SPACE_HEADER)
