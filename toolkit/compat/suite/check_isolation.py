"""ISOLATION_DATA and FLOW_BOUND."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from toolkit.compat.calls import NewClient, NewClientFactory
from toolkit.compat.checks import check
from toolkit.compat.evidence import Evidence
from toolkit.compat.scenarios import recall_ids, remember
from toolkit.contract import SPACE_FIELD

READS = ["recall_by_id", "recall_by_content", "introspect_count", "memory_flow_recall", "forget"]


def _leak(read: str, reader: NewClient, writer: NewClient, memory_id: str, content: str) -> str:
    """What `reader` saw of the memory `writer` wrote through `read` ("" when nothing)."""
    if read == "recall_by_id":
        seen = recall_ids(reader, memory_id=memory_id)
        return f"Recall by id returned {seen}" if seen else ""
    if read == "recall_by_content":
        seen = recall_ids(reader, content=content)
        return f"Recall by content returned {seen}" if seen else ""
    if read == "introspect_count":
        # Only a space this check created has a known count: its own single write.
        count = reader.call("Introspect", reader.request("Introspect")).response.memory_count
        return f"memory_count {count}, not 1" if count != 1 else ""
    if read == "memory_flow_recall":
        flow = reader.call(
            "MemoryFlow", reader.request("MemoryFlow", recall={"cue": {"id": memory_id}})
        )
        seen = [m.id for r in flow.responses for m in r.recall.memories]
        return f"MemoryFlow recall {flow.code}, returned {seen}" if not flow.ok or seen else ""
    forgot = reader.call("Forget", reader.request("Forget", memory_id=memory_id))
    affected = forgot.response.memories_affected if forgot.ok else None
    still = recall_ids(writer, memory_id=memory_id)
    if affected == 0 and still == [memory_id]:
        return ""
    return f"Forget affected {affected}; left in {writer.space}: {still}"


@check("ISOLATION_DATA")
@pytest.mark.parametrize("read", READS)
def test_writes_are_invisible_from_another_space(
    read: str,
    new_client: NewClientFactory,
    space: str,
    other_space: str,
    default_space: str,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    # Every space written is read from every other one, the default space included.
    spaces = [space, other_space, default_space]
    written: dict[str, str] = {}
    try:
        for where in spaces:
            memory_id = unique("isolated")
            outcome = remember(new_client(where), memory_id, f"isolation probe {memory_id}")
            evidence.verify(
                outcome.ok, f"Remember in {where}: OK", f"{outcome.code} {outcome.details}"
            )
            written[where] = memory_id
        evidence.record(written=written, read=read)
        leaks: list[str] = []
        pairs = 0
        for writer, memory_id in written.items():
            for reader in spaces:
                if reader == writer or (read == "introspect_count" and reader == default_space):
                    continue  # the default space's count is shared with every other client
                pairs += 1
                content = f"isolation probe {memory_id}"
                leak = _leak(read, new_client(reader), new_client(writer), memory_id, content)
                if leak:
                    leaks.append(f"written in {writer}, read from {reader}: {leak}")
        evidence.record(pairs_read=pairs, leaks=leaks)
        evidence.verify(
            not leaks,
            f"{read}: no space sees another's memory ({pairs} writer/reader pairs)",
            "; ".join(leaks[:4]),
        )
    finally:
        # Leave the default space as found: remove what this check wrote there, by id.
        default = new_client(default_space)
        if default_space in written:
            default.call("Forget", default.request("Forget", memory_id=written[default_space]))


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
