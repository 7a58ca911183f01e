"""ERR_CONFLICT, ERR_UNKNOWN_SPACE and ERR_MALFORMED_SPACE."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from toolkit.compat.calls import NewClient, NewClientFactory
from toolkit.compat.checks import check
from toolkit.compat.environment import CompatEnv
from toolkit.compat.evidence import Evidence
from toolkit.compat.minimal import RPC_NAMES, minimal_call
from toolkit.contract import NOT_FOUND_REASON, SPACE_HEADER

MALFORMED_IDS = {
    "too_short": "ab",
    "too_long": "a" * 65,
    "uppercase": "Team-A",
    "path": "../etc",
    "whitespace": " team-a ",
    "dot": "team.a",
}


def space_exists(client: NewClient, space_id: str) -> bool:
    listed = client.call("ListSpaces", client.request("ListSpaces"))
    return any(s.id == space_id for s in listed.response.spaces)


@check("ERR_CONFLICT")
@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_field_and_header_disagree(
    rpc: str,
    new_client: NewClientFactory,
    space: str,
    other_space: str,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    client = new_client(space, "field")
    evidence.record(field=space, header=other_space)
    memory_id = unique("conflict")
    outcome = minimal_call(client, rpc, memory_id, [(SPACE_HEADER, other_space)])
    evidence.record(call=outcome.evidence())
    evidence.verify(
        outcome.code == "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        f"{outcome.code} {outcome.details}",
    )
    for where in (space, other_space):
        found = new_client(where).call(
            "Recall", new_client(where).request("Recall", cue={"id": memory_id})
        )
        evidence.verify(
            not found.response.memories, f"nothing written to {where}", f"{memory_id} in {where}"
        )


@check("ERR_UNKNOWN_SPACE")
@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_unknown_space_is_not_found(
    rpc: str,
    new_client: NewClientFactory,
    compat_env: CompatEnv,
    space: str,
    default_space: str,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    missing = compat_env.space_name("missing")
    client = new_client(missing, "field")
    outcome = minimal_call(client, rpc, unique("unknown"))
    evidence.record(space=missing, call=outcome.evidence())
    evidence.verify(outcome.code == "NOT_FOUND", "NOT_FOUND", f"{outcome.code} {outcome.details}")
    evidence.verify(
        missing in outcome.details and "create" in outcome.details.lower(),
        f"a message naming '{missing}' and how to create it",
        f"message {outcome.details!r}",
    )
    reason = (outcome.error_info or {}).get("reason")
    evidence.verify(
        reason == NOT_FOUND_REASON,
        f"google.rpc.ErrorInfo reason {NOT_FOUND_REASON}",
        f"ErrorInfo {outcome.error_info}",
    )
    admin = new_client(None, "none")
    exists = space_exists(admin, missing)
    evidence.verify(not exists, f"space {missing} still absent", f"space {missing} was created")
    named = [s for s in (space, default_space) if s in outcome.details]
    evidence.verify(not named, "the message names no other space", f"the message names {named}")


@check("ERR_MALFORMED_SPACE")
@pytest.mark.parametrize("how", ["field", "header"])
@pytest.mark.parametrize("label", sorted(MALFORMED_IDS))
def test_malformed_space_is_invalid_argument(
    label: str,
    how: str,
    new_client: NewClientFactory,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    if how == "header" and label == "whitespace":
        label = "uppercase"  # gRPC trims header values; the rule must hold for what arrives
    malformed = MALFORMED_IDS[label]
    client = new_client(malformed, "field" if how == "field" else "header")
    outcome = minimal_call(client, "Remember", unique("malformed"))
    evidence.record(space=malformed, named_by=how, call=outcome.evidence())
    evidence.verify(
        outcome.code == "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        f"{outcome.code} {outcome.details}",
    )
    evidence.verify(
        bool(outcome.bad_request),
        "a google.rpc.BadRequest detail",
        f"details {outcome.bad_request}",
    )
