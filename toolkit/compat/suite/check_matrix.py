"""MATRIX: {legacy, new client} x {legacy, current server}, each cell with its expected outcome.

A legacy server does not know `memory_space_id`: it parses the field as unknown and acts on its
only space. That cell passing as expected is what turns into "upgrade servers before clients".
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from toolkit.compat.calls import LegacyClient, NewClient, echoed_space
from toolkit.compat.checks import check
from toolkit.compat.environment import CompatEnv
from toolkit.compat.evidence import Evidence
from toolkit.compat.results import SPACE_IGNORED
from toolkit.contract import PACKAGE

EXPECTED = {
    ("legacy", "legacy"): "OK",
    ("legacy", "current"): "OK_DEFAULT_SPACE",
    ("new", "current"): "OK_NAMED_SPACE",
    ("new", "legacy"): SPACE_IGNORED,
}


def _legacy_readback(channel_client: LegacyClient, memory_id: str) -> list[str]:
    cue = channel_client.schema.message(f"{PACKAGE}.RecallRequest")(cue={"id": memory_id})
    outcome = channel_client.call("Recall", cue)
    return [m.id for m in outcome.response.memories] if outcome.ok else []


@check("MATRIX")
@pytest.mark.parametrize(("client", "server"), sorted(EXPECTED))
def test_matrix_cell(
    client: str,
    server: str,
    compat_env: CompatEnv,
    unique: Callable[[str], str],
    default_space: str,
    evidence: Evidence,
) -> None:
    channel = compat_env.channel("legacy" if server == "legacy" else "current")
    memory_id = unique("matrix")
    expected = EXPECTED[(client, server)]
    if client == "legacy":
        legacy = LegacyClient(channel)
        request = legacy.schema.message(f"{PACKAGE}.RememberRequest")(
            memory={"id": memory_id, "content": "matrix"}
        )
        outcome = legacy.call("Remember", request)
        found = _legacy_readback(legacy, memory_id)
        if not outcome.ok or found != [memory_id]:
            observed = f"FAILED_{outcome.code}"
        elif server == "current":
            # Whether it was also told it is deprecated is DEPRECATION_WARNING's concern.
            echoed = echoed_space(outcome)
            observed = "OK_DEFAULT_SPACE" if echoed == default_space else f"OK_ROUTED_TO_{echoed}"
        else:
            observed = "OK"
    else:
        space = compat_env.new_space("matrix") if server == "current" else unique("absent")
        new = NewClient(channel, space, "field")
        outcome = new.call(
            "Remember", new.request("Remember", memory={"id": memory_id, "content": "m"})
        )
        echoed = echoed_space(outcome)
        if not outcome.ok:
            observed = f"FAILED_{outcome.code}"
        elif server == "current":
            observed = "OK_NAMED_SPACE" if echoed == space else f"OK_ROUTED_TO_{echoed}"
        else:
            # The legacy server kept the write in its only space and named no space back.
            found = _legacy_readback(LegacyClient(channel), memory_id)
            observed = SPACE_IGNORED if found == [memory_id] and echoed is None else "OK_UNCLEAR"
    evidence.record(
        call=outcome.evidence(),
        cell={
            "client": client,
            "server": server,
            "expected": expected,
            "observed": observed,
            "passed": observed == expected,
        },
    )
    evidence.verify(observed == expected, expected, observed)
