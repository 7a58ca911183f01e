"""`MemorySpaceRegistry`: every space's store, created, found, listed and deleted safely.

Spaces are registered at start-up from their folders' names, without opening their stores;
a server checks their files (without SQLite) in the background. A store is opened on first
use and kept in a bounded set of open stores (`max_open_spaces`, least recently used closed
first): each open store holds
three file descriptors (database, WAL, shared memory), so the number of spaces a client can
create never decides how many descriptors the server holds. A space whose files are damaged
is quarantined: its calls fail with a status naming it, every other space is served.

Lifecycle changes are all-or-nothing on disk: a space's folder is marked as being created
until its store and manifest are written (`CreateSpace`); a deleted space is renamed to a
tombstone before anything is removed (`DeleteSpace`). A marked folder or a tombstone never
becomes a space; such leftovers are removed at start-up.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from toolkit.contract import SPACE_SERVICE_NAME
from toolkit.errors import ToolkitError
from toolkit.server.space_id import InvalidSpaceId, MemorySpaceId
from toolkit.server.store import (
    DATABASE_NAME,
    DiskFull,
    OutOfDescriptors,
    SpaceStore,
    StoreClosed,
    StoreDamaged,
    StoredEpisode,
    StoredMemory,
    check_files,
)

log = logging.getLogger(__name__)

SPACES_DIR = "spaces"
StoreFactory = Callable[[Path], SpaceStore]
DEFAULT_MAX_SPACES = 10_000
DEFAULT_MAX_OPEN_SPACES = 128
CREATING_MARKER = ".creating"  # in a space's folder until its store and manifest exist
TOMBSTONE_PREFIX = ".deleted-"
T = TypeVar("T")


class SpaceNotFound(ToolkitError):
    """A well-formed id that is not registered; the message says how to create it."""

    def __init__(self, space_id: MemorySpaceId) -> None:
        super().__init__(
            f"memory space '{space_id}' does not exist; create it first with "
            f"`engram-compat space create {space_id}` ({SPACE_SERVICE_NAME}.CreateSpace)"
        )
        self.space_id = space_id


class SpaceLimitReached(ToolkitError):
    """The server holds as many spaces as `--max-spaces` allows."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"this server already holds {limit} memory spaces, its limit (--max-spaces); "
            "delete a space before creating another"
        )
        self.limit = limit


class SpaceQuarantined(ToolkitError):
    """The space's files are damaged: the space is not served until an operator repairs it."""

    def __init__(self, space_id: MemorySpaceId, damage: StoreDamaged) -> None:
        state = "corrupt" if damage.corrupt else "unreadable"
        super().__init__(
            f"memory space '{space_id}' is quarantined: its data is {state} ({damage}); "
            "other spaces are served"
        )
        self.space_id = space_id
        self.damage = damage


class LifecycleError(ToolkitError):
    """A space could not be created or deleted on disk; nothing changed."""


class SpaceProtected(ToolkitError):
    """The default space cannot be deleted: legacy clients are routed to it."""


class DataDirError(ToolkitError):
    """The data directory cannot be created or written, or a path would leave it."""


@dataclass(frozen=True)
class SpaceOptions:
    """Options of a new space (none change behaviour yet; the registry carries them)."""

    description: str = ""


@dataclass(frozen=True)
class SpaceHandle:
    """A registered space: its store, where it lives and its metadata.

    The registry's handles hold a `LazyStore`: opened on first use, closed when it is the
    least recently used of too many open stores, reopened on the next use.
    """

    id: MemorySpaceId
    store: SpaceStore
    path: Path
    created_at_ns: int
    options: SpaceOptions

    @property
    def database(self) -> Path:
        return self.store.database


@dataclass(frozen=True)
class SpaceInfo:
    """What `list()` reports about one space; `quarantine` says why it is not served."""

    id: MemorySpaceId
    created_at_ns: int
    persistence_path: Path
    memory_count: int
    quarantine: SpaceQuarantined | None = None


