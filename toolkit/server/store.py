"""One space's memories and episodes in its own SQLite database (WAL).

`seq` orders rows by insertion. It is a plain rowid, not AUTOINCREMENT: that would update
sqlite_sequence, one more page written to the WAL by every commit. (Stores created before
keep their AUTOINCREMENT tables; both order the same way.)

Memories are read from a copy in memory (`_MemoryView`), loaded when the store opens and
changed under the same lock, right after each committed write. SQLite is what survives a
restart; a read never touches it. A read through sqlite3 releases the GIL for every statement,
and in a server whose event loop shares the GIL with gRPC's threads each release costs a
thread switch: an id lookup took 13 µs alone and 55 µs inside the running server.
"""

from __future__ import annotations

import array
import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from toolkit.errors import ToolkitError

DATABASE_NAME = "memories.sqlite3"
WAL_NAME = DATABASE_NAME + "-wal"
# Written last when a store is created: what the space's folder must contain from then on.
MANIFEST_NAME = "space.json"
STORE_FORMAT = 1
REQUIRED_TABLES = ("meta", "memories", "episodes")
SQLITE_MAGIC = b"SQLite format 3\x00"
_SQLITE_FULL = 13

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memories (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    content TEXT NOT NULL,
    confidence REAL NOT NULL,
    embedding BLOB NOT NULL,
    created_at_ns INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS episodes (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    what TEXT NOT NULL,
    when_ns INTEGER NOT NULL,
    place TEXT NOT NULL,
    who TEXT NOT NULL
);
"""


_INSERT_MEMORIES = (
    "INSERT INTO memories (id, content, confidence, embedding, created_at_ns) VALUES "
)
_UPSERT = (
    " ON CONFLICT (id) DO UPDATE SET content = excluded.content,"
    " confidence = excluded.confidence, embedding = excluded.embedding,"
    " created_at_ns = excluded.created_at_ns, deleted = 0"
)
_REMEMBER_SQL = _INSERT_MEMORIES + "(?, ?, ?, ?, ?)" + _UPSERT
MAX_ROWS_PER_INSERT = 64  # SQLite caches one statement per distinct row count
_COLUMNS = 5  # values per row in an insert


def _remember_many_sql(rows: int) -> str:
    return _INSERT_MEMORIES + ", ".join(["(?, ?, ?, ?, ?)"] * rows) + _UPSERT


class StoreClosed(ToolkitError):
    """The space's store was closed (the space was deleted or the server is stopping)."""


class StoreDamaged(ToolkitError):
    """A store's files cannot be used: `corrupt` (their content is wrong) or unreadable."""

    def __init__(self, file: Path, reason: str, *, corrupt: bool) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason
        self.corrupt = corrupt


class DiskFull(ToolkitError):
    """A write found no room on the server's disk; nothing of it was committed."""

    def __init__(self) -> None:
        super().__init__("the server's disk is full")


class OutOfDescriptors(ToolkitError):
    """The process has no file descriptor left to open a store: a limit, not damage."""

    def __init__(self) -> None:
        super().__init__(
            "the server has no file descriptors left to open the space's store; "
            "lower --max-open-spaces or raise the process's descriptor limit"
        )


def _out_of_descriptors(database: Path) -> bool:
    """Whether opening `database` now fails for want of a descriptor (EMFILE/ENFILE)."""
    try:
        fd = os.open(database if database.exists() else database.parent, os.O_RDONLY)
    except OSError as exc:
        return exc.errno in (errno.EMFILE, errno.ENFILE)
    os.close(fd)
    return False


def is_disk_full(error: BaseException) -> bool:
    if isinstance(error, sqlite3.OperationalError):
        code = getattr(error, "sqlite_errorcode", None)
        return code == _SQLITE_FULL or "disk is full" in str(error)
    return isinstance(error, OSError) and error.errno == errno.ENOSPC


@contextmanager
def _disk_full_as_answer(database: Path | None = None) -> Iterator[None]:
    """A write's failure as an answer: `DiskFull`, or `StoreDamaged` when the database turns
    out read-only, unreadable or corrupt while the server runs."""
    try:
        yield
    except (sqlite3.DatabaseError, OSError) as exc:
        if is_disk_full(exc):
            raise DiskFull() from exc
        if database is not None and not isinstance(exc, sqlite3.IntegrityError | OSError):
            text = str(exc)
            if isinstance(exc, sqlite3.OperationalError):
                if "readonly" in text or "disk I/O" in text or "unable to open" in text:
                    raise StoreDamaged(
                        database, f"cannot be written: {text}", corrupt=False
                    ) from exc
            else:
                raise StoreDamaged(database, f"is corrupt: {text}", corrupt=True) from exc
        raise


@dataclass(frozen=True)
class Manifest:
    """What a store's folder must contain, recorded when the store was created."""

    created_at_ns: int
    database: str = DATABASE_NAME
    tables: tuple[str, ...] = REQUIRED_TABLES
    format: int = STORE_FORMAT

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": self.format,
                "database": self.database,
                "tables": list(self.tables),
                "created_at_ns": self.created_at_ns,
            },
            sort_keys=True,
        )


