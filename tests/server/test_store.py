"""A store answers reads from memory: those answers must be what SQLite holds.

Random sequences of writes, then every read is compared with a reopened store (whose view is
loaded from disk) and with the same query asked of SQLite directly.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.server.store import DATABASE_NAME, SpaceStore, StoredMemory

IDS = ["a", "b", "c", "d", "e"]
CONFIDENCES = [0.0, 0.25, 0.5, 1.0]
CUES = ["", "x", "xy", "yz", "q"]

memories = st.builds(
    StoredMemory,
    id=st.sampled_from(IDS),
    content=st.text(alphabet="xyz", max_size=4),
    confidence=st.sampled_from(CONFIDENCES),
    embedding=st.sampled_from([(), (0.1, 2.5), (1e-8,)]),
    created_at_ns=st.integers(0, 2**40),
)
operations = st.one_of(
    st.tuples(st.just("remember"), memories),
    st.tuples(st.just("remember_many"), st.lists(memories, min_size=1, max_size=4)),
    st.tuples(st.just("forget"), st.lists(st.sampled_from(IDS), max_size=3), st.booleans()),
)


def apply(store: SpaceStore, operation: tuple[Any, ...]) -> None:
    kind, *args = operation
    if kind == "remember":
        store.remember(args[0])
    elif kind == "remember_many":
        store.remember_many(args[0])
    else:
        store.forget(args[0], soft=args[1])


def reads(store: SpaceStore) -> dict[str, Any]:
    """Every kind of read a server makes, with its answers."""
    found: dict[str, Any] = {"all": store.find(), "count": store.count()}
    for memory_id in IDS:
        found[f"id {memory_id}"] = store.find(memory_id=memory_id)
    for cue in CUES:
        for threshold in CONFIDENCES:
            found[f"{cue!r} >= {threshold}"] = store.find(
                content_contains=cue, min_confidence=threshold, limit=2
            )
    return found


def sqlite_ids(directory: Path, cue: str, threshold: float) -> list[str]:
    with sqlite3.connect(directory / DATABASE_NAME) as db:
        rows = db.execute(
            "SELECT id FROM memories WHERE deleted = 0 AND confidence >= ?"
            " AND instr(content, ?) > 0 ORDER BY seq",
            (threshold, cue),
        ).fetchall()
    return [row[0] for row in rows]


@settings(max_examples=80, deadline=None)
@given(history=st.lists(operations, max_size=30))
def test_reads_from_memory_are_what_sqlite_holds(
    tmp_path_factory: pytest.TempPathFactory, history: list[tuple[Any, ...]]
) -> None:
    directory = tmp_path_factory.mktemp("store")
    store = SpaceStore.open(directory)
    for operation in history:
        apply(store, operation)
    answered = reads(store)
    store.close()

    reopened = SpaceStore.open(directory)
    try:
        assert reads(reopened) == answered
    finally:
        reopened.close()
    for cue in CUES:
        for threshold in CONFIDENCES:
            ids = sqlite_ids(directory, cue, threshold)
            found, total = answered[f"{cue!r} >= {threshold}"]
            assert ([m.id for m in found], total) == (ids[:2], len(ids))


def test_a_memory_reads_back_as_stored_on_disk(tmp_path: Path) -> None:
    """Embeddings are stored as float32: the copy in memory holds the same values."""
    store = SpaceStore.open(tmp_path)
    returned = store.remember(StoredMemory("m", "c", 0.5, (0.1,), 7))
    assert returned.embedding == store.find(memory_id="m")[0][0].embedding
    assert returned.embedding != (0.1,)  # 0.1 has no exact float32
    store.close()
    reopened = SpaceStore.open(tmp_path)
    assert reopened.find(memory_id="m")[0] == [returned]
    reopened.close()
