"""Issue 13 item 1: spaces open lazily in a bounded set; a limit on how many spaces exist;
start-up opens no store; a real `serve` under a small descriptor limit holds many spaces.

Scaled down for the test suite (a 128-descriptor limit, 60 spaces, 300 spaces at start-up);
`tests/bench/bench_startup.py` measures the full figure (10,000 spaces, 1,024 descriptors).
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import grpc
import pytest

from tests.server.serving import code_of, serving
from toolkit.server.registry import LazyStore, MemorySpaceRegistry, SpaceLimitReached
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import DATABASE_NAME, MANIFEST_NAME, SpaceStore, StoredMemory

FD_LIMIT = 128  # scaled down from 1,024: 60 spaces x 3 descriptors would need 180
SPACES = 60
COPIES = 300


def memory(memory_id: str) -> StoredMemory:
    return StoredMemory(memory_id, f"content of {memory_id}", 0.5, (), 1)


class CountingOpen:
    def __init__(self) -> None:
        self.opened: Counter[str] = Counter()

    def __call__(self, directory: Path) -> SpaceStore:
        self.opened[directory.name] += 1
        return SpaceStore.open(directory)


def test_stores_open_on_use_and_the_least_recently_used_closes_first(tmp_path: Path) -> None:
    counting = CountingOpen()
    registry = MemorySpaceRegistry(tmp_path, store_factory=counting, max_open_spaces=3)
    spaces = [MemorySpaceId(f"space-{n}") for n in range(8)]
    for space in spaces:
        registry.create(space).store.remember(memory(f"{space}-m"))
        assert len(registry.open_stores) <= 3
    # space-0 was closed to make room; it reopens on use, with its data.
    handle = registry.get(spaces[0])
    assert isinstance(handle.store, LazyStore) and handle.store.current is None
    assert [m.id for m in handle.store.find()[0]] == ["space-0-m"]
    assert counting.opened["space-0"] == 2
    # The one used last stays open: the least recently used went first.
    registry.get(spaces[7]).store.count()
    registry.get(spaces[1]).store.count()
    assert registry.get(spaces[7]).store.current is not None  # type: ignore[attr-defined]
    registry.close()


def test_start_up_opens_no_store(tmp_path: Path) -> None:
    first = MemorySpaceRegistry(tmp_path)
    for n in range(20):
        first.create(MemorySpaceId(f"space-{n}")).store.remember(memory(f"m{n}"))
    created_at = first.get(MemorySpaceId("space-3")).created_at_ns
    first.close()
    counting = CountingOpen()
    second = MemorySpaceRegistry(tmp_path, store_factory=counting)
    assert len(second.recover()) == 20
    assert sum(counting.opened.values()) == 0
    assert second.get(MemorySpaceId("space-3")).created_at_ns == created_at
    assert second.get(MemorySpaceId("space-3")).store.count() == 1
    assert counting.opened == Counter({"space-3": 1})
    second.close()


def test_more_spaces_than_allowed_are_refused(tmp_path: Path) -> None:
    registry = MemorySpaceRegistry(tmp_path, max_spaces=2)
    registry.create(MemorySpaceId("space-a"))
    registry.create(MemorySpaceId("space-b"))
    with pytest.raises(SpaceLimitReached, match="--max-spaces"):
        registry.create(MemorySpaceId("space-c"))
    registry.create(MemorySpaceId("space-a"))  # an existing space is not a new one
    assert not (registry.spaces_dir / "space-c").exists()
    registry.close()


def use_many_spaces(client: object, count: int) -> list[tuple[grpc.StatusCode, str]]:
    """Create `count` spaces and write one memory in each; the failures seen."""
    from tests.server.conftest import Client

    assert isinstance(client, Client)
    failures: list[tuple[grpc.StatusCode, str]] = []
    for n in range(count):
        space = f"space-{n:03d}"
        for action in (
            lambda: client.create_space(space),  # noqa: B023 (called at once)
            lambda: client.remember(f"in {space}", space, f"{space}-m"),  # noqa: B023
        ):
            code, details = code_of(action)
            if code != grpc.StatusCode.OK:
                failures.append((code, details))
    return failures


def read_every_space(client: object, count: int, memory_id: str = "") -> list[str]:
    """Read each space's memory (`<space>-m`, or `memory_id`); the problems seen."""
    from tests.server.conftest import Client

    assert isinstance(client, Client)
    problems = []
    for n in range(count):
        space = f"space-{n:03d}"
        wanted = memory_id or f"{space}-m"
        try:
            found = [m.id for m in client.recall(space, memory_id=wanted).memories]
        except grpc.RpcError as error:
            problems.append(f"{space}: {error.code()} {error.details()}")
            continue
        if found != [wanted]:
            problems.append(f"{space}: memory missing")
    return problems


