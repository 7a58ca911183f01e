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


@check("ERR_CONFLICT")
@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_two_headers_disagree(
    rpc: str,
    new_client: NewClientFactory,
    space: str,
    other_space: str,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    client = new_client(None, "none")
    evidence.record(headers=[space, other_space])
    memory_id = unique("twoheaders")
    outcome = minimal_call(
        client, rpc, memory_id, [(SPACE_HEADER, space), (SPACE_HEADER, other_space)]
    )
    evidence.record(call=outcome.evidence())
    evidence.verify(
        outcome.code == "INVALID_ARGUMENT",
        f"INVALID_ARGUMENT for two {SPACE_HEADER} headers naming {space} and {other_space}",
        f"{outcome.code} {outcome.details}",
    )
    for where in (space, other_space):
        reader = new_client(where)
        found = reader.call("Recall", reader.request("Recall", cue={"id": memory_id}))
        evidence.verify(
            not found.response.memories, f"nothing written to {where}", f"{memory_id} in {where}"
        )


# Hostile values: (label, RPC, field the answer must name, request fields).
OUT_OF_RANGE_S = 10**11  # year 5138: a valid Timestamp, beyond what a server can store
BAD_VALUES: dict[str, tuple[str, str, dict[str, object]]] = {
    "nan_confidence": ("Remember", "memory.confidence", {"confidence": float("nan")}),
    "inf_confidence": ("Remember", "memory.confidence", {"confidence": float("inf")}),
    "minus_inf_confidence": ("Remember", "memory.confidence", {"confidence": float("-inf")}),
    "created_at_out_of_range": (
        "Remember",
        "memory.created_at",
        {"created_at": {"seconds": OUT_OF_RANGE_S}},
    ),
    "episode_when_out_of_range": (
        "Experience",
        "episode.when",
        {"when": {"seconds": -OUT_OF_RANGE_S}},
    ),
}


@check("ERR_BAD_VALUE")
@pytest.mark.parametrize("label", sorted(BAD_VALUES))
def test_hostile_value_is_invalid_argument(
    label: str,
    new_client: NewClientFactory,
    space: str,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    rpc, field, values = BAD_VALUES[label]
    client = new_client(space, "field")
    memory_id = unique("bad")
    if rpc == "Remember":
        request = client.request("Remember", memory={"id": memory_id, "content": "v", **values})
    else:
        request = client.request("Experience", episode={"id": memory_id, "what": "v", **values})
    outcome = client.call(rpc, request)
    (sent,) = values.values()
    evidence.record(space=space, rpc=rpc, sent={field: repr(sent)}, call=outcome.evidence())
    named = field in outcome.details or any(
        v.get("field") == field for v in (outcome.bad_request or [])
    )
    evidence.verify(
        outcome.code == "INVALID_ARGUMENT" and named,
        f"INVALID_ARGUMENT naming {field} for {rpc} with {field} = {sent}",
        f"{outcome.code} {outcome.details!r}",
    )
    if rpc == "Remember":
        found = client.call("Recall", client.request("Recall", cue={"id": memory_id}))
        evidence.verify(
            not found.response.memories, f"{memory_id} not stored", f"{memory_id} was stored"
        )
    good_id = unique("good")
    after = client.call(
        "Remember", client.request("Remember", memory={"id": good_id, "content": "fine"})
    )
    evidence.verify(
        after.ok, "the next valid Remember: OK", f"the next valid Remember: {after.code}"
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
