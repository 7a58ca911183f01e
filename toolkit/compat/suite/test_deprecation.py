"""DEPRECATION_WARNING: legacy calls are told (header) and logged (WARNING); explicit ones not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from toolkit.compat.calls import CallOutcome, LegacyClient, NewClient
from toolkit.compat.checks import check
from toolkit.compat.client import DEPRECATION_HEADER
from toolkit.compat.environment import CompatEnv
from toolkit.compat.evidence import Evidence
from toolkit.compat.scenarios import EventWatcher, is_deprecation_record, wait_for_log
from toolkit.compat.suite.conftest import NewClientFactory
from toolkit.compat.suite.test_routing import RPCS


def _headers_of_call(rpc: str, call: Callable[[], CallOutcome | EventWatcher]) -> dict[str, str]:
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
    *,
    wait_s: float,
) -> tuple[str | None, list[dict[str, Any]] | None]:
    """The deprecation header of the call and the WARNING records it caused (None: no log)."""
    before = compat_env.log_records()
    headers = _headers_of_call(rpc, call)
    header = headers.get(DEPRECATION_HEADER)
    if before is None:
        evidence.record(server_log="not readable (external target): header checked only")
        return header, None
    records = wait_for_log(
        compat_env.log_records, is_deprecation_record(rpc), after=len(before), timeout=wait_s
    )
    return header, records


@check("DEPRECATION_WARNING")
def test_legacy_call_is_deprecated(
    recorded_case: str,
    recordings: dict[str, tuple[bytes, ...]],
    legacy: LegacyClient,
    compat_env: CompatEnv,
    evidence: Evidence,
) -> None:
    rpc = recorded_case.split("/")[0]
    wire = recordings[recorded_case]

    def call() -> CallOutcome | EventWatcher:
        if rpc == "Stream":
            return EventWatcher.legacy(legacy, wire[0])
        return legacy.send(rpc, wire)

    header, records = _observe(compat_env, evidence, rpc, call, wait_s=3.0)
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
@pytest.mark.parametrize("rpc", RPCS)
def test_explicit_call_is_not_deprecated(
    rpc: str,
    new_client: NewClientFactory,
    space: str,
    compat_env: CompatEnv,
    evidence: Evidence,
) -> None:
    client: NewClient = new_client(space, "field")
    requests = {
        "Remember": [client.request("Remember", memory={"content": "explicit"})],
        "Recall": [client.request("Recall", cue={"content_contains": "explicit"})],
        "Forget": [client.request("Forget", memory_id="absent")],
        "Experience": [client.request("Experience", episode={"what": "explicit"})],
        "Introspect": [client.request("Introspect")],
        "StreamingRemember": [client.request("StreamingRemember", memory={"content": "x"})],
        "MemoryFlow": [client.request("MemoryFlow", recall={"cue": {"id": "absent"}})],
    }

    def call() -> CallOutcome | EventWatcher:
        if rpc == "Stream":
            return EventWatcher.new(client)
        return client.call(rpc, *requests[rpc])

    # The server logs before it answers, so a record would be in the pipe already.
    header, records = _observe(compat_env, evidence, rpc, call, wait_s=0.3)
    evidence.record(space=space, deprecation_header=header)
    evidence.verify(header is None, "no deprecation header", f"{DEPRECATION_HEADER}: {header}")
    if records is not None:
        evidence.verify(not records, "no WARNING record", f"{len(records)} WARNING records")