def prepare_data_dir(data_dir: Path, *, spaces: bool = True) -> Path:
    """Create `data_dir` (and `spaces/`) and prove it writable; returns it resolved."""
    try:
        root = data_dir.resolve()
        (root / SPACES_DIR if spaces else root).mkdir(parents=True, exist_ok=True)
        probe = root / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        if exc.errno == errno.ENOSPC and (root / SPACES_DIR).is_dir():
            log.warning(
                "the data dir's disk is full: reads are served, writes are refused",
                extra={"event": "disk_full", "data_dir": str(root)},
            )
            return root
        reason = exc.strerror or str(exc)
        raise DataDirError(f"data dir {data_dir} cannot be created or written: {reason}") from exc
    return root


_clock = itertools.count(1)


class LazyStore(SpaceStore):
    """A space's store as the registry hands it out: opened on first use through the
    registry's bounded set of open stores, and reopened when that set closed it.

    Every operation of `SpaceStore` works on it. An operation that finds its store closed by
    the set between taking it and using it (nothing was done: `SpaceStore` checks under its
    lock) simply reopens it; once the space is deleted it raises `StoreClosed`.
    """

    def __init__(self, space_id: MemorySpaceId, directory: Path, pool: OpenStores) -> None:
        self.space_id = space_id
        self.directory = directory
        self.database = directory / DATABASE_NAME
        self.last_used = 0
        self.quarantine: SpaceQuarantined | None = None
        self.deleted = False
        self.current: SpaceStore | None = None
        self.cached_count: int | None = None
        self.checked = False  # its files were checked (MemorySpaceRegistry._check)
        self._pool = pool

    def store(self) -> SpaceStore:
        """The open store (opening it); raises `SpaceQuarantined` or `StoreClosed`."""
        self.last_used = next(_clock)
        current = self.current
        if current is not None:
            return current
        return self._pool.open(self)

    def _run(self, operation: Callable[[SpaceStore], T]) -> T:
        while True:
            current = self.store()
            try:
                return operation(current)
            except StoreDamaged as damage:  # found by a write: quarantined from now on
                self._pool.damaged(self, damage)
                assert self.quarantine is not None
                raise self.quarantine from damage
            except StoreClosed:
                if self.deleted or self.current is current:
                    raise
                # closed by the bounded set between `store()` and the operation: reopen

    @property
    def closed(self) -> bool:
        return self.deleted

    def close(self) -> None:
        """Close for good (the space is deleted or the server is stopping)."""
        self.deleted = True
        self._pool.release(self)

    def created_at_ns(self) -> int:
        return self._run(lambda s: s.created_at_ns())

    def remember(self, memory: StoredMemory) -> StoredMemory:
        return self._run(lambda s: s.remember(memory))

    def remember_many(self, memories: Sequence[StoredMemory]) -> list[StoredMemory]:
        return self._run(lambda s: s.remember_many(memories))

    def experience(self, episode: StoredEpisode) -> StoredEpisode:
        return self._run(lambda s: s.experience(episode))

    def episode(self, episode_id: str) -> StoredEpisode | None:
        return self._run(lambda s: s.episode(episode_id))

    def find(
        self,
        *,
        memory_id: str | None = None,
        content_contains: str | None = None,
        min_confidence: float = 0.0,
        limit: int | None = None,
    ) -> tuple[list[StoredMemory], int]:
        return self._run(
            lambda s: s.find(
                memory_id=memory_id,
                content_contains=content_contains,
                min_confidence=min_confidence,
                limit=limit,
            )
        )

    def forget(self, memory_ids: Sequence[str], *, soft: bool) -> list[StoredMemory]:
        return self._run(lambda s: s.forget(memory_ids, soft=soft))

    def count(self) -> int:
        return self._run(lambda s: s.count())

    def known_count(self) -> int:
        """The memory count without opening a closed store when it was counted before."""
        if self.current is None and self.cached_count is not None and not self.deleted:
            if self.quarantine is not None:
                raise self.quarantine
            return self.cached_count
        return self.count()


