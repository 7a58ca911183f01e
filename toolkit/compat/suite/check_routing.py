"""ROUTE_DEFAULT_LEGACY, ROUTE_EXPLICIT and ROUTE_HEADER."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from toolkit.compat.calls import (
    CallOutcome,
    LegacyClient,
    NewClient,
    NewClientFactory,
    echoed_space,
)
from toolkit.compat.checks import check
from toolkit.compat.evidence import Evidence
from toolkit.compat.minimal import RPC_NAMES
from toolkit.compat.scenarios import EventWatcher, recall_ids, remember
from toolkit.contract import SPACE_FIELD, SPACE_HEADER


def _ok(evidence: Evidence, outcome: CallOutcome, space: str, what: str) -> None:
    evidence.record(call=outcome.evidence())
    evidence.verify(outcome.ok, f"{what}: OK", f"{what}: {outcome.code} {outcome.details}")
    echoed = echoed_space(outcome)
    evidence.verify(
        echoed == space,
        f"{SPACE_HEADER}: {space}",
        f"{SPACE_HEADER}: {echoed}",
    )


def _found(evidence: Evidence, client: NewClient, memory_id: str, where: str, want: bool) -> None:
    ids = recall_ids(client, memory_id=memory_id)
    seen = memory_id in ids
    evidence.verify(
        seen == want,
        f"{memory_id} {'present' if want else 'absent'} in {where}",
        f"{memory_id} {'present' if seen else 'absent'} in {where}",
    )


# --- ROUTE_DEFAULT_LEGACY --------------------------------------------------------------------


class LegacyCase:
    """One recorded legacy request sent again, with clients to read back its effect."""

    def __init__(
        self,
        legacy: LegacyClient,
        wire: tuple[bytes, ...],
        home: NewClient,
        control: NewClient,
        evidence: Evidence,
    ) -> None:
        self.legacy, self.wire, self.home, self.control = legacy, wire, home, control
        self.evidence = evidence
        self.default = str(home.space)

    def parsed(self, rpc: str) -> list[Any]:
        method = self.legacy.method(rpc)
        return [method.request.FromString(w) for w in self.wire]

    def send(self, rpc: str) -> CallOutcome:
        outcome = self.legacy.send(rpc, self.wire)
        _ok(self.evidence, outcome, self.default, f"legacy {rpc}")
        return outcome

    def lands_in_default(self, memory_id: str) -> None:
        _found(self.evidence, self.home, memory_id, f"space {self.default}", True)
        _found(self.evidence, self.control, memory_id, "another space", False)


def _legacy_remember(case: LegacyCase) -> None:
    (request,) = case.parsed("Remember")
    watcher = EventWatcher.new(case.home)
    try:
        outcome = case.send("Remember")
        memory_id = outcome.response.memory_id
        arrived = watcher.wait_until(lambda evs: any(e.memory.id == memory_id for e in evs))
        case.evidence.verify(
            arrived,
            f"an event for {memory_id} in space {case.default}",
            f"{len(watcher.events)} events, none for {memory_id}",
        )
    finally:
        watcher.stop()
    if request.WhichOneof("memory_type") == "memory":
        case.lands_in_default(memory_id)


def _legacy_recall(case: LegacyCase) -> None:
    (request,) = case.parsed("Recall")
    # A recorded id may be written by another recorded case too (in a default space that other
    # workers share): only "one memory with that id, from the default space" is this case's.
    target = request.cue.id or f"{case.control.space}-recall-target"
    content = f"{request.cue.content_contains or 'legacy recall'} target"
    remember(case.home, target, f"{content} in default")
    remember(case.control, target, f"{content} in another space")
    outcome = case.send("Recall")
    contents = [m.content for m in outcome.response.memories if m.id == target]
    case.evidence.record(recalled=contents)
    from_default = len(contents) == 1 and not contents[0].endswith("in another space")
    if not request.cue.id:
        from_default = contents == [f"{content} in default"]
    case.evidence.verify(
        from_default,
        f"{target} recalled once, from the default space",
        f"{target} recalled as {contents}",
    )


def _legacy_forget(case: LegacyCase) -> None:
    (request,) = case.parsed("Forget")
    if request.WhichOneof("target") == "memory_id":
        target, content = request.memory_id, "legacy forget target"
    else:
        target = f"{case.control.space}-forget"
        content = f"{request.pattern.content_contains} target"
    remember(case.home, target, content)
    remember(case.control, target, content)
    outcome = case.send("Forget")
    affected = outcome.response.memories_affected
    case.evidence.verify(affected >= 1, "memories_affected >= 1", f"memories_affected {affected}")
    _found(case.evidence, case.home, target, f"space {case.default}", False)
    _found(case.evidence, case.control, target, "another space (untouched)", True)


def _legacy_experience(case: LegacyCase) -> None:
    watcher = EventWatcher.new(case.home)
    try:
        outcome = case.send("Experience")
        episode_id = outcome.response.episode_id
        arrived = watcher.wait_until(lambda evs: any(e.memory.id == episode_id for e in evs))
        case.evidence.verify(
            arrived,
            f"an EXPERIENCED event for {episode_id} in space {case.default}",
            f"{len(watcher.events)} events, none for {episode_id}",
        )
    finally:
        watcher.stop()


# Other clients (other workers against one --target) may write to the default space while
# its count is read: the comparison is made in a window where the count held still.
INTROSPECT_ATTEMPTS = 10


def _legacy_introspect(case: LegacyCase) -> None:
    remember(case.control, f"{case.control.space}-marker")

    def count() -> int:
        return int(
            case.home.call("Introspect", case.home.request("Introspect")).response.memory_count
        )

    for _ in range(INTROSPECT_ATTEMPTS):
        before = count()
        outcome = case.send("Introspect")
        after = count()
        if before == after:
            break
    legacy_count = outcome.response.memory_count
    if before != after:
        case.evidence.partial(
            f"memory_count of space {case.default}: it changed during each of "
            f"{INTROSPECT_ATTEMPTS} attempts (other clients write to it)"
        )
        return
    case.evidence.verify(
        legacy_count == after,
        f"memory_count of space {case.default}: {after}",
        f"memory_count {legacy_count}",
    )


def _legacy_stream(case: LegacyCase) -> None:
    watcher = EventWatcher.legacy(case.legacy, case.wire[0])
    try:
        headers = watcher.ready()
        echoed = headers.get(SPACE_HEADER)
        case.evidence.record(headers={k: v for k, v in headers.items() if "engram" in k})
        case.evidence.verify(
            echoed == case.default,
            f"{SPACE_HEADER}: {case.default}",
            f"{SPACE_HEADER}: {echoed}",
        )
        memory_id = f"{case.control.space}-streamed"
        remember(case.home, memory_id)
        arrived = watcher.wait_until(lambda evs: any(e.memory.id == memory_id for e in evs))
        case.evidence.verify(
            arrived,
            f"the legacy subscriber receives {memory_id} written to {case.default}",
            f"{len(watcher.events)} events (code {watcher.code} {watcher.details})",
        )
    finally:
        watcher.stop()


def _legacy_streaming_remember(case: LegacyCase) -> None:
    outcome = case.send("StreamingRemember")
    ids = list(outcome.response.memory_ids)
    case.evidence.verify(
        len(ids) == len(case.wire), f"{len(case.wire)} memory ids", f"memory ids {ids}"
    )
    for memory_id in ids:
        case.lands_in_default(memory_id)


def _legacy_memory_flow(case: LegacyCase) -> None:
    requests = case.parsed("MemoryFlow")
    outcome = case.send("MemoryFlow")
    case.evidence.verify(
        len(outcome.responses) == len(requests),
        f"{len(requests)} responses",
        f"{len(outcome.responses)} responses",
    )
    for request in requests:
        if request.WhichOneof("request") == "remember" and request.remember.memory.id:
            case.lands_in_default(request.remember.memory.id)


LEGACY_EFFECTS: dict[str, Callable[[LegacyCase], None]] = {
    "Remember": _legacy_remember,
    "Recall": _legacy_recall,
    "Forget": _legacy_forget,
    "Experience": _legacy_experience,
    "Introspect": _legacy_introspect,
    "Stream": _legacy_stream,
    "StreamingRemember": _legacy_streaming_remember,
    "MemoryFlow": _legacy_memory_flow,
}


@check("ROUTE_DEFAULT_LEGACY")
def test_legacy_request_lands_in_default_space(
    recorded_case: str,
    recordings: dict[str, tuple[bytes, ...]],
    legacy: LegacyClient,
    new_client: NewClientFactory,
    default_space: str,
    space: str,
    evidence: Evidence,
) -> None:
    rpc = recorded_case.split("/")[0]
    evidence.record(recording=recorded_case, default_space=default_space)
    case = LegacyCase(
        legacy, recordings[recorded_case], new_client(default_space), new_client(space), evidence
    )
    LEGACY_EFFECTS[rpc](case)


# --- ROUTE_EXPLICIT and ROUTE_HEADER ---------------------------------------------------------


def _explicit(
    rpc: str,
    client: NewClient,
    named: NewClient,
    default: NewClient,
    evidence: Evidence,
    memory_id: str,
) -> None:
    """`client` names space S (by field or header); `named` reads S by field."""
    space = str(client.space)
    if rpc == "Remember":
        _ok(evidence, remember(client, memory_id), space, rpc)
        _found(evidence, named, memory_id, f"space {space}", True)
        _found(evidence, default, memory_id, "the default space", False)
    elif rpc == "Recall":
        remember(named, memory_id, "in the named space")
        remember(default, memory_id, "in the default space")
        outcome = client.call("Recall", client.request("Recall", cue={"id": memory_id}))
        _ok(evidence, outcome, space, rpc)
        contents = [m.content for m in outcome.response.memories]
        evidence.verify(
            contents == ["in the named space"],
            f"{memory_id} from space {space}",
            f"{memory_id} recalled as {contents}",
        )
    elif rpc == "Forget":
        remember(named, memory_id)
        remember(default, memory_id)
        outcome = client.call("Forget", client.request("Forget", memory_id=memory_id))
        _ok(evidence, outcome, space, rpc)
        _found(evidence, named, memory_id, f"space {space}", False)
        _found(evidence, default, memory_id, "the default space (untouched)", True)
    elif rpc == "Experience":
        watcher = EventWatcher.new(named)
        try:
            request = client.request("Experience", episode={"id": memory_id, "what": "explicit"})
            _ok(evidence, client.call("Experience", request), space, rpc)
            arrived = watcher.wait_until(lambda evs: any(e.memory.id == memory_id for e in evs))
            evidence.verify(
                arrived, f"an event for {memory_id} in {space}", f"{len(watcher.events)} events"
            )
        finally:
            watcher.stop()
    elif rpc == "Introspect":
        outcome = client.call("Introspect", client.request("Introspect"))
        _ok(evidence, outcome, space, rpc)
        resolved = outcome.response.resolved_memory_space_id
        evidence.verify(
            resolved == space, f"resolved_memory_space_id {space}", f"resolved {resolved}"
        )
    elif rpc == "Stream":
        watcher = EventWatcher.new(client)
        try:
            echoed = watcher.ready().get(SPACE_HEADER)
            evidence.verify(
                echoed == space,
                f"{SPACE_HEADER}: {space}",
                f"{SPACE_HEADER}: {echoed}",
            )
            remember(named, memory_id)
            arrived = watcher.wait_until(lambda evs: any(e.memory.id == memory_id for e in evs))
            evidence.verify(
                arrived, f"the event of {memory_id} in {space}", f"{len(watcher.events)} events"
            )
        finally:
            watcher.stop()
    elif rpc == "StreamingRemember":
        requests = [
            client.request("StreamingRemember", memory={"id": f"{memory_id}-{i}"}) for i in (1, 2)
        ]
        _ok(evidence, client.call("StreamingRemember", *requests), space, rpc)
        _found(evidence, named, f"{memory_id}-2", f"space {space}", True)
        _found(evidence, default, f"{memory_id}-2", "the default space", False)
    elif rpc == "MemoryFlow":
        flow = [
            client.request("MemoryFlow", remember={"memory": {"id": memory_id}}),
            client.request("MemoryFlow", recall={"cue": {"id": memory_id}}),
        ]
        outcome = client.call("MemoryFlow", *flow)
        _ok(evidence, outcome, space, rpc)
        _found(evidence, named, memory_id, f"space {space}", True)
        _found(evidence, default, memory_id, "the default space", False)


@check("ROUTE_EXPLICIT")
@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_field_routes_to_named_space(
    rpc: str,
    new_client: NewClientFactory,
    space: str,
    default_space: str,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    evidence.record(space=space, rpc=rpc, named_by=SPACE_FIELD)
    client = new_client(space, "field")
    _explicit(rpc, client, client, new_client(default_space), evidence, unique("explicit"))


@check("ROUTE_HEADER")
@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_header_alone_routes_to_named_space(
    rpc: str,
    new_client: NewClientFactory,
    space: str,
    default_space: str,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    evidence.record(space=space, rpc=rpc, named_by=SPACE_HEADER)
    client = new_client(space, "header")
    named = new_client(space, "field")
    _explicit(rpc, client, named, new_client(default_space), evidence, unique("header"))
