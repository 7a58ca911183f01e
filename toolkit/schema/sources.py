"""Where a schema comes from: a folder of .proto files, a buf image, or `git:REF[:PATH]`.

A git ref is this repository at REF with the proto folder inside it (default `proto`),
exported with `git archive` into a folder of the run; it is then judged like a folder.
"""

from __future__ import annotations

import functools
import io
import subprocess
import tarfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError
from packaging.version import Version

from toolkit.data import SHIPPED_PREFIX, shipped_schema
from toolkit.errors import ToolkitError
from toolkit.schema.cache import compiled_descriptor_set
from toolkit.schema.pool import Schema
from toolkit.schema.version import VersionDeclaration, find_version, version_of_tag

GIT_PREFIX = "git:"
DEFAULT_GIT_PROTO_PATH = "proto"
SourceKind = Literal["dir", "image", "git"]


class SchemaSourceError(ToolkitError):
    """A schema could not be read: missing path, unknown ref, not an image, no version."""


@dataclass(frozen=True)
class LoadedSchema:
    """A compiled schema and where it came from."""

    label: str
    kind: SourceKind
    buf_input: Path  # what buf reads: a module folder or an image file
    module_root: Path | None  # the folder of .proto files, None for an image
    files: descriptor_pb2.FileDescriptorSet
    declaration: VersionDeclaration | None  # None: the schema declares no version

    @property
    def version(self) -> Version | None:
        return self.declaration.version if self.declaration else None

    @functools.cached_property
    def schema(self) -> Schema:
        """The descriptor pool, built once (the current schema serves every baseline)."""
        return Schema(self.files)


def _export_git(spec: str, project_root: Path, workdir: Path) -> Path:
    ref, _, inner = spec[len(GIT_PREFIX) :].partition(":")
    inner = inner.strip("/") or DEFAULT_GIT_PROTO_PATH
    if not ref:
        raise SchemaSourceError(f"{spec}: expected git:REF or git:REF:PATH")
    if ref.startswith("-") or inner.startswith("-"):
        # git would read it as an option (`git:--output=FILE` writes a file).
        raise SchemaSourceError(f"{spec}: a git ref or path may not begin with `-`")
    proc = subprocess.run(
        ["git", "-C", str(project_root), "archive", "--format=tar", ref, "--", inner],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        raise SchemaSourceError(f"{spec}: git archive failed: {reason[-1] if reason else ''}")
    target = workdir / f"git-{len(list(workdir.glob('git-*')))}"
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        archive.extractall(target, filter="data")
    return target / inner


def _read_image(path: Path) -> descriptor_pb2.FileDescriptorSet:
    files = descriptor_pb2.FileDescriptorSet()
    try:
        files.ParseFromString(path.read_bytes())
    except OSError as exc:
        raise SchemaSourceError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    except DecodeError as exc:
        raise SchemaSourceError(f"{path}: not a buf image or descriptor set ({exc})") from exc
    if not files.file:
        raise SchemaSourceError(f"{path}: not a buf image or descriptor set (no files)")
    try:
        Schema(files)
    except (TypeError, KeyError) as exc:
        raise SchemaSourceError(
            f"{path}: image is incomplete ({exc}); build it with imports (`buf build -o`)"
        ) from exc
    return files


@dataclass(frozen=True)
class LocatedSchema:
    """Where a schema's files are, before compiling: enough for buf to start on it."""

    spec: str
    kind: SourceKind
    path: Path


def locate_schema_source(spec: str, *, project_root: Path, workdir: Path) -> LocatedSchema:
    """Resolve `spec` to a folder or image (a git ref is exported first); nothing compiled."""
    kind: SourceKind
    if spec.startswith(GIT_PREFIX):
        kind, path = "git", _export_git(spec, project_root, workdir)
    elif spec.startswith(SHIPPED_PREFIX):
        shipped = shipped_schema(spec)
        if shipped is None:
            raise SchemaSourceError(f"{spec}: the toolkit ships only `{SHIPPED_PREFIX}baseline`")
        kind, path = "dir", shipped
    else:
        path = Path(spec)
        if not path.is_absolute():
            path = (project_root / path).resolve()
        if path.is_file():
            kind = "image"
        elif path.is_dir():
            kind = "dir"
        else:
            raise SchemaSourceError(f"{spec}: no such folder or image file")
    return LocatedSchema(spec, kind, path)


def load_located(located: LocatedSchema, cache_dir: Path) -> LoadedSchema:
    """Read or compile (cached) and version a located schema."""
    spec, kind, path = located.spec, located.kind, located.path
    try:
        files = _read_image(path) if kind == "image" else compiled_descriptor_set(path, cache_dir)
        declaration = find_version(files, None if kind == "image" else path)
    except ToolkitError as exc:
        raise SchemaSourceError(f"schema {spec}: {exc}") from exc
    if kind == "git":
        tagged = version_of_tag(spec[len(GIT_PREFIX) :].partition(":")[0])
        if tagged is not None:  # the release tag names the version of what it tags
            declaration = VersionDeclaration(tagged, None, None)
    return LoadedSchema(spec, kind, path, None if kind == "image" else path, files, declaration)


def load_all(located: Sequence[LocatedSchema], cache_dir: Path) -> list[LoadedSchema]:
    """`load_located` for each, the compilers running side by side; the first error wins."""
    if len(located) < 2:
        return [load_located(one, cache_dir) for one in located]
    with ThreadPoolExecutor(max_workers=len(located)) as pool:
        futures = [pool.submit(load_located, one, cache_dir) for one in located]
        return [future.result() for future in futures]


def load_schema_source(
    spec: str, *, project_root: Path, cache_dir: Path, workdir: Path
) -> LoadedSchema:
    """Read, compile (cached) and version the schema named by `spec`."""
    located = locate_schema_source(spec, project_root=project_root, workdir=workdir)
    return load_located(located, cache_dir)
