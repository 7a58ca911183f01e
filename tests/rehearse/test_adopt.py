"""The pre-migration layout, and its adoption as the default space (crash-safe, idempotent,
logged, refused when the default space already holds other data)."""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import grpc
import pytest

from toolkit.cli import main
from toolkit.contract import DEFAULT_SPACE, ENGRAM_SERVICE_NAME, SPACE_FIELD
from toolkit.schema.pool import load_schema
from toolkit.server.adopt import (
    ADOPTION_POINTS,
    JOURNAL_NAME,
    AdoptionRefused,
    adopt_pre_migration_store,
)
from toolkit.server.app import ServerConfig, start_server_thread
from toolkit.server.registry import SPACES_DIR
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import DATABASE_NAME, SpaceStore

DEFAULT = MemorySpaceId(DEFAULT_SPACE)
LEGACY_IDS = [f"legacy-{n:03d}" for n in range(40)]


def remember(address: str, schema_name: str, memory_id: str, space: str = "") -> None:
    schema = load_schema(schema_name)  # type: ignore[arg-type]
    request = schema.message("engram.v1.RememberRequest")()
    request.memory.id = memory_id
    request.memory.content = f"content of {memory_id}"
    if space:
        setattr(request, SPACE_FIELD, space)
    with grpc.insecure_channel(address) as channel:
        schema.callable(channel, schema.method(ENGRAM_SERVICE_NAME, "Remember"))(
            request, timeout=10
        )


def stored_ids(directory: Path) -> set[str]:
    store = SpaceStore.open(directory)
    try:
        return {m.id for m in store.find()[0]}
    finally:
        store.close()


