"""Issue 13 item 3: lifecycle operations are all-or-nothing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import grpc
import pytest

from tests.server.conftest import Client
from tests.server.serving import code_of, launch, serving
from toolkit.server.registry import (
    CREATING_MARKER,
    TOMBSTONE_PREFIX,
    LifecycleError,
    MemorySpaceRegistry,
)
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import SpaceStore, StoredMemory

ALPHA = MemorySpaceId("alpha")


class DeleteInPlace(MemorySpaceRegistry):
    """Deliberately broken: the delete of before, which answered `deleted` whatever
    `rmtree(ignore_errors=True)` left behind."""

    def delete(self, space_id: MemorySpaceId, *, protected: MemorySpaceId | None = None) -> None:
        import shutil

        handle = self._spaces.pop(space_id)
        handle.store.close()
        shutil.rmtree(handle.path, ignore_errors=True)


def failing_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every rename and every removal fails, as on a folder the server may not change."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "rename", refuse)
    monkeypatch.setattr("shutil.rmtree", lambda *a, **k: None)  # ignore_errors: silent


def delete_is_honest(
    registry_class: type[MemorySpaceRegistry], data: Path, monkeypatch: pytest.MonkeyPatch
) -> bool:
    """Delete a space where renames fail: honest when the delete reported an error (and the
    space is still served), or when the space does not come back after a restart."""
    registry = registry_class(data)
    registry.create(ALPHA).store.remember(StoredMemory("m", "kept", 0.5, (), 1))
    with monkeypatch.context() as patch:
        failing_rename(patch)
        try:
            registry.delete(ALPHA)
            reported = False
        except LifecycleError as error:
            assert "could not be deleted" in str(error)
            reported = registry.get(ALPHA).store.count() == 1
    registry.close()
    reopened = MemorySpaceRegistry(data)
    reopened.recover()
    came_back = ALPHA in reopened.ids()
    reopened.close()
    return reported if came_back else not reported


@pytest.mark.parametrize("broken", [False, True], ids=["product", "broken-variant"])
def test_a_delete_that_cannot_rename_reports_an_error_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broken: bool
) -> None:
    registry_class = DeleteInPlace if broken else MemorySpaceRegistry
    assert delete_is_honest(registry_class, tmp_path, monkeypatch) is not broken


def test_a_failed_create_leaves_nothing_that_becomes_a_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = MemorySpaceRegistry(tmp_path)

    def broken_open(directory: Path) -> SpaceStore:
        SpaceStore.open(directory).close()  # the files exist, then the open fails
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(registry.open_stores, "factory", broken_open)
    with pytest.raises(LifecycleError, match="could not be created"):
        registry.create(ALPHA)
    registry.close()
    assert list((tmp_path / "spaces").iterdir()) == []
    reopened = MemorySpaceRegistry(tmp_path)
    assert reopened.recover() == []
    reopened.close()


def test_what_a_killed_create_or_delete_left_is_removed_at_start(tmp_path: Path) -> None:
    registry = MemorySpaceRegistry(tmp_path)
    registry.create(ALPHA)
    registry.close()
    half_created = tmp_path / "spaces" / "beta"
    SpaceStore.open(half_created).close()  # a complete store, still marked as being created
    (half_created / CREATING_MARKER).write_bytes(b"")
    tombstone = tmp_path / "spaces" / f"{TOMBSTONE_PREFIX}gamma-1"
    SpaceStore.open(tombstone).close()
    reopened = MemorySpaceRegistry(tmp_path)
    assert reopened.recover() == [ALPHA]
    assert sorted(p.name for p in (tmp_path / "spaces").iterdir()) == ["alpha"]
    reopened.close()


def test_a_space_deleted_on_a_real_server_stays_deleted_and_ends_its_streams(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    with serving(data, tmp_path / "first.log") as (_, client):
        client.create_space("team-a")
        client.remember("gone", "team-a")
        stream = client.subscribe("team-a")
        client.call("DeleteSpace", client.msg("DeleteSpaceRequest", memory_space_id="team-a"))
        with pytest.raises(grpc.RpcError) as ended:
            list(stream)
        assert ended.value.code() == grpc.StatusCode.NOT_FOUND
        assert ended.value.details() == "memory space team-a was deleted"
    served = launch(data, tmp_path / "second.log")
    try:
        with grpc.insecure_channel(served.address) as channel:
            again = Client(channel)
            code, _ = code_of(lambda: again.recall("team-a", contains=""))
            assert code == grpc.StatusCode.NOT_FOUND
    finally:
        os.kill(served.process.pid, signal.SIGKILL)
        served.process.wait()
