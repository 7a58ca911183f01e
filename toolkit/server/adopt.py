"""The pre-migration layout and its adoption as the default space.

A 1.0.0 server (`serve --schema legacy`) keeps one unnamed store directly in its data dir
(`<data-dir>/memories.sqlite3`, no `spaces/`). `PreMigrationRegistry` is that layout behind the
registry's interface. The current server, started on such a data dir, calls
`adopt_pre_migration_store` first: it copies the store into `spaces/<default>/` and retires
the old files, so the default space holds everything legacy clients ever wrote.

Crash safety: a journal (`adoption.json`, written atomically) says which phase was reached.
`copying`: the old store is untouched, so a restart copies it again (the copy is built under a
temporary name and renamed into place). `copied`: the default space's database is complete;
a restart only retires the old files that are still there and removes the journal. A SIGKILL
at any point therefore loses nothing and the next start completes the adoption; a finished
adoption leaves no journal and nothing to adopt, so running it again changes nothing.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.server.registry import SPACES_DIR, MemorySpaceRegistry, SpaceProtected
from toolkit.server.space_id import MemorySpaceId
from toolkit.server.store import DATABASE_NAME, MANIFEST_NAME

log = logging.getLogger(__name__)

JOURNAL_NAME = "adoption.json"
RETIRED_DIR = "pre-migration"
COPY_SUFFIX = ".adopting"
SIDE_FILES = ("-wal", "-shm")

# Called with the name of each point the adoption passes (tests kill the process there).
Checkpoint = Callable[[str], None]


class AdoptionRefused(ToolkitError):
    """A pre-migration store and a default space that already holds other data."""


class PreMigrationRegistry(MemorySpaceRegistry):
    """The 1.0.0 layout: one unnamed store directly in the data dir, no `spaces/`."""

    spaces_layout = False

    def space_path(self, space_id: MemorySpaceId) -> Path:
        return self.data_dir

    def recover(self, *, check: bool = True) -> list[MemorySpaceId]:
        return []  # a 1.0.0 server never knew spaces; it opens its one store on demand

    def delete(self, space_id: MemorySpaceId, *, protected: MemorySpaceId | None = None) -> None:
        raise SpaceProtected("the pre-migration server has one store; it cannot be deleted")


@dataclass(frozen=True)
class Adoption:
    """What one call of `adopt_pre_migration_store` did."""

    source: Path
    target: Path
    memories: int
    episodes: int
    retired_to: Path
    resumed: bool


def _noop(point: str) -> None:
    return None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())


def _write_journal(data_dir: Path, journal: dict[str, str]) -> None:
    temporary = data_dir / (JOURNAL_NAME + ".tmp")
    temporary.write_text(json.dumps(journal, sort_keys=True))
    _fsync_file(temporary)
    os.replace(temporary, data_dir / JOURNAL_NAME)
    _fsync_dir(data_dir)


def _rows(database: Path) -> tuple[int, int]:
    """(memories, episodes) in a store; (0, 0) when it has no tables yet."""
    connection = sqlite3.connect(database)
    try:
        counts: list[int] = []
        for table in ("memories", "episodes"):
            try:
                counts.append(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            except sqlite3.OperationalError:
                counts.append(0)
        return counts[0], counts[1]
    finally:
        connection.close()


def _remove_database(database: Path) -> None:
    for suffix in ("", *SIDE_FILES):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def _copy(source: Path, target: Path, checkpoint: Checkpoint) -> None:
    """A complete, consistent copy of `source` (WAL included) renamed into place as `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + COPY_SUFFIX)
    _remove_database(partial)
    reader = sqlite3.connect(source)
    writer = sqlite3.connect(partial)
    try:
        reader.backup(writer)
    finally:
        writer.close()
        reader.close()
    _fsync_file(partial)
    checkpoint("copy_written")
    _remove_database(target)  # an empty default space (checked before the journal was written)
    os.replace(partial, target)
    _fsync_dir(target.parent)


def _retire(data_dir: Path, retired: Path, checkpoint: Checkpoint) -> None:
    retired.mkdir(parents=True, exist_ok=True)
    for suffix in ("", *SIDE_FILES):
        name = DATABASE_NAME + suffix
        if (data_dir / name).exists():
            os.replace(data_dir / name, retired / name)
            checkpoint(f"retired{suffix or '_database'}")
    # The old store's manifest goes with it: left behind, it would tell a rolled-back 1.0.0
    # server that its database is missing (damaged) instead of new.
    if (data_dir / MANIFEST_NAME).exists():
        os.replace(data_dir / MANIFEST_NAME, retired / MANIFEST_NAME)
    _fsync_dir(retired)
    _fsync_dir(data_dir)


def adopt_pre_migration_store(
    data_dir: Path, default_space: MemorySpaceId, *, checkpoint: Checkpoint = _noop
) -> Adoption | None:
    """Adopt `<data-dir>/memories.sqlite3` as the default space; None when there is none.

    Refused (`AdoptionRefused`) when the default space already holds data of its own and the
    pre-migration store is not empty either: merging two stores is the operator's decision.
    """
    root = data_dir.resolve()
    source = root / DATABASE_NAME
    target = root / SPACES_DIR / default_space / DATABASE_NAME
    journal_path = root / JOURNAL_NAME
    resumed = journal_path.exists()
    if resumed:
        journal = json.loads(journal_path.read_text())
    else:
        if not source.exists():
            return None
        memories, episodes = _rows(source)
        if target.exists() and any(_rows(target)):
            if memories or episodes:
                raise AdoptionRefused(
                    f"data dir {data_dir} holds a pre-migration store ({DATABASE_NAME}, "
                    f"{memories} memories) and a default space '{default_space}' with data of "
                    f"its own ({target.parent}); merge or move one of them away, then start again"
                )
            journal = {"phase": "copied"}  # nothing to copy: only retire the empty old store
        else:
            journal = {"phase": "copying"}
        journal["retired_to"] = f"{RETIRED_DIR}-{time.time_ns()}"  # relative: the dir may move
        _write_journal(root, journal)
        checkpoint("journal_written")
    retired = root / journal["retired_to"]
    if journal["phase"] == "copying":
        _copy(source, target, checkpoint)
        checkpoint("copy_in_place")
        journal["phase"] = "copied"
        _write_journal(root, journal)
        checkpoint("phase_copied")
    _retire(root, retired, checkpoint)
    journal_path.unlink()
    _fsync_dir(root)
    checkpoint("journal_removed")
    memories, episodes = _rows(target) if target.exists() else (0, 0)
    adoption = Adoption(source, target, memories, episodes, retired, resumed)
    log.warning(
        "adopted the pre-migration store as the default space",
        extra={
            "event": "pre_migration_store_adopted",
            "default_space": str(default_space),
            "source": str(source),
            "target": str(target),
            "memories": memories,
            "episodes": episodes,
            "retired_to": str(retired),
            "resumed": resumed,
        },
    )
    return adoption


ADOPTION_POINTS = (
    "journal_written",
    "copy_written",
    "copy_in_place",
    "phase_copied",
    "retired_database",
    "retired-wal",
    "retired-shm",
    "journal_removed",
)