def test_a_real_server_holds_many_spaces_under_a_small_descriptor_limit(tmp_path: Path) -> None:
    data = tmp_path / "data"
    options = ("--max-open-spaces", "8")
    with serving(data, tmp_path / "first.log", *options, fd_limit=FD_LIMIT) as (_, client):
        assert use_many_spaces(client, SPACES) == []
        assert read_every_space(client, SPACES) == []
    # It restarts on the same data dir under the same limit, and every space still reads.
    with serving(data, tmp_path / "second.log", *options, fd_limit=FD_LIMIT) as (served, client):
        assert read_every_space(client, SPACES) == []
        assert "Traceback" not in served.log_text()


def test_the_descriptor_check_fails_when_every_store_stays_open(tmp_path: Path) -> None:
    """Deliberately broken: a bound above what the descriptor limit allows (what the server
    did before: every store open) makes creates fail, so the check above can fail."""
    options = ("--max-open-spaces", "1000")
    with serving(tmp_path / "data", tmp_path / "log", *options, fd_limit=FD_LIMIT) as (_, client):
        failures = use_many_spaces(client, SPACES)
    exhausted = [d for code, d in failures if code == grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert exhausted  # and a space whose create failed is then NOT_FOUND
    assert all("file descriptors" in details for details in exhausted)


def test_max_spaces_answers_resource_exhausted_with_a_sentence(tmp_path: Path) -> None:
    with serving(tmp_path / "data", tmp_path / "log", "--max-spaces", "3") as (_, client):
        client.create_space("space-a")
        client.create_space("space-b")  # with "default": three
        code, details = code_of(lambda: client.create_space("space-c"))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert details.endswith("delete a space before creating another")
        assert "3 memory spaces" in details and "--max-spaces" in details
        assert code_of(lambda: client.create_space("space-a"))[0] == grpc.StatusCode.OK
    assert not (tmp_path / "data" / "spaces" / "space-c").exists()


def test_many_spaces_start_without_opening_their_stores(tmp_path: Path) -> None:
    """Scaled down from 10,000 spaces in 5 s (see tests/bench/bench_startup.py): 300 spaces
    are registered in well under a second, under the descriptor limit, and all read."""
    data = tmp_path / "data"
    with serving(data, tmp_path / "seed.log") as (_, client):
        client.create_space("space-000")
        client.remember("seed", "space-000", "space-000-m")
    spaces = data / "spaces"
    for n in range(1, COPIES):
        copy = spaces / f"space-{n:03d}"
        copy.mkdir()
        for name in (DATABASE_NAME, MANIFEST_NAME):
            shutil.copyfile(spaces / "space-000" / name, copy / name)
    options = ("--max-open-spaces", "8")
    with serving(data, tmp_path / "log", *options, fd_limit=FD_LIMIT) as (served, client):
        started = [r for r in served.records() if r.get("event") == "server_started"]
        assert started[0]["recovered"] == COPIES + 1
        assert isinstance(started[0]["recovery_s"], float) and started[0]["recovery_s"] < 1.0
        assert read_every_space(client, COPIES, "space-000-m") == []