class OpenStores:
    """The bounded set of open stores; the least recently used is closed to make room."""

    def __init__(
        self,
        factory: StoreFactory,
        limit: int,
        on_damage: Callable[[LazyStore, StoreDamaged], None],
    ) -> None:
        if limit < 1:
            raise ValueError("at least one store must be allowed open")
        self.factory = factory
        self.limit = limit
        self._on_damage = on_damage
        self._open: dict[LazyStore, None] = {}
        self._lock = threading.Lock()
        self.opened = 0  # stores opened since start (a test reads it)
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._open)

    def open(self, lazy: LazyStore, *, quarantine: bool = True) -> SpaceStore:
        """Open `lazy`'s store, closing the least recently used one when the set is full.
        A damaged store quarantines its space (unless `quarantine` is False: a create)."""
        with self._lock:
            if lazy.deleted:
                raise StoreClosed(f"the store at {lazy.directory} is closed")
            if lazy.quarantine is not None:
                raise lazy.quarantine
            if lazy.current is not None:
                return lazy.current
            while len(self._open) >= self.limit:
                self._evict_one()
            try:
                store = self.factory(lazy.directory)
            except StoreDamaged as damage:
                if not quarantine:
                    raise
                self._on_damage(lazy, damage)
                assert lazy.quarantine is not None
                raise lazy.quarantine from damage
            lazy.current = store
            lazy.cached_count = None
            self._open[lazy] = None
            self.opened += 1
            return store

    def _evict_one(self) -> None:
        victim = min(self._open, key=lambda lazy: lazy.last_used)
        del self._open[victim]
        store, victim.current = victim.current, None
        if store is not None:
            try:
                victim.cached_count = store.count()
            except StoreClosed:
                victim.cached_count = None
            store.close()
        self.evicted += 1

    def damaged(self, lazy: LazyStore, damage: StoreDamaged) -> None:
        """A store found damaged while open: quarantine its space and close the store."""
        self._on_damage(lazy, damage)
        self.release(lazy)

    def release(self, lazy: LazyStore) -> None:
        """Close `lazy`'s store now (the space is deleted or the server stops)."""
        with self._lock:
            self._open.pop(lazy, None)
            store, lazy.current = lazy.current, None
        if store is not None:
            store.close()


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class MemorySpaceRegistry:
    """Spaces by id. `get` is one dictionary lookup; `create` and `delete` are serialised."""

    spaces_layout = True  # False: the pre-migration layout (toolkit.server.adopt)

    def __init__(
        self,
        data_dir: Path,
        *,
        store_factory: StoreFactory = SpaceStore.open,
        max_spaces: int = DEFAULT_MAX_SPACES,
        max_open_spaces: int = DEFAULT_MAX_OPEN_SPACES,
    ) -> None:
        self.data_dir = prepare_data_dir(data_dir, spaces=self.spaces_layout)
        self.spaces_dir = self.data_dir / SPACES_DIR
        self.max_spaces = max_spaces
        self._store_factory = store_factory
        self.open_stores = OpenStores(store_factory, max_open_spaces, self._quarantine)
        self._spaces: dict[MemorySpaceId, SpaceHandle] = {}
        self._lock = threading.RLock()
        self._quarantine_lock = threading.Lock()
        self._closed = False

    def space_path(self, space_id: MemorySpaceId) -> Path:
        """`<data-dir>/spaces/<id>`, refused when the resolved path is not directly inside."""
        path = (self.spaces_dir / space_id).resolve()
        if path.parent != self.spaces_dir or path.name != space_id:
            raise DataDirError(f"memory space '{space_id}' would be stored outside the data dir")
        return path

    # --- quarantine ------------------------------------------------------------------------

    def _quarantine(self, lazy: LazyStore, damage: StoreDamaged) -> None:
        """Mark the space quarantined and say so once, with the file and the reason."""
        with self._quarantine_lock:
            if lazy.quarantine is not None:
                return
            lazy.quarantine = SpaceQuarantined(lazy.space_id, damage)
        log.error(
            "memory space quarantined: %s",
            damage,
            extra={
                "event": "space_quarantined",
                "space": str(lazy.space_id),
                "file": str(damage.file),
                "reason": damage.reason,
                "corrupt": damage.corrupt,
            },
        )

    def quarantined(self) -> list[MemorySpaceId]:
        return sorted(
            h.id
            for h in self._spaces.values()
            if isinstance(h.store, LazyStore) and h.store.quarantine is not None
        )

    # --- start-up --------------------------------------------------------------------------

    def recover(self, *, check: bool = True) -> list[MemorySpaceId]:
        """Register every space persisted under the data dir (at start, before serving),
        without opening their stores; remove what an interrupted create or delete left.

        With `check` each space's files are checked now (`check_all`); a server passes False
        and checks them in the background (`check_in_background`)."""
        recovered: list[MemorySpaceId] = []
        with os.scandir(self.spaces_dir) as entries:
            folders = sorted(e.name for e in entries if e.is_dir(follow_symlinks=False))
        root = str(self.spaces_dir)
        for name in folders:
            directory = self.spaces_dir / name
            folder = os.path.join(root, name)
            if name.startswith(TOMBSTONE_PREFIX) or os.path.exists(
                os.path.join(folder, CREATING_MARKER)
            ):
                shutil.rmtree(directory, ignore_errors=True)
                log.info(
                    "removed what an interrupted create or delete left",
                    extra={"event": "space_leftover_removed", "path": str(directory)},
                )
                continue
            try:
                space_id = MemorySpaceId(name)
            except InvalidSpaceId:
                log.warning(
                    "skipping a folder that is not a space",
                    extra={"event": "space_skipped", "path": str(directory)},
                )
                continue
            self._register(space_id, directory, check=False)
            recovered.append(space_id)
        if check:
            self.check_all()
        return recovered

    def _register(
        self, space_id: MemorySpaceId, directory: Path, *, check: bool = True
    ) -> SpaceHandle:
        """Register a persisted space; with `check`, check its files now (see `_check`)."""
        lazy = LazyStore(space_id, directory, self.open_stores)
        handle = SpaceHandle(space_id, lazy, directory, 0, SpaceOptions())
        self._spaces[space_id] = handle
        return self._check(handle) if check else handle

    def _check(self, handle: SpaceHandle) -> SpaceHandle:
        """Check a registered space's files without SQLite (once): quarantine it when they are
        damaged, else learn its creation time from its manifest. A store older than
        manifests is opened, which writes one. Returns the handle as it is now registered."""
        lazy = handle.store
        if not isinstance(lazy, LazyStore) or lazy.checked:
            return self._spaces.get(handle.id, handle)
        created_at_ns = 0
        try:
            manifest = check_files(lazy.directory)
            created_at_ns = lazy.created_at_ns() if manifest is None else manifest.created_at_ns
        except StoreDamaged as damage:
            self._quarantine(lazy, damage)
        except (SpaceQuarantined, StoreClosed, DiskFull, OutOfDescriptors):
            pass  # quarantined and logged already; deleted; the open will say so on use
        lazy.checked = True
        checked = replace(handle, created_at_ns=created_at_ns)
        with self._lock:
            if self._spaces.get(handle.id) is handle:
                self._spaces[handle.id] = checked
        return checked

    def check_all(self) -> None:
        """Check every registered space not checked yet (see `_check`)."""
        for handle in list(self._spaces.values()):
            if self._closed:
                return
            self._check(handle)

    def check_in_background(self) -> threading.Thread:
        """`check_all` on a thread, so a server with many spaces starts serving at once; a
        space used before its turn is checked when its store opens."""
        thread = threading.Thread(target=self.check_all, name="engram-space-check", daemon=True)
        thread.start()
        return thread

    # --- lookup ----------------------------------------------------------------------------

    def get(self, space_id: MemorySpaceId) -> SpaceHandle:
        handle = self._spaces.get(space_id)
        if handle is None:
            raise SpaceNotFound(space_id)
        return handle

    def create(self, space_id: MemorySpaceId, options: SpaceOptions | None = None) -> SpaceHandle:
        """The space's handle, creating and provisioning it when it does not exist yet."""
        return self.create_reporting(space_id, options)[0]

    def create_reporting(
        self, space_id: MemorySpaceId, options: SpaceOptions | None = None
    ) -> tuple[SpaceHandle, bool]:
        """Like `create`, also saying whether this call created the space.

        A create that fails leaves nothing that becomes a space (see `_provision`)."""
        handle = self._spaces.get(space_id)
        if handle is not None:
            return handle, False
        with self._lock:
            handle = self._spaces.get(space_id)
            if handle is not None:
                return handle, False
            path = self.space_path(space_id)
            if path.exists():  # on disk but not registered (created behind the server's back)
                handle = self._register(space_id, path)
                existed = True
            else:
                if len(self._spaces) >= self.max_spaces:
                    raise SpaceLimitReached(self.max_spaces)
                handle = self._provision(space_id, path)
                existed = False
            if options is not None:
                handle = SpaceHandle(
                    handle.id, handle.store, handle.path, handle.created_at_ns, options
                )
                self._spaces[space_id] = handle
            # A new space is about to be used: open it now, once, under the lock.
            store = handle.store
            if isinstance(store, LazyStore):
                with contextlib.suppress(SpaceQuarantined, DiskFull, OutOfDescriptors):
                    store.store()
        log.info(
            "opened memory space" if existed else "provisioned memory space",
            extra={
                "event": "space_opened" if existed else "space_created",
                "space": str(space_id),
                "path": str(path),
                "database": str(handle.database),
            },
        )
        return handle, not existed

    def _provision(self, space_id: MemorySpaceId, path: Path) -> SpaceHandle:
        """Create the space's folder and store, marked as being created until its store and
        manifest are written; on failure remove the folder. A folder still marked at start-up
        (the process died mid-create) is removed, so it never becomes a space."""
        lazy = LazyStore(space_id, path, self.open_stores)
        marker = path / CREATING_MARKER
        try:
            path.mkdir()
            marker.write_bytes(b"")
            store = self.open_stores.open(lazy, quarantine=False)
            created_at_ns = store.created_at_ns()
            marker.unlink()
        except BaseException as exc:
            lazy.close()
            shutil.rmtree(path, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise DiskFull() from exc
            if isinstance(exc, StoreDamaged | OSError):
                raise LifecycleError(
                    f"memory space '{space_id}' could not be created: {exc}"
                ) from exc
            raise
        lazy.checked = True
        handle = SpaceHandle(space_id, lazy, path, created_at_ns, SpaceOptions())
        self._spaces[space_id] = handle
        return handle

    def delete(self, space_id: MemorySpaceId, *, protected: MemorySpaceId | None = None) -> None:
        """Rename the space's folder to a tombstone (the delete), close its store, then remove
        the tombstone. When the rename fails nothing changed and `LifecycleError` says why."""
        if space_id == protected:
            raise SpaceProtected(
                f"memory space '{space_id}' is the default space and cannot be deleted"
            )
        with self._lock:
            handle = self._spaces.get(space_id)
            if handle is None:
                raise SpaceNotFound(space_id)
            tombstone = self.spaces_dir / f"{TOMBSTONE_PREFIX}{space_id}-{time.time_ns()}"
            try:
                handle.path.rename(tombstone)
                _fsync_directory(self.spaces_dir)
            except OSError as exc:
                raise LifecycleError(
                    f"memory space '{space_id}' could not be deleted: renaming "
                    f"{handle.path} failed: {exc.strerror or exc}; the space is unchanged"
                ) from exc
            del self._spaces[space_id]
            handle.store.close()
            shutil.rmtree(tombstone, ignore_errors=True)
        log.info(
            "deleted memory space",
            extra={"event": "space_deleted", "space": str(space_id), "path": str(handle.path)},
        )

    def ids(self) -> list[MemorySpaceId]:
        return sorted(self._spaces)

    def __len__(self) -> int:
        return len(self._spaces)

    def info(self, handle: SpaceHandle) -> SpaceInfo:
        """What `list()` says of one space; raises `StoreClosed` once it is deleted."""
        handle = self._check(handle)
        store = handle.store
        try:
            count = store.known_count() if isinstance(store, LazyStore) else store.count()
        except SpaceQuarantined as quarantine:
            return SpaceInfo(handle.id, handle.created_at_ns, handle.path, -1, quarantine)
        return SpaceInfo(handle.id, handle.created_at_ns, handle.path, count)

    def list(self) -> list[SpaceInfo]:
        infos: list[SpaceInfo] = []
        for handle in sorted(self._spaces.values(), key=lambda h: h.id):
            try:
                infos.append(self.info(handle))
            except StoreClosed:
                continue  # deleted while listing
        return infos

    def close(self) -> None:
        """Close every store (server shutdown); the data stays on disk."""
        self._closed = True
        with self._lock:
            for handle in self._spaces.values():
                handle.store.close()
            self._spaces.clear()


def quarantine_of(handle: SpaceHandle) -> SpaceQuarantined | None:
    store = handle.store
    return store.quarantine if isinstance(store, LazyStore) else None


def ensure_usable(handle: SpaceHandle) -> None:
    """Raise `SpaceQuarantined` for a quarantined space (opening its store when needed)."""
    store = handle.store
    if isinstance(store, LazyStore):
        if store.quarantine is not None:
            raise store.quarantine
        store.store()
