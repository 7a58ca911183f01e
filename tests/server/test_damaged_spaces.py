"""Issue 13 item 2: one broken space never takes the server down (a real `serve` process)."""

from __future__ import annotations

import os
from pathlib import Path

import grpc

from tests.server.serving import code_of, serving
from toolkit.contract import QUARANTINE_HEADER, QUARANTINED_COUNT
from toolkit.server.registry import MemorySpaceRegistry
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import (
    DATABASE_NAME,
    MANIFEST_NAME,
    WAL_NAME,
    SpaceStore,
    StoreDamaged,
    StoredMemory,
)

DAMAGES = {
    # space: (how its files are damaged, the status its calls get)
    "garbage": ("the database overwritten with garbage", grpc.StatusCode.DATA_LOSS),
    "truncated": ("the database truncated to zero bytes", grpc.StatusCode.DATA_LOSS),
    "walonly": ("the database removed while a WAL remains", grpc.StatusCode.DATA_LOSS),
    "pages": ("the pages after the header overwritten", grpc.StatusCode.DATA_LOSS),
    "nomanifest": ("an empty database file and no manifest", grpc.StatusCode.DATA_LOSS),
    "unreadable": ("the database replaced by a folder", grpc.StatusCode.UNAVAILABLE),
}


def damage(space: Path, how: str) -> None:
    database = space / DATABASE_NAME
    if how == "garbage":
        database.write_bytes(b"\x13" * database.stat().st_size)
    elif how == "truncated":
        database.write_bytes(b"")
    elif how == "walonly":
        (space / WAL_NAME).write_bytes(b"\x00" * 64)
        database.unlink()
    elif how == "pages":
        data = bytearray(database.read_bytes())
        data[100:] = b"\xa5" * (len(data) - 100)
        database.write_bytes(bytes(data))
    elif how == "nomanifest":
        (space / MANIFEST_NAME).unlink()
        database.write_bytes(b"")
    elif how == "unreadable":
        database.unlink()
        database.mkdir()


def seed(data: Path, spaces: list[str]) -> None:
    registry = MemorySpaceRegistry(data)
    for space in spaces:
        registry.create(MemorySpaceId(space)).store.remember(StoredMemory("m", space, 0.5, (), 1))
    registry.close()


def test_damaged_spaces_are_quarantined_and_the_rest_is_served(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed(data, ["healthy", *DAMAGES])
    for space in DAMAGES:
        damage(data / "spaces" / space, space)
    with serving(data, tmp_path / "serve.log") as (served, client):
        assert [m.id for m in client.recall("healthy", memory_id="m").memories] == ["m"]
        client.remember("still fine")  # the default space
        for space, (how, expected) in DAMAGES.items():
            for action in (
                lambda: client.recall(space, memory_id="m"),  # noqa: B023
                lambda: client.remember("x", space),  # noqa: B023
                lambda: next(
                    client.rpc("Stream")(
                        client.msg("StreamRequest", memory_space_id=space),  # noqa: B023
                        timeout=5,
                    )
                ),
            ):
                code, details = code_of(action)
                assert code == expected, (how, code, details)
                assert f"memory space '{space}' is quarantined" in details, how
        listed, call = client.with_call("ListSpaces", client.msg("ListSpacesRequest"))
        counts = {s.id: s.memory_count for s in listed.spaces}
        assert counts == {
            "default": 1,
            "healthy": 1,
            **{space: QUARANTINED_COUNT for space in DAMAGES},
        }
        reasons = [v for k, v in call.trailing_metadata() if k == QUARANTINE_HEADER]
        assert sorted(r.split(":")[0] for r in reasons) == sorted(DAMAGES)
        got, call = client.with_call(
            "GetSpace", client.msg("GetSpaceRequest", memory_space_id="truncated")
        )
        assert got.space.memory_count == QUARANTINED_COUNT
        assert any("truncated to zero bytes" in v for k, v in call.trailing_metadata())
        # An operator can still delete a quarantined space.
        client.call("DeleteSpace", client.msg("DeleteSpaceRequest", memory_space_id="garbage"))
    records = served.records()
    errors = [r for r in records if r["level"] == "ERROR"]
    assert sorted(str(r["space"]) for r in errors) == sorted(DAMAGES)  # one record each
    assert all(str(r["file"]).startswith(str(data.resolve())) and r["reason"] for r in errors)
    assert "Traceback" not in served.log_text()


def test_an_empty_file_is_not_a_new_empty_space(tmp_path: Path) -> None:
    store = SpaceStore.open(tmp_path / "space")
    store.close()
    (tmp_path / "space" / DATABASE_NAME).write_bytes(b"")
    try:
        SpaceStore.open(tmp_path / "space")
    except StoreDamaged as damaged:
        assert damaged.corrupt and "truncated to zero bytes" in str(damaged)
    else:
        raise AssertionError("an empty database was opened as a new space")


def test_a_store_checks_at_open_what_its_manifest_says(tmp_path: Path) -> None:
    store = SpaceStore.open(tmp_path / "space")
    store.close()
    manifest = (tmp_path / "space" / MANIFEST_NAME).read_text()
    assert '"tables": ["meta", "memories", "episodes"]' in manifest
    # A database that lost a table it was created with is corrupt, not silently repaired.
    import sqlite3

    connection = sqlite3.connect(tmp_path / "space" / DATABASE_NAME)
    connection.execute("DROP TABLE episodes")
    connection.close()
    try:
        SpaceStore.open(tmp_path / "space")
    except StoreDamaged as damaged:
        assert "episodes" in str(damaged)
    else:
        raise AssertionError("a store without its episodes table was opened")


def test_the_quarantine_check_can_fail(tmp_path: Path) -> None:
    """Without the damage, the same calls succeed: the statuses above come from it."""
    data = tmp_path / "data"
    seed(data, ["truncated"])
    with serving(data, tmp_path / "serve.log") as (_, client):
        assert code_of(lambda: client.recall("truncated", memory_id="m"))[0] == (grpc.StatusCode.OK)
    assert os.path.getsize(data / "spaces" / "truncated" / DATABASE_NAME) > 0


def read_only_open(directory: Path) -> SpaceStore:
    """Opens a store whose database then refuses writes, as a read-only file does for a
    server that is not root (`query_only`: SQLite answers "attempt to write a readonly
    database")."""
    store = SpaceStore.open(directory)
    if directory.name == "team-a":
        assert store._db is not None
        store._db.execute("PRAGMA query_only = ON")
    return store


def test_a_space_that_turns_read_only_is_quarantined_as_unavailable(tmp_path: Path) -> None:
    from tests.server.conftest import start
    from toolkit.server.app import ServerOverrides

    server = start(tmp_path / "data", ServerOverrides(store_factory=read_only_open))
    try:
        with grpc.insecure_channel(server.address) as channel:
            from tests.server.conftest import Client

            client = Client(channel)
            client.create_space("team-a")
            client.create_space("team-b")
            for _ in range(3):
                code, details = code_of(lambda: client.remember("after", "team-a"))
                assert code == grpc.StatusCode.UNAVAILABLE, details
                assert "memory space 'team-a' is quarantined" in details
                assert "readonly" in details
            assert client.remember("fine", "team-b")
    finally:
        server.stop()
