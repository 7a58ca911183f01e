"""DEPRECATION_WARNING: legacy calls are told (header) and logged (WARNING); explicit ones not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf.message import Message

from toolkit.compat.calls import CallOutcome, LegacyClient, NewClient, NewClientFactory
from toolkit.compat.checks import check
from toolkit.compat.environment import CompatEnv
from toolkit.compat.evidence import Evidence
from toolkit.compat.minimal import RPC_NAMES, minimal_requests
from toolkit.compat.scenarios import EventWatcher
from toolkit.compat.server_log import is_deprecation_record
from toolkit.contract import DEPRECATION_HEADER

NOT_VERIFIED_WITHOUT_LOG = (
    "the server's WARNING log record: the target's log is not readable (pass --server-log FILE)"
)


def _headers_of_call(call: Callable[[], CallOutcome | EventWatcher]) -> dict[str, str]:
    result = call()
    if isinstance(result, EventWatcher):
        try:
            return result.ready()
        finally:
            result.stop()
    return {**result.trailing_metadata, **result.initial_metadata}


def _observe(
    compat_env: CompatEnv,
    evidence: Evidence,
    rpc: str,
    call: Callable[[], CallOutcome | EventWatcher],
) -> tuple[str | None, list[dict[str, Any]] | None]:
    """The deprecation header of the call and the WARNING records it caused (None: no log)."""
    server_log = compat_env.server_log()
    mark = server_log.mark() if server_log is not None else 0
    header = _headers_of_call(call).get(DEPRECATION_HEADER)
    if server_log is None:
        evidence.partial(NOT_VERIFIED_WITHOUT_LOG)
        return header, None
    records = [r for r in server_log.records_since(mark) if is_deprecation_record(rpc)(r)]
    return header, records


# The recordings' ids and patterns, made this case's own before it is sent: the check is about
# the call, not its data, and with the recorded values it would change what ROUTE_DEFAULT_LEGACY
# (which sends the very recordings) measures in a default space shared by several workers.
OWN_VALUES = ("id", "memory_id", "content_contains")


def _own_values(message: Message, prefix: str) -> None:
    for field, value in message.ListFields():
        if field.message_type is not None:
            if field.is_repeated:
                for item in value:
                    _own_values(item, prefix)
            else:
                _own_values(value, prefix)
        elif field.name in OWN_VALUES and isinstance(value, str) and value:
            setattr(message, field.name, f"{prefix}-{value}")


def own_wire(legacy: LegacyClient, rpc: str, wire: tuple[bytes, ...], prefix: str) -> list[bytes]:
    """The recorded requests with their ids and patterns prefixed (still 1.0.0 messages)."""
    request_class = legacy.method(rpc).request
    owned = []
    for raw in wire:
        message = request_class.FromString(raw)
        _own_values(message, prefix)
        owned.append(message.SerializeToString())
    return owned


@check("DEPRECATION_WARNING")
def test_legacy_call_is_deprecated(
    recorded_case: str,
    recordings: dict[str, tuple[bytes, ...]],
    legacy: LegacyClient,
    compat_env: CompatEnv,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    rpc = recorded_case.split("/")[0]
    wire = own_wire(legacy, rpc, recordings[recorded_case], unique("dep"))

    def call() -> CallOutcome | EventWatcher:
        if rpc == "Stream":
            return EventWatcher.legacy(legacy, wire[0])
        return legacy.send(rpc, wire)

    header, records = _observe(compat_env, evidence, rpc, call)
    evidence.record(recording=recorded_case, deprecation_header=header)
    evidence.verify(
        bool(header), f"{DEPRECATION_HEADER} header on legacy {rpc}", "no deprecation header"
    )
    if records is not None:
        evidence.record(log_record=records[0] if records else None)
        evidence.verify(
            len(records) == 1,
            f"one WARNING log record naming {rpc}",
            f"{len(records)} WARNING records naming {rpc}",
        )


@check("DEPRECATION_WARNING")
@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_explicit_call_is_not_deprecated(
    rpc: str,
    new_client: NewClientFactory,
    space: str,
    compat_env: CompatEnv,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    client: NewClient = new_client(space, "field")
    memory_id = unique("explicit")

    def call() -> CallOutcome | EventWatcher:
        if rpc == "Stream":
            return EventWatcher.new(client)
        return client.call(rpc, *minimal_requests(client, rpc, memory_id))

    header, records = _observe(compat_env, evidence, rpc, call)
    evidence.record(space=space, deprecation_header=header)
    evidence.verify(header is None, "no deprecation header", f"{DEPRECATION_HEADER}: {header}")
    if records is not None:
        evidence.record(warning_records=len(records))
        evidence.verify(not records, "no WARNING record", f"{len(records)} WARNING records")
