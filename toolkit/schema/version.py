"""The schema version a schema may declare once, as `engram-schema-version: X.Y.Z` in a comment;
or from a release tag (`v1.2.3`) or a command-line option."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import descriptor_pb2
from packaging.version import InvalidVersion, Version

from toolkit.errors import ToolkitError

VERSION_MARKER = "engram-schema-version:"
VERSION_PATTERN = re.compile(re.escape(VERSION_MARKER) + r"\s*(\S+)")


class SchemaVersionError(ToolkitError):
    """A schema declares no version, several, or one that is not a valid version."""


def _comments(files: descriptor_pb2.FileDescriptorSet) -> list[tuple[str, str]]:
    """Every comment that may declare a version, with its file. A file whose source info does
    not hold the marker at all (its comments are stored there verbatim) is not walked: the
    walk over every source location of a large schema is the expensive part."""
    found: list[tuple[str, str]] = []
    marker = VERSION_MARKER.encode()
    for file_proto in files.file:
        if marker not in file_proto.source_code_info.SerializeToString():
            continue
        name = file_proto.name
        for location in file_proto.source_code_info.location:
            leading = location.leading_comments
            if leading:
                found.append((name, leading))
            trailing = location.trailing_comments
            if trailing:
                found.append((name, trailing))
            detached = location.leading_detached_comments
            if detached:
                found.extend((name, text) for text in detached if text)
    return found


def declared_version(files: descriptor_pb2.FileDescriptorSet) -> Version:
    """The version declared in the schema's comments (source info must be included)."""
    declared = {
        (name, match.group(1))
        for name, text in _comments(files)
        for match in VERSION_PATTERN.finditer(text)
    }
    if not declared:
        raise SchemaVersionError(
            "schema declares no version: add a comment `engram-schema-version: X.Y.Z`"
        )
    if len(declared) > 1:
        where = ", ".join(f"{name} says {value}" for name, value in sorted(declared))
        raise SchemaVersionError(f"schema declares its version more than once: {where}")
    (name, value) = declared.pop()
    try:
        return Version(value)
    except InvalidVersion as exc:
        raise SchemaVersionError(f"{name}: {value!r} is not a valid version") from exc


TAG_PATTERN = re.compile(r"^v?(\d+\.\d+\.\d+)$")


@dataclass(frozen=True)
class VersionDeclaration:
    """A schema's version and where it is declared (file relative to the module, 1-based
    line; both None when the version came from a tag or a command-line option). `column` and
    `end_column` span `engram-schema-version: X.Y.Z` on that line (1-based, the end one past
    its last character, as GitHub counts); None when the file is not at hand."""

    version: Version
    file: str | None
    line: int | None
    column: int | None = None
    end_column: int | None = None


def _span_of(
    module_root: Path | None, file: str, value: str
) -> tuple[int | None, int | None, int | None]:
    """(line, column, end column) of the declaration in the file, as the file reads."""
    if module_root is None:
        return None, None, None
    try:
        text = (module_root / file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None, None, None
    for number, line in enumerate(text.splitlines(), start=1):
        match = VERSION_PATTERN.search(line)
        if match and match.group(1) == value:
            return number, match.start() + 1, match.end() + 1
    return None, None, None


def find_version(
    files: descriptor_pb2.FileDescriptorSet, module_root: Path | None = None
) -> VersionDeclaration | None:
    """The version declared in the schema's comments, or None when it declares none (the
    version comment is optional). Several or an invalid one is still an error."""
    declared = {
        (name, match.group(1))
        for name, text in _comments(files)
        for match in VERSION_PATTERN.finditer(text)
    }
    if not declared:
        return None
    if len(declared) > 1:
        where = ", ".join(f"{name} says {value}" for name, value in sorted(declared))
        raise SchemaVersionError(f"schema declares its version more than once: {where}")
    (name, value) = declared.pop()
    try:
        version = Version(value)
    except InvalidVersion as exc:
        raise SchemaVersionError(f"{name}: {value!r} is not a valid version") from exc
    return VersionDeclaration(version, name, *_span_of(module_root, name, value))


def version_of_tag(ref: str) -> Version | None:
    """`v1.2.3` (or `1.2.3`, also as `refs/tags/v1.2.3`) -> 1.2.3; anything else None."""
    match = TAG_PATTERN.match(ref.rpartition("/")[2])
    return Version(match.group(1)) if match else None


def parse_version_option(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion as exc:
        raise SchemaVersionError(f"{text!r} is not a valid version (X.Y.Z)") from exc