def read_manifest(directory: Path | str) -> Manifest | None:
    """The folder's manifest; None when it has none (a store older than manifests)."""
    path = os.path.join(directory, MANIFEST_NAME)
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise OutOfDescriptors() from exc
        raise StoreDamaged(Path(path), f"cannot be read: {exc.strerror}", corrupt=False) from exc
    try:
        document = json.loads(text)
        return Manifest(
            created_at_ns=int(document["created_at_ns"]),
            database=str(document["database"]),
            tables=tuple(str(t) for t in document["tables"]),
            format=int(document["format"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreDamaged(
            Path(path), f"is not a valid space manifest: {exc}", corrupt=True
        ) from exc


def write_manifest(directory: Path, manifest: Manifest) -> None:
    """Write the manifest atomically (a temporary file renamed over it). Like the WAL at
    synchronous=NORMAL, it survives the process being killed, not the machine losing power."""
    temporary = directory / f".{MANIFEST_NAME}.tmp"
    temporary.write_text(manifest.to_json())
    temporary.replace(directory / MANIFEST_NAME)


def check_files(directory: Path | str) -> Manifest | None:
    """Check a store's files without opening SQLite (cheap: at start-up, for every space).

    Raises `StoreDamaged` for a database that is missing (while the manifest or a WAL says
    there is one), empty, unreadable or not an SQLite file. Returns the manifest, or None for
    a folder without one (a store created before manifests, checked when it is opened).
    """
    manifest = read_manifest(directory)
    database = os.path.join(directory, manifest.database if manifest else DATABASE_NAME)
    try:
        with open(database, "rb") as handle:
            header = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError as exc:
        if os.path.exists(os.path.join(directory, WAL_NAME)):
            reason = "the database is missing while its write-ahead log remains"
        elif manifest is not None:
            reason = "the database is missing"
        else:
            return None
        raise StoreDamaged(Path(database), reason, corrupt=True) from exc
    except OSError as exc:
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            raise OutOfDescriptors() from exc
        reason = f"cannot be read: {exc.strerror}"
        raise StoreDamaged(Path(database), reason, corrupt=False) from exc
    if not header:
        reason = "the database is empty (truncated to zero bytes)"
        raise StoreDamaged(Path(database), reason, corrupt=True)
    if header != SQLITE_MAGIC:
        raise StoreDamaged(Path(database), "the file is not an SQLite database", corrupt=True)
    return manifest


def _damage(database: Path, exc: BaseException) -> StoreDamaged | OutOfDescriptors:
    text = str(exc)
    if (isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE)) or (
        "unable to open" in text and _out_of_descriptors(database)
    ):
        return OutOfDescriptors()
    if isinstance(exc, PermissionError) or (
        isinstance(exc, sqlite3.OperationalError)
        and ("unable to open" in text or "readonly" in text or "disk I/O" in text)
    ):
        return StoreDamaged(database, f"cannot be opened for writing: {text}", corrupt=False)
    return StoreDamaged(database, f"is corrupt: {text}", corrupt=True)


@dataclass(frozen=True)
class StoredMemory:
    id: str
    content: str
    confidence: float
    embedding: tuple[float, ...]
    created_at_ns: int


@dataclass(frozen=True)
class StoredEpisode:
    id: str
    what: str
    when_ns: int
    where: str
    who: tuple[str, ...]


def _embedding(blob: bytes) -> tuple[float, ...]:
    values = array.array("f")
    values.frombytes(blob)
    return tuple(values)


def _as_stored(memory: StoredMemory) -> tuple[StoredMemory, bytes]:
    """`memory` as it reads back from disk (embedding in float32), and its embedding blob."""
    if not memory.embedding:
        return memory, b""
    blob = array.array("f", memory.embedding).tobytes()
    return replace(memory, embedding=_embedding(blob)), blob


class _MemoryView:
    """The memories table in memory: every row by id in `seq` order, and the soft-deleted ids.

    An upsert keeps its row's place (SQLite keeps its rowid); a hard delete frees it, and the
    id comes back at the end, as a new rowid would.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.rows: dict[str, StoredMemory] = {}
        self.hidden: set[str] = set()
        for row in db.execute(
            "SELECT id, content, confidence, embedding, created_at_ns, deleted"
            " FROM memories ORDER BY seq"
        ):
            memory_id, content, confidence, blob, created_at_ns, deleted = row
            self.rows[memory_id] = StoredMemory(
                memory_id, content, confidence, _embedding(blob), created_at_ns
            )
            if deleted:
                self.hidden.add(memory_id)

    def put(self, memory: StoredMemory) -> None:
        self.rows[memory.id] = memory
        self.hidden.discard(memory.id)

    def live(self, memory_id: str) -> StoredMemory | None:
        return None if memory_id in self.hidden else self.rows.get(memory_id)

    def count(self) -> int:
        return len(self.rows) - len(self.hidden)


class SpaceStore:
    """A space's persistent data; every write is committed before the call returns.

    WAL with synchronous=NORMAL: a committed write survives the process being killed.
    One connection guarded by a lock, so the store can be used from any thread.
    """

    def __init__(self, database: Path, connection: sqlite3.Connection) -> None:
        self.database = database
        self._db: sqlite3.Connection | None = connection
        self._lock = threading.Lock()
        self._view = _MemoryView(connection)
        self._exclusive = False  # exclusive locking mode: no other connection may read

    @classmethod
    def open(cls, directory: Path) -> SpaceStore:
        """Open the store in `directory`, creating it (and its manifest) in an empty folder.

        A store with a manifest must contain what the manifest says; `StoreDamaged` says
        which file is wrong and why. `DiskFull` when a new store finds no room."""
        manifest = check_files(directory) if directory.exists() else None
        try:
            return cls._open(directory, manifest, exclusive=False)
        except DiskFull:
            if manifest is None:
                raise
        # On a full disk the WAL's shared-memory index may not be creatable: in exclusive
        # locking mode SQLite keeps it in the process's memory, so the space still reads.
        return cls._open(directory, manifest, exclusive=True)

    @classmethod
    def _open(cls, directory: Path, manifest: Manifest | None, *, exclusive: bool) -> SpaceStore:
        database = directory / DATABASE_NAME
        new = manifest is None and not database.exists()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as exc:
            if is_disk_full(exc):
                raise DiskFull() from exc
            raise _damage(database, exc) from exc
        try:
            connection.row_factory = sqlite3.Row
            if exclusive:
                connection.execute("PRAGMA locking_mode=EXCLUSIVE")
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            if new:
                connection.executescript(_SCHEMA)
                connection.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_at_ns', ?)",
                    (str(time.time_ns()),),
                )
            else:
                tables = {
                    row[0]
                    for row in connection.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table'"
                    )
                }
                expected = manifest.tables if manifest is not None else REQUIRED_TABLES
                missing = [t for t in expected if t not in tables]
                if missing:
                    raise StoreDamaged(
                        database, f"lacks the table(s) {', '.join(missing)}", corrupt=True
                    )
            store = cls(database, connection)
            store._exclusive = exclusive
            if manifest is None:
                write_manifest(directory, Manifest(created_at_ns=store.created_at_ns()))
        except StoreDamaged:
            connection.close()
            raise
        except (sqlite3.Error, OSError, ValueError, TypeError) as exc:
            connection.close()
            if is_disk_full(exc):
                raise DiskFull() from exc
            raise _damage(database, exc) from exc
        return store

    def _closed_error(self) -> StoreClosed:
        return StoreClosed(f"the store at {self.database.parent} is closed")

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is None:
                raise self._closed_error()
            yield self._db

    @property
    def closed(self) -> bool:
        return self._db is None

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def created_at_ns(self) -> int:
        with self._connection() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'created_at_ns'").fetchone()
        return int(row["value"])

    def remember(self, memory: StoredMemory) -> StoredMemory:
        memory, blob = _as_stored(memory)
        # The hot write path: the lock taken directly, the statement from sqlite3's cache.
        with self._lock, _disk_full_as_answer(self.database):
            db = self._db
            if db is None:
                raise self._closed_error()
            db.execute(
                _REMEMBER_SQL,
                (memory.id, memory.content, memory.confidence, blob, memory.created_at_ns),
            )
            self._view.put(memory)
        return memory

    def remember_many(self, memories: Sequence[StoredMemory]) -> list[StoredMemory]:
        """Store `memories` in order, each group of rows by one statement (one commit);
        returns them as they read back (see `remember`)."""
        stored: list[StoredMemory] = []
        values: list[object] = []
        for m in memories:
            m, blob = _as_stored(m)
            stored.append(m)
            values += (m.id, m.content, m.confidence, blob, m.created_at_ns)
        with self._lock, _disk_full_as_answer(self.database):
            db = self._db
            if db is None:
                raise self._closed_error()
            self._insert_many(db, values)
            for m in stored:
                self._view.put(m)
        return stored

    @staticmethod
    def _insert_many(db: sqlite3.Connection, values: list[object]) -> None:
        step = MAX_ROWS_PER_INSERT * _COLUMNS
        if len(values) <= step:
            db.execute(_remember_many_sql(len(values) // _COLUMNS), values)
            return
        # Rare (a very large group): one transaction, so the group is still one commit.
        db.execute("BEGIN")
        try:
            for start in range(0, len(values), step):
                chunk = values[start : start + step]
                db.execute(_remember_many_sql(len(chunk) // _COLUMNS), chunk)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def experience(self, episode: StoredEpisode) -> StoredEpisode:
        with self._connection() as db, _disk_full_as_answer(self.database):
            db.execute(
                "INSERT OR REPLACE INTO episodes (id, what, when_ns, place, who)"
                " VALUES (?, ?, ?, ?, ?)",
                (episode.id, episode.what, episode.when_ns, episode.where, json.dumps(episode.who)),
            )
        return episode

    def episode(self, episode_id: str) -> StoredEpisode | None:
        with self._connection() as db:
            row = db.execute("SELECT * FROM episodes WHERE id = ?", (episode_id,)).fetchone()
        if row is None:
            return None
        who = tuple(json.loads(row["who"]))
        return StoredEpisode(row["id"], row["what"], row["when_ns"], row["place"], who)

    def find(
        self,
        *,
        memory_id: str | None = None,
        content_contains: str | None = None,
        min_confidence: float = 0.0,
        limit: int | None = None,
    ) -> tuple[list[StoredMemory], int]:
        """Live memories matching an id or a content substring, in the order they were first
        stored; and how many matched in all."""
        # A lookup by id is Recall's hot path: the lock taken directly, one candidate.
        with self._lock:
            if self._db is None:
                raise self._closed_error()
            view = self._view
            candidates: Iterable[StoredMemory]
            if memory_id is not None:
                found = view.live(memory_id)
                candidates = () if found is None else (found,)
            else:
                candidates = (m for m in view.rows.values() if m.id not in view.hidden)
            matched = [
                m
                for m in candidates
                if m.confidence >= min_confidence
                and (content_contains is None or content_contains in m.content)
            ]
        return (matched if limit is None else matched[:limit]), len(matched)

    def scan(
        self,
        *,
        content_contains: str | None = None,
        min_confidence: float = 0.0,
        limit: int | None = None,
    ) -> tuple[list[StoredMemory], int]:
        """`find` without an id, run by SQLite on a read-only connection of its own: meant for
        a worker thread. SQLite scans with the GIL released and without the store's lock, so
        neither the event loop nor this space's writers wait for a scan of a large space.

        Falls back to `find` where SQLite cannot answer alike: a store in exclusive locking
        mode (opened on a full disk) or a text with a NUL character."""
        if self._exclusive or (content_contains is not None and "\x00" in content_contains):
            return self.find(
                content_contains=content_contains, min_confidence=min_confidence, limit=limit
            )
        sql = "SELECT id, count(*) OVER () FROM memories WHERE deleted = 0 AND confidence >= ?"
        values: list[object] = [min_confidence]
        if content_contains is not None:
            sql += " AND instr(content, ?) > 0"
            values.append(content_contains)
        sql += " ORDER BY seq LIMIT ?"
        values.append(-1 if limit is None else limit)
        if self.closed:
            raise self._closed_error()
        uri = self.database.resolve().as_uri() + "?mode=ro"
        try:
            reader = sqlite3.connect(uri, uri=True, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _damage(self.database, exc) from exc
        try:
            rows = reader.execute(sql, values).fetchall()
        except sqlite3.Error as exc:
            raise _damage(self.database, exc) from exc
        finally:
            reader.close()
        total = int(rows[0][1]) if rows else 0
        with self._connection():
            rows_by_id = self._view.rows
            found = [m for m in (rows_by_id.get(row[0]) for row in rows) if m is not None]
        return found, total

    def forget(self, memory_ids: Sequence[str], *, soft: bool) -> list[StoredMemory]:
        """Remove (or, when `soft`, hide) the given live memories; returns those affected."""
        affected: list[StoredMemory] = []
        with self._connection() as db, _disk_full_as_answer(self.database):
            view = self._view
            for memory_id in memory_ids:
                memory = view.live(memory_id)
                if memory is None:
                    continue
                if soft:
                    db.execute("UPDATE memories SET deleted = 1 WHERE id = ?", (memory_id,))
                    view.hidden.add(memory_id)
                else:
                    db.execute("DELETE FROM memories WHERE id = ?", (memory_id,))
                    del view.rows[memory_id]
                affected.append(memory)
        return affected

    def count(self) -> int:
        with self._connection():
            return self._view.count()