@pytest.fixture(scope="module")
def killed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pre-migration store whose last writes are still in its WAL: the 1.0.0 server that
    wrote it was killed (SIGKILL) without closing it. Made once, copied into each test."""
    data_dir = tmp_path_factory.mktemp("killed-legacy")
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from toolkit.server.store import SpaceStore, StoredMemory
        store = SpaceStore.open(Path({str(data_dir)!r}))
        for memory_id in {LEGACY_IDS!r}:
            store.remember(StoredMemory(memory_id, "legacy " + memory_id, 0.5, (0.25,), 1))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert (data_dir / f"{DATABASE_NAME}-wal").stat().st_size > 0
    return data_dir


def killed_legacy_store(data_dir: Path, killed_store: Path) -> None:
    for source in killed_store.iterdir():
        shutil.copyfile(source, data_dir / source.name)


def adopt_until_killed(data_dir: Path, point: str) -> int:
    """Run the adoption in a child process that SIGKILLs itself at `point`."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from toolkit.server.adopt import adopt_pre_migration_store
        from toolkit.server.space_id import MemorySpaceId

        def checkpoint(name):
            if name == {point!r}:
                os.kill(os.getpid(), signal.SIGKILL)

        adopt_pre_migration_store(
            Path({str(data_dir)!r}), MemorySpaceId({DEFAULT_SPACE!r}), checkpoint=checkpoint
        )
        """
    )
    return subprocess.run([sys.executable, "-c", script], check=False, timeout=60).returncode


def test_the_legacy_server_keeps_one_unnamed_store_in_the_data_dir(tmp_path: Path) -> None:
    with start_server_thread(ServerConfig(data_dir=tmp_path, schema="legacy")) as server:
        remember(server.address, "legacy", "old-1")
    assert (tmp_path / DATABASE_NAME).exists()
    assert not (tmp_path / SPACES_DIR).exists()
    assert stored_ids(tmp_path) == {"old-1"}


def test_the_current_server_adopts_it_as_the_default_space_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with start_server_thread(ServerConfig(data_dir=tmp_path, schema="legacy")) as server:
        remember(server.address, "legacy", "old-1")
    with caplog.at_level(logging.INFO), start_server_thread(ServerConfig(data_dir=tmp_path)) as s:
        remember(s.address, "current", "new-1", DEFAULT_SPACE)
    adopted = [
        r for r in caplog.records if getattr(r, "event", "") == "pre_migration_store_adopted"
    ]
    assert len(adopted) == 1 and adopted[0].levelno == logging.WARNING
    assert not (tmp_path / DATABASE_NAME).exists()
    assert stored_ids(tmp_path / SPACES_DIR / DEFAULT_SPACE) == {"old-1", "new-1"}
    # Idempotent: the next start finds nothing to adopt and changes nothing.
    caplog.clear()
    with caplog.at_level(logging.INFO), start_server_thread(ServerConfig(data_dir=tmp_path)):
        pass
    assert not [
        r for r in caplog.records if getattr(r, "event", "") == "pre_migration_store_adopted"
    ]
    assert stored_ids(tmp_path / SPACES_DIR / DEFAULT_SPACE) == {"old-1", "new-1"}


def test_a_default_space_with_other_data_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with start_server_thread(ServerConfig(data_dir=tmp_path)) as server:
        remember(server.address, "current", "new-1", DEFAULT_SPACE)
    with start_server_thread(ServerConfig(data_dir=tmp_path, schema="legacy")) as server:
        remember(server.address, "legacy", "old-1")  # a second, pre-migration store
    with pytest.raises(AdoptionRefused):
        adopt_pre_migration_store(tmp_path, DEFAULT)
    assert main(["serve", "--data-dir", str(tmp_path), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "default space" in err[0] and "merge" in err[0]
    # Nothing was touched: both stores still hold their data.
    assert stored_ids(tmp_path) == {"old-1"}
    assert stored_ids(tmp_path / SPACES_DIR / DEFAULT_SPACE) == {"new-1"}


def test_an_empty_pre_migration_store_beside_a_default_space_is_only_retired(
    tmp_path: Path,
) -> None:
    with start_server_thread(ServerConfig(data_dir=tmp_path)) as server:
        remember(server.address, "current", "new-1", DEFAULT_SPACE)
    SpaceStore.open(tmp_path).close()
    adoption = adopt_pre_migration_store(tmp_path, DEFAULT)
    assert adoption is not None and adoption.memories == 1
    assert stored_ids(tmp_path / SPACES_DIR / DEFAULT_SPACE) == {"new-1"}


@pytest.mark.parametrize("point", ADOPTION_POINTS)
def test_an_adoption_killed_at_any_point_loses_nothing(
    tmp_path: Path, killed_store: Path, point: str
) -> None:
    killed_legacy_store(tmp_path, killed_store)
    code = adopt_until_killed(tmp_path, point)
    assert code in (-signal.SIGKILL, 0)  # 0: the point was not reached (e.g. no -shm file)
    adopt_pre_migration_store(tmp_path, DEFAULT)
    assert stored_ids(tmp_path / SPACES_DIR / DEFAULT_SPACE) == set(LEGACY_IDS)
    assert not (tmp_path / JOURNAL_NAME).exists()
    assert not (tmp_path / DATABASE_NAME).exists()


def test_an_adoption_killed_again_while_resuming_loses_nothing(
    tmp_path: Path, killed_store: Path
) -> None:
    rng = random.Random(15)
    killed_legacy_store(tmp_path, killed_store)
    first, second = rng.sample(ADOPTION_POINTS[:5], 2)
    adopt_until_killed(tmp_path, first)
    adopt_until_killed(tmp_path, second)
    adopt_pre_migration_store(tmp_path, DEFAULT)
    assert stored_ids(tmp_path / SPACES_DIR / DEFAULT_SPACE) == set(LEGACY_IDS)


def test_a_broken_adoption_that_retires_before_copying_is_caught(
    tmp_path: Path, killed_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kill test can fail: an adoption that moves the old store away first loses data."""
    import toolkit.server.adopt as adopt

    killed_legacy_store(tmp_path, killed_store)

    def careless_copy(source: Path, target: Path, checkpoint: adopt.Checkpoint) -> None:
        os.replace(source, tmp_path / "moved-away")  # the WAL stays behind, then is retired
        target.parent.mkdir(parents=True, exist_ok=True)
        SpaceStore.open(target.parent).close()

    monkeypatch.setattr(adopt, "_copy", careless_copy)
    adopt_pre_migration_store(tmp_path, DEFAULT)
    assert stored_ids(tmp_path / SPACES_DIR / DEFAULT_SPACE) != set(LEGACY_IDS)
