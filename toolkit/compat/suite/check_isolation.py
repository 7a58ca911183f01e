"""ISOLATION_DATA and FLOW_BOUND."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from toolkit.compat.calls import NewClientFactory
from toolkit.compat.checks import check
from toolkit.compat.evidence import Evidence
from toolkit.compat.scenarios import recall_ids, remember
from toolkit.contract import SPACE_FIELD

READS = ["recall_by_id", "recall_by_content", "introspect_count", "memory_flow_recall", "forget"]


@check("ISOLATION_DATA")
@pytest.mark.parametrize("read", READS)
def test_writes_are_invisible_from_another_space(
    read: str,
    new_client: NewClientFactory,
    space: str,
    other_space: str,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    writer, reader = new_client(space), new_client(other_space)
    memory_id = unique("isolated")
    content = f"isolation probe {memory_id}"
    written = remember(writer, memory_id, content)
    assert written.ok, written.details
    evidence.record(written_in=space, read_from=other_space, memory_id=memory_id)
    if read == "recall_by_id":
        seen = recall_ids(reader, memory_id=memory_id)
        evidence.verify(not seen, f"Recall in {other_space}: nothing", f"Recall returned {seen}")
    elif read == "recall_by_content":
        seen = recall_ids(reader, content=content)
        evidence.verify(not seen, f"Recall in {other_space}: nothing", f"Recall returned {seen}")
    elif read == "introspect_count":
        count = reader.call("Introspect", reader.request("Introspect")).response.memory_count
        evidence.verify(count == 0, "memory_count 0 in a fresh space", f"memory_count {count}")
    elif read == "memory_flow_recall":
        flow = reader.call(
            "MemoryFlow", reader.request("MemoryFlow", recall={"cue": {"id": memory_id}})
        )
        seen = [m.id for r in flow.responses for m in r.recall.memories]
        evidence.verify(
            flow.ok and not seen, "MemoryFlow recall: nothing", f"{flow.code}, returned {seen}"
        )
    else:
        forgot = reader.call("Forget", reader.request("Forget", memory_id=memory_id))
        affected = forgot.response.memories_affected if forgot.ok else None
        still = recall_ids(writer, memory_id=memory_id)
        evidence.verify(
            affected == 0 and still == [memory_id],
            f"Forget in {other_space} affects 0; {memory_id} stays in {space}",
            f"affected {affected}; in {space}: {still}",
        )


@check("FLOW_BOUND")
@pytest.mark.parametrize("switch", ["outer_field", "inner_field", "streaming_remember"])
def test_stream_cannot_change_space_mid_call(
    switch: str,
    new_client: NewClientFactory,
    space: str,
    other_space: str,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    client = new_client(None, "none")
    first, second = unique("bound-1"), unique("bound-2")
    if switch == "streaming_remember":
        rpc = "StreamingRemember"
        requests = [
            client.request(rpc, memory={"id": first}, **{SPACE_FIELD: space}),
            client.request(rpc, memory={"id": second}, **{SPACE_FIELD: other_space}),
        ]
    else:
        rpc = "MemoryFlow"
        requests = [client.request(rpc, remember={"memory": {"id": first}}, **{SPACE_FIELD: space})]
        if switch == "outer_field":
            requests.append(
                client.request(
                    rpc, remember={"memory": {"id": second}}, **{SPACE_FIELD: other_space}
                )
            )
        else:
            inner = {"memory": {"id": second}, SPACE_FIELD: other_space}
            requests.append(client.request(rpc, remember=inner))
    outcome = client.call(rpc, *requests)
    evidence.record(first_space=space, second_space=other_space, call=outcome.evidence())
    evidence.verify(
        outcome.code == "INVALID_ARGUMENT",
        "INVALID_ARGUMENT once a message names a second space",
        f"{outcome.code} {outcome.details}",
    )
    leaked = recall_ids(new_client(other_space), memory_id=second)
    evidence.verify(not leaked, f"nothing written to {other_space}", f"{second} in {other_space}")
