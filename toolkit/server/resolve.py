"""Which space a request acts on: field, then header, then the (deprecated) default.

`SpaceResolver` is a seam: each step is a small method, so a test can subclass it to build a
deliberately broken server (one that ignores the header, auto-creates unknown spaces, or
sends no deprecation header) and show that the compatibility checks catch it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from toolkit.contract import DEPRECATION_HEADER, SPACE_FIELD, SPACE_HEADER
from toolkit.server.registry import MemorySpaceRegistry, SpaceHandle, SpaceNotFound
from toolkit.server.space_id import InvalidSpaceId, MemorySpaceId
from toolkit.server.status import RpcFailure, invalid_argument, invalid_space_id, space_not_found

log = logging.getLogger(__name__)

Metadata = tuple[tuple[str, str], ...]
# Resolutions of named spaces kept for reuse (see `SpaceResolver.resolve`); past this many,
# they are all dropped and made again as calls come.
RESOLUTIONS_KEPT = 16_384


@dataclass(frozen=True)
class Resolution:
    """The space a call acts on and the metadata to answer with: `announced` names the space
    (`x-engram-memory-space`), `deprecation` tells a legacy client what to set."""

    space: MemorySpaceId
    handle: SpaceHandle
    deprecated: bool
    announced: Metadata
    deprecation: Metadata = ()


def field_value(request: Message | None) -> str:
    """The request's `memory_space_id`, or "" when empty or the schema has no such field."""
    if request is None or SPACE_FIELD not in request.DESCRIPTOR.fields_by_name:
        return ""
    value: str = getattr(request, SPACE_FIELD)
    return value


class SpaceResolver:
    """Resolves a call's space per the server contract (DESIGN.md)."""

    def __init__(self, registry: MemorySpaceRegistry, default_space: MemorySpaceId) -> None:
        self.registry = registry
        self.default_space = default_space
        self._resolved: dict[str, Resolution] = {}

    # --- the steps, each overridable -------------------------------------------------------

    def requested_by_field(self, request: Message | None) -> str:
        return field_value(request)

    def requested_by_header(self, metadata: Sequence[tuple[str, Any]]) -> str:
        """The header's value; INVALID_ARGUMENT when it is sent twice with different values
        or is not UTF-8 text."""
        values: list[str] = []
        for key, value in metadata:
            if key == SPACE_HEADER:
                try:
                    text = value.decode() if isinstance(value, bytes) else str(value)
                except UnicodeDecodeError:
                    raise invalid_argument(
                        f"the {SPACE_HEADER} header is not UTF-8 text", SPACE_HEADER
                    ) from None
                if values and text != values[0]:
                    raise invalid_argument(
                        f"the {SPACE_HEADER} header is sent more than once with different "
                        f"values ('{values[0]}', '{text}'); send it once",
                        SPACE_HEADER,
                    )
                values.append(text)
        return values[0] if values else ""

    def parse(self, raw: str, source: str) -> MemorySpaceId:
        try:
            return MemorySpaceId(raw)
        except InvalidSpaceId as exc:
            raise invalid_space_id(exc, source) from exc

    def lookup(self, space: MemorySpaceId) -> SpaceHandle:
        """The registered space; NOT_FOUND otherwise (never created as a side effect)."""
        try:
            return self.registry.get(space)
        except SpaceNotFound as exc:
            raise space_not_found(space, str(exc)) from exc

    def deprecation_message(self, rpc: str) -> str:
        return (
            f"{rpc} without {SPACE_FIELD} is deprecated: it was routed to the default space "
            f"'{self.default_space}'; set the {SPACE_FIELD} field (or the {SPACE_HEADER} "
            "header) on every request"
        )

    def on_deprecated(self, rpc: str, peer: str) -> Metadata:
        """Log the deprecated call and return the metadata that tells the client."""
        message = self.deprecation_message(rpc)
        log.warning(
            message,
            extra={
                "event": "deprecated_request",
                "rpc": rpc,
                "peer": peer,
                "default_space": str(self.default_space),
            },
        )
        return ((DEPRECATION_HEADER, message),)

    def announce(self, space: MemorySpaceId) -> Metadata:
        return ((SPACE_HEADER, str(space)),)

    # --- the whole resolution --------------------------------------------------------------

    def resolve(
        self,
        rpc: str,
        request: Message | None,
        metadata: Sequence[tuple[str, Any]],
        peer: str,
        *,
        field: str | None = None,
    ) -> Resolution:
        """Resolve the space of `request` (or of `field` when the caller already read it).

        A named space's resolution is kept and reused while the registry still hands out
        the same handle for it (a space deleted, or deleted and created again, is resolved
        afresh): the steps it went through are the same for the same id.
        """
        by_field = self.requested_by_field(request) if field is None else field
        by_header = self.requested_by_header(metadata)
        if by_field and by_header and by_field != by_header:
            raise invalid_argument(
                f"the {SPACE_FIELD} field and the {SPACE_HEADER} header name different spaces;"
                " set only one of them, or both to the same id",
                SPACE_FIELD,
            )
        named = by_field or by_header
        if not named:
            deprecation = self.on_deprecated(rpc, peer)
            space = self.default_space
            return Resolution(space, self.lookup(space), True, self.announce(space), deprecation)
        kept = self._resolved.get(named)
        if kept is not None and self._current(kept):
            return kept
        space = self.parse(named, SPACE_FIELD if by_field else f"{SPACE_HEADER} header")
        resolution = Resolution(space, self.lookup(space), False, self.announce(space))
        if len(self._resolved) >= RESOLUTIONS_KEPT:
            self._resolved.clear()
        self._resolved[named] = resolution
        return resolution

    def _current(self, resolution: Resolution) -> bool:
        """Whether the registry still hands out `resolution`'s handle for its space."""
        try:
            return self.registry.get(resolution.space) is resolution.handle
        except SpaceNotFound:
            return False


class LegacyResolver(SpaceResolver):
    """The pre-migration server: one space, no field, no header, no deprecation."""

    def requested_by_field(self, request: Message | None) -> str:
        return ""

    def requested_by_header(self, metadata: Sequence[tuple[str, Any]]) -> str:
        return ""

    def on_deprecated(self, rpc: str, peer: str) -> Metadata:
        return ()

    def announce(self, space: MemorySpaceId) -> Metadata:
        return ()

    def resolve(
        self,
        rpc: str,
        request: Message | None,
        metadata: Sequence[tuple[str, Any]],
        peer: str,
        *,
        field: str | None = None,
    ) -> Resolution:
        return super().resolve(rpc, request, metadata, peer, field="")


__all__ = ["DEPRECATION_HEADER", "SPACE_HEADER", "LegacyResolver", "RpcFailure", "SpaceResolver"]
