"""The schema version each schema declares once, as `engram-schema-version: X.Y.Z` in a comment."""

from __future__ import annotations

import re

from google.protobuf import descriptor_pb2
from packaging.version import InvalidVersion, Version

from toolkit.errors import ToolkitError

VERSION_PATTERN = re.compile(r"engram-schema-version:\s*(\S+)")


class SchemaVersionError(ToolkitError):
    """A schema declares no version, several, or one that is not a valid version."""


def _comments(files: descriptor_pb2.FileDescriptorSet) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for file_proto in files.file:
        for location in file_proto.source_code_info.location:
            texts = [location.leading_comments, location.trailing_comments]
            texts.extend(location.leading_detached_comments)
            found.extend((file_proto.name, text) for text in texts if text)
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
