from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

import pytest

from toolkit.server.registry import (
    DataDirError,
    MemorySpaceRegistry,
    SpaceHandle,
    SpaceNotFound,
    SpaceOptions,
    SpaceProtected,
    prepare_data_dir,
)
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import SpaceStore, StoreClosed, StoredMemory

ALPHA, BETA = MemorySpaceId("alpha"), MemorySpaceId("beta")


def memory(memory_id: str, content: str = "text") -> StoredMemory:
    return StoredMemory(memory_id, content, 0.5, (1.0, 2.0), 1)


def test_create_is_idempotent_and_provisions_the_space_directory(tmp_path: Path) -> None:
    registry = MemorySpaceRegistry(tmp_path)
    first, created = registry.create_reporting(ALPHA)
    again, created_again = registry.create_reporting(ALPHA)
    assert (created, created_again) == (True, False)
    assert again is first
    assert first.path == tmp_path.resolve() / "spaces" / "alpha"
    assert first.database.is_file()
    registry.close()


def test_get_of_an_unknown_space_says_how_to_create_it(tmp_path: Path) -> None:
    registry = MemorySpaceRegistry(tmp_path)
    registry.create(ALPHA)
    with pytest.raises(SpaceNotFound) as caught:
        registry.get(BETA)
    assert "engram-compat space create beta" in str(caught.value)
    assert "alpha" not in str(caught.value)
    registry.close()


def test_list_reports_metadata_and_memory_counts(tmp_path: Path) -> None:
    registry = MemorySpaceRegistry(tmp_path)
    registry.create(ALPHA).store.remember(memory("m1"))
    registry.create(BETA)
    infos = {info.id: info for info in registry.list()}
    assert set(infos) == {"alpha", "beta"}
    assert infos[ALPHA].memory_count == 1
    assert infos[BETA].memory_count == 0
    assert infos[ALPHA].persistence_path == tmp_path.resolve() / "spaces" / "alpha"
    assert infos[ALPHA].created_at_ns > 0
    registry.close()


def test_delete_closes_the_store_and_removes_its_directory(tmp_path: Path) -> None:
    registry = MemorySpaceRegistry(tmp_path)
    handle = registry.create(ALPHA)
    registry.delete(ALPHA)
    assert not handle.path.exists()
    with pytest.raises(StoreClosed):
        handle.store.count()
    with pytest.raises(SpaceNotFound):
        registry.get(ALPHA)
    with pytest.raises(SpaceNotFound):
        registry.delete(ALPHA)
    registry.close()


def test_the_default_space_cannot_be_deleted(tmp_path: Path) -> None:
    registry = MemorySpaceRegistry(tmp_path)
    registry.create(ALPHA)
    with pytest.raises(SpaceProtected):
        registry.delete(ALPHA, protected=ALPHA)
    assert registry.get(ALPHA)
    registry.close()


def test_restart_recovers_every_space_and_write(tmp_path: Path) -> None:
    registry = MemorySpaceRegistry(tmp_path)
    registry.create(ALPHA).store.remember(memory("a1", "in alpha"))
    registry.create(BETA).store.remember(memory("b1", "in beta"))
    created_at = registry.get(ALPHA).created_at_ns
    registry.close()

    reopened = MemorySpaceRegistry(tmp_path)
    assert sorted(reopened.recover()) == ["alpha", "beta"]
    alpha = reopened.get(ALPHA)
    assert alpha.created_at_ns == created_at
    assert [m.id for m in alpha.store.find()[0]] == ["a1"]
    assert [m.id for m in reopened.get(BETA).store.find()[0]] == ["b1"]
    reopened.close()


def test_recover_skips_folders_that_are_not_valid_ids(tmp_path: Path) -> None:
    (tmp_path / "spaces" / "Not A Space").mkdir(parents=True)
    registry = MemorySpaceRegistry(tmp_path)
    assert registry.recover() == []
    registry.close()


def test_a_space_path_is_checked_after_resolving(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    registry = MemorySpaceRegistry(tmp_path / "data")
    # A valid id whose folder is a symlink leading out of the data dir is refused.
    os.symlink(outside, registry.spaces_dir / "escape")
    with pytest.raises(DataDirError):
        registry.create(MemorySpaceId("escape"))
    assert list(outside.iterdir()) == []
    registry.close()


def test_an_unwritable_data_dir_fails_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(DataDirError) as caught:
        prepare_data_dir(blocker / "data")
    assert "cannot be created or written" in str(caught.value)
    assert "\n" not in str(caught.value)


class CountingOpen:
    """A store factory that counts how often each space's store is opened (real SQLite)."""

    def __init__(self) -> None:
        self.opened: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, directory: Path) -> SpaceStore:
        with self._lock:
            self.opened[directory.name] += 1
        return SpaceStore.open(directory)


def hammer(registry: MemorySpaceRegistry, threads: int, calls: int) -> list[BaseException]:
    """`threads` threads x `calls` mixed create/get on 8 ids; returns the errors raised."""
    ids = [MemorySpaceId(f"space-{n}") for n in range(8)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(worker: int) -> None:
        barrier.wait()
        try:
            for n in range(calls):
                space = ids[(worker + n) % 8]
                if n % 3 == 0:
                    registry.create(space)
                else:
                    try:
                        registry.get(space)
                    except SpaceNotFound:
                        registry.create(space)
        except BaseException as exc:  # collected and asserted by the caller
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return errors


def test_concurrent_create_and_get_open_each_store_once(tmp_path: Path) -> None:
    counting = CountingOpen()
    registry = MemorySpaceRegistry(tmp_path, store_factory=counting)
    assert hammer(registry, threads=32, calls=1000) == []
    ids = [f"space-{n}" for n in range(8)]
    assert sorted(registry.ids()) == ids
    assert counting.opened == Counter({space: 1 for space in ids})
    assert sorted(p.name for p in registry.spaces_dir.iterdir()) == ids
    registry.close()


class UnserialisedRegistry(MemorySpaceRegistry):
    """Deliberately broken: checks, then opens, with no lock in between."""

    def create_reporting(
        self, space_id: MemorySpaceId, options: SpaceOptions | None = None
    ) -> tuple[SpaceHandle, bool]:
        handle = self._spaces.get(space_id)
        if handle is not None:
            return handle, False
        path = self.space_path(space_id)
        store = self._store_factory(path)
        handle = SpaceHandle(space_id, store, path, store.created_at_ns(), SpaceOptions())
        self._spaces[space_id] = handle
        return handle, True


def test_the_concurrency_check_catches_an_unserialised_create(tmp_path: Path) -> None:
    counting = CountingOpen()
    registry = UnserialisedRegistry(tmp_path, store_factory=counting)
    hammer(registry, threads=32, calls=50)  # racing opens may also fail: a symptom too
    assert max(counting.opened.values()) > 1
