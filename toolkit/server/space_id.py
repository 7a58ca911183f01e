"""`MemorySpaceId`: the only form in which a space id travels through the server."""

from __future__ import annotations

import re

from toolkit.errors import ToolkitError

SPACE_ID_RULE = "3-64 characters, each a lowercase ASCII letter, a digit, '_' or '-'"
_PATTERN = re.compile(r"[a-z0-9_-]{3,64}")
_SHOWN_CHARS = 80


class InvalidSpaceId(ToolkitError):
    """A string that breaks the space id rule; the message states the rule."""

    def __init__(self, value: str) -> None:
        shown = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "..."
        super().__init__(f"invalid memory space id {shown!r}: an id is {SPACE_ID_RULE}")
        self.value = value


class MemorySpaceId(str):
    """A validated space id (3-64 chars of `[a-z0-9_-]`, never trimmed).

    A `str` subclass so a registry lookup hashes like a plain string (the hot path is one
    dictionary lookup), while type checkers still refuse a plain `str` where an id is meant.
    """

    __slots__ = ()

    def __new__(cls, value: str) -> MemorySpaceId:
        if type(value) is cls:
            return value
        if not isinstance(value, str) or _PATTERN.fullmatch(value) is None:
            raise InvalidSpaceId(value if isinstance(value, str) else repr(value))
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"MemorySpaceId({str.__repr__(self)})"


def parse_space_id(value: str) -> MemorySpaceId:
    """`value` as a `MemorySpaceId`, or `InvalidSpaceId` naming the rule."""
    return MemorySpaceId(value)
