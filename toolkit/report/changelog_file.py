"""Put a version's entry into a Keep a Changelog file, idempotently.

The entry goes under its own `## [VERSION]` heading: an existing section for that version is
replaced (so the file follows the latest results), a new one goes above the newest released
version (below `## [Unreleased]`), and a missing file is created with the usual preamble.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import ToolkitError

PREAMBLE = """# Changelog

All notable changes to the Engram gRPC schema are documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

"""
SECTION = re.compile(r"^## \[(?P<version>[^\]]+)\]", re.MULTILINE)
LINK_DEFINITION = re.compile(r"^\[[^\]]+\]:\s", re.MULTILINE)


class ChangelogError(ToolkitError):
    """The changelog file cannot be read or written."""


@dataclass(frozen=True)
class ChangelogUpdate:
    text: str
    action: str  # created | inserted | updated | unchanged


def _section_end(text: str, start: int) -> int:
    ends = [len(text)]
    following = SECTION.search(text, start + 1)
    if following:
        ends.append(following.start())
    links = LINK_DEFINITION.search(text, start + 1)
    if links:
        ends.append(links.start())
    return min(ends)


def _block(entry: str, followed: bool) -> str:
    return entry.rstrip("\n") + ("\n\n" if followed else "\n")


def insert_entry(text: str | None, entry: str, version: str) -> ChangelogUpdate:
    """The changelog `text` (None: no file yet) with `entry` as the section of `version`."""
    created = text is None
    current = PREAMBLE if text is None else text
    sections = list(SECTION.finditer(current))
    for match in sections:
        if match.group("version") == version:
            end = _section_end(current, match.start())
            block = _block(entry, end < len(current))
            updated = current[: match.start()] + block + current[end:]
            return ChangelogUpdate(updated, "unchanged" if updated == current else "updated")
    released = [m for m in sections if m.group("version").lower() != "unreleased"]
    links = LINK_DEFINITION.search(current)
    if released:
        at = released[0].start()
    elif links:
        at = links.start()
    else:
        at = len(current)
    head = current[:at]
    if head and not head.endswith("\n\n"):
        head = head.rstrip("\n") + "\n\n"
    updated = head + _block(entry, at < len(current)) + current[at:]
    return ChangelogUpdate(updated, "created" if created else "inserted")


def write_entry(path: Path, entry: str, version: str) -> str:
    """Insert `entry` into the file at `path`; returns what was done (see ChangelogUpdate)."""
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else None
    except OSError as exc:
        raise ChangelogError(f"{path} cannot be read: {exc.strerror}") from exc
    update = insert_entry(text, entry, version)
    if update.action != "unchanged":
        try:
            path.write_text(update.text, encoding="utf-8")
        except OSError as exc:
            raise ChangelogError(f"{path} cannot be written: {exc.strerror}") from exc
    return update.action
