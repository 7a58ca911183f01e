"""The clients of the toolkit: the client migration API and the space-management client.

    from toolkit.client import space_channel

`toolkit.client.channel` is the migration API (every call names its memory space);
`toolkit.client.spaces` calls MemorySpaceService (behind `engram-compat space`).
Import graph: `schema` <- `server` <- `client` <- `compat`; this package imports nothing from
`toolkit.compat`.
"""

from __future__ import annotations

from toolkit.client.channel import (
    MissingSpaceError,
    SpaceInterceptor,
    configured_space,
    space_channel,
    with_space_field,
)

__all__ = [
    "MissingSpaceError",
    "SpaceInterceptor",
    "configured_space",
    "space_channel",
    "with_space_field",
]
