"""The invariants: every acknowledged write readable from the space it was addressed to
(legacy writes: the default space), and from no other.

Each server of the fleet has its own data dir, so a write is looked for on every server.
A server of the current schema is read space by space (ListSpaces, then Recall in each);
a legacy server has one unnamed store, which is where every legacy client's write belongs,
so it counts as the default space. A write found outside its space is misplaced (found in
its space and another too, it is still visible from another space: also misplaced); found
nowhere it is lost, unless the server that held it was rolled back: then it is rollback
unsafe, and the run says what the operator would have to do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import grpc

from toolkit.contract import (
    DEFAULT_SPACE,
    ENGRAM_SERVICE_NAME,
    PACKAGE,
    SPACE_FIELD,
    SPACE_SERVICE_NAME,
)
from toolkit.rehearse.workload import CALL_TIMEOUT_S, CONTENT_PREFIX, Schemas, Write, offers_spaces
from toolkit.server.registry import SPACES_DIR
from toolkit.server.store import DATABASE_NAME

READ_LIMIT = 1_000_000
READ_ATTEMPTS = 5

# server name -> space -> ids of the memories it holds there
FleetContents = dict[str, dict[str, frozenset[str]]]


class Verdict(Enum):
    OK = "ok"
    MISPLACED = "misplaced"
    LOST = "lost"
    ROLLBACK_UNSAFE = "rollback_unsafe"


@dataclass(frozen=True)
class Tally:
    ok: int = 0
    misplaced: int = 0
    lost: int = 0
    rollback_unsafe: int = 0


def _recall_all(schema: Any, channel: grpc.Channel, space: str | None) -> frozenset[str]:
    request = schema.message(f"{PACKAGE}.RecallRequest")()
    request.cue.content_contains = CONTENT_PREFIX
    request.max_results = READ_LIMIT
    if space is not None:
        setattr(request, SPACE_FIELD, space)
    recall = schema.callable(channel, schema.method(ENGRAM_SERVICE_NAME, "Recall"))
    answer = recall(request, timeout=CALL_TIMEOUT_S * 3)
    return frozenset(memory.id for memory in answer.memories)


def read_server(address: str, schemas: Schemas) -> dict[str, frozenset[str]]:
    """Every space of one server and the ids it holds (a legacy server: its one store)."""
    last: grpc.RpcError | None = None
    for _ in range(READ_ATTEMPTS):
        try:
            with grpc.insecure_channel(address) as channel:
                if not offers_spaces(channel):
                    return {DEFAULT_SPACE: _recall_all(schemas.legacy, channel, None)}
                current = schemas.current
                list_spaces = current.callable(
                    channel, current.method(SPACE_SERVICE_NAME, "ListSpaces")
                )
                answer = list_spaces(
                    current.message(f"{PACKAGE}.ListSpacesRequest")(), timeout=CALL_TIMEOUT_S
                )
                return {
                    space.id: _recall_all(current, channel, space.id) for space in answer.spaces
                }
        except grpc.RpcError as exc:
            last = exc
    assert last is not None
    raise last


def read_fleet(servers: Mapping[str, str], schemas: Schemas) -> FleetContents:
    """`servers`: name -> address."""
    return {name: read_server(address, schemas) for name, address in servers.items()}


def read_data_dir(data_dir: Path) -> frozenset[str]:
    """Every memory id a stopped current-schema server holds on disk, in any space."""
    found: set[str] = set()
    for database in sorted((data_dir / SPACES_DIR).glob(f"*/{DATABASE_NAME}")):
        connection = sqlite3.connect(database)
        try:
            found.update(row[0] for row in connection.execute("SELECT id FROM memories"))
        finally:
            connection.close()
    return frozenset(found)


def judge(
    write: Write,
    contents: FleetContents,
    rolled_back: Iterable[frozenset[str]] = (),
    rollback_windows: Iterable[tuple[float, float]] = (),
) -> Verdict:
    """Where `write` is now. `rolled_back`: what each rolled-back server held before.

    `rollback_windows`: for a server whose data dir cannot be read (an external fleet), from
    its last read to its return on the legacy schema; a write acknowledged then and found
    nowhere was held by that server, since every other server still serves its data.
    """
    places = [
        space for spaces in contents.values() for space, ids in spaces.items() if write.id in ids
    ]
    if any(space != write.space for space in places):
        return Verdict.MISPLACED
    if places:
        return Verdict.OK
    if any(write.id in held for held in rolled_back):
        return Verdict.ROLLBACK_UNSAFE
    if any(start <= write.acked_s <= end for start, end in rollback_windows):
        return Verdict.ROLLBACK_UNSAFE
    return Verdict.LOST


def tally(verdicts: Sequence[Verdict]) -> Tally:
    return Tally(
        ok=verdicts.count(Verdict.OK),
        misplaced=verdicts.count(Verdict.MISPLACED),
        lost=verdicts.count(Verdict.LOST),
        rollback_unsafe=verdicts.count(Verdict.ROLLBACK_UNSAFE),
    )


def rollback_remedy(server: str, unsafe: int, default_space: str) -> str:
    """What the operator of a rolled-back server would have to do about its unsafe writes."""
    return (
        f"server {server}, back on the legacy schema, reads only {DATABASE_NAME} directly in "
        f"its data dir and cannot see {unsafe} acknowledged writes kept in {SPACES_DIR}/ (the "
        f"adopted default space '{default_space}' and the new clients' spaces). Before such a "
        f"rollback, stop the server and copy {SPACES_DIR}/{default_space}/{DATABASE_NAME} back "
        f"to {DATABASE_NAME} in the data dir (the retired pre-migration-*/ copy is older); the "
        f"new clients' spaces stay invisible to a legacy server. After the rollback the next "
        f"upgrade refuses to adopt until the old server's new writes and the default space "
        f"are merged into one store."
    )
