"""Deprecated home of the client migration API: import `toolkit.client` instead.

`toolkit.compat.client` re-exports `toolkit.client.channel` for one release (warning with a
DeprecationWarning on import) and will then be removed.
"""

from __future__ import annotations

import warnings

from toolkit.client.channel import (
    MissingSpaceError,
    SpaceInterceptor,
    configured_space,
    space_channel,
    with_space_field,
)

warnings.warn(
    "toolkit.compat.client is deprecated and will be removed in the next release; "
    "import space_channel from toolkit.client",
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    "MissingSpaceError",
    "SpaceInterceptor",
    "configured_space",
    "space_channel",
    "with_space_field",
]
