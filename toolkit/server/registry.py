"""`MemorySpaceRegistry`: every space's store, created, found, listed and deleted safely."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.server.space_id import InvalidSpaceId, MemorySpaceId
from toolkit.server.store import SpaceStore, StoreClosed

log = logging.getLogger(__name__)

SPACES_DIR = "spaces"
StoreFactory = Callable[[Path], SpaceStore]


class SpaceNotFound(ToolkitError):
    """A well-formed id that is not registered; the message says how to create it."""

    def __init__(self, space_id: MemorySpaceId) -> None:
        super().__init__(
            f"memory space '{space_id}' does not exist; create it first with "
            f"`engram-compat space create {space_id}` (MemorySpaceService.CreateSpace)"
        )
        self.space_id = space_id


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
    """A registered space: its store, where it lives and its metadata."""

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
    """What `list()` reports about one space."""

    id: MemorySpaceId
    created_at_ns: int
    persistence_path: Path
    memory_count: int


def prepare_data_dir(data_dir: Path, *, spaces: bool = True) -> Path:
    """Create `data_dir` (and `spaces/`) and prove it writable; returns it resolved."""
    try:
        root = data_dir.resolve()
        (root / SPACES_DIR if spaces else root).mkdir(parents=True, exist_ok=True)
        probe = root / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise DataDirError(f"data dir {data_dir} cannot be created or written: {reason}") from exc
    return root


class MemorySpaceRegistry:
    """Spaces by id. `get` is one dictionary lookup; `create` and `delete` are serialised."""

    spaces_layout = True  # False: the pre-migration layout (toolkit.server.adopt)

    def __init__(self, data_dir: Path, *, store_factory: StoreFactory = SpaceStore.open) -> None:
        self.data_dir = prepare_data_dir(data_dir, spaces=self.spaces_layout)
        self.spaces_dir = self.data_dir / SPACES_DIR
        self._store_factory = store_factory
        self._spaces: dict[MemorySpaceId, SpaceHandle] = {}
        self._lock = threading.Lock()

    def space_path(self, space_id: MemorySpaceId) -> Path:
        """`<data-dir>/spaces/<id>`, refused when the resolved path is not directly inside."""
        path = (self.spaces_dir / space_id).resolve()
        if path.parent != self.spaces_dir or path.name != space_id:
            raise DataDirError(f"memory space '{space_id}' would be stored outside the data dir")
        return path

    def recover(self) -> list[MemorySpaceId]:
        """Open every space persisted under the data dir (at start, before serving)."""
        recovered: list[MemorySpaceId] = []
        for directory in sorted(self.spaces_dir.iterdir()):
            if not directory.is_dir():
                continue
            try:
                space_id = MemorySpaceId(directory.name)
            except InvalidSpaceId:
                log.warning(
                    "skipping a folder that is not a space",
                    extra={"event": "space_skipped", "path": str(directory)},
                )
                continue
            self.create(space_id)
            recovered.append(space_id)
        return recovered

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
        """Like `create`, also saying whether this call created the space."""
        handle = self._spaces.get(space_id)
        if handle is not None:
            return handle, False
        with self._lock:
            handle = self._spaces.get(space_id)
            if handle is not None:
                return handle, False
            path = self.space_path(space_id)
            existed = path.exists()
            store = self._store_factory(path)
            handle = SpaceHandle(
                id=space_id,
                store=store,
                path=path,
                created_at_ns=store.created_at_ns(),
                options=options or SpaceOptions(),
            )
            self._spaces[space_id] = handle
        log.info(
            "opened memory space" if existed else "provisioned memory space",
            extra={
                "event": "space_opened" if existed else "space_created",
                "space": str(space_id),
                "path": str(path),
                "database": str(store.database),
            },
        )
        return handle, not existed

    def delete(self, space_id: MemorySpaceId, *, protected: MemorySpaceId | None = None) -> None:
        """Close the space's store and remove its directory."""
        if space_id == protected:
            raise SpaceProtected(
                f"memory space '{space_id}' is the default space and cannot be deleted"
            )
        with self._lock:
            handle = self._spaces.pop(space_id, None)
            if handle is None:
                raise SpaceNotFound(space_id)
            handle.store.close()
            shutil.rmtree(handle.path, ignore_errors=True)
        log.info(
            "deleted memory space",
            extra={"event": "space_deleted", "space": str(space_id), "path": str(handle.path)},
        )

    def ids(self) -> list[MemorySpaceId]:
        return sorted(self._spaces)

    def list(self) -> list[SpaceInfo]:
        infos: list[SpaceInfo] = []
        for handle in sorted(self._spaces.values(), key=lambda h: h.id):
            try:
                count = handle.store.count()
            except StoreClosed:
                continue  # deleted while listing
            infos.append(SpaceInfo(handle.id, handle.created_at_ns, handle.path, count))
        return infos

    def close(self) -> None:
        """Close every store (server shutdown); the data stays on disk."""
        with self._lock:
            for handle in self._spaces.values():
                handle.store.close()
            self._spaces.clear()
