"""Compile a schema folder once per content: descriptor sets cached under their content hash.

The key covers every .proto file (path and bytes) and the compiler version, so an unchanged
schema is never recompiled and a changed one never served stale.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib import metadata
from pathlib import Path

from google.protobuf import descriptor_pb2

from toolkit.errors import ToolkitError
from toolkit.schema.compile import compile_descriptor_set, proto_files, read_proto

CACHE_ENV = "ENGRAM_COMPAT_CACHE_DIR"


def default_cache_dir(project_root: Path) -> Path:
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else project_root / ".cache" / "engram-compat"


class CacheDirError(ToolkitError):
    """The compile cache folder cannot be used (a file of that name, no permission)."""


def ensure_cache_dir(cache_dir: Path) -> Path:
    """Create the cache folder, or say in one line why it cannot be one."""
    if cache_dir.exists() and not cache_dir.is_dir():
        raise CacheDirError(f"cache folder {cache_dir}: it is a file, not a folder")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CacheDirError(f"cache folder {cache_dir}: {exc.strerror or exc}") from exc
    return cache_dir


def content_key(root: Path) -> str:
    digest = hashlib.sha256(metadata.version("grpcio-tools").encode() + b"\0")
    for name in proto_files(root):
        digest.update(name.encode() + b"\0")
        digest.update(read_proto(root / name) + b"\0")
    return digest.hexdigest()


def compiled_descriptor_set(root: Path, cache_dir: Path) -> descriptor_pb2.FileDescriptorSet:
    """The FileDescriptorSet of the schema in `root`, from the cache when its content is known."""
    cached = cache_dir / "descriptors" / f"{content_key(root)}.binpb"
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        # Compile beside the target and rename: parallel runs never see a half-written file.
        with tempfile.TemporaryDirectory(dir=cached.parent) as tmp:
            fresh = compile_descriptor_set(root, Path(tmp) / cached.name)
            fresh.replace(cached)
    files = descriptor_pb2.FileDescriptorSet()
    files.ParseFromString(cached.read_bytes())
    return files
