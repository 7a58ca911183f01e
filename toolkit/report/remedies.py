"""What to do about each problem the report shows: one table of runtime-check remedies, in the
contract's words, and the `[[accept]]` snippet for a schema change that may be accepted.

A schema change's remedy comes with the change (`Change.remedy`, from the schema check's table of
change kinds); a failed or partial runtime check's remedy is the server's duty the check holds
it to, looked up here by check id.
"""

from __future__ import annotations

import json

from toolkit.contract import (
    DEFAULT_SPACE,
    DEPRECATION_HEADER,
    ERROR_DOMAIN,
    NOT_FOUND_REASON,
    SPACE_FIELD,
    SPACE_HEADER,
    SPACE_RPC_NAMES,
    SPACE_SERVICE_NAME,
)

# The default accept file, relative to the project root (`engram-compat check --accept`).
ACCEPT_FILE = "fixtures/accepted-changes.toml"

_NO_SPACE = (
    f"a request that names no space (neither `{SPACE_FIELD}` nor the `{SPACE_HEADER}` header)"
)

# What the server must do differently when a check is not passed, per check id.
CHECK_REMEDIES: dict[str, str] = {
    "ROUTE_DEFAULT_LEGACY": (
        f"route {_NO_SPACE} to the default space `{DEFAULT_SPACE}` on every RPC and answer it "
        "as before the migration; never to another space, never with an error"
    ),
    "DEPRECATION_WARNING": (
        f"answer {_NO_SPACE} with the `{DEPRECATION_HEADER}` response header and log one WARNING "
        "record for it; send neither for a request that names its space"
    ),
    "ROUTE_EXPLICIT": (
        f"act on the space named in `{SPACE_FIELD}` and echo it in the `{SPACE_HEADER}` "
        "response header"
    ),
    "ROUTE_HEADER": (
        f"when only the `{SPACE_HEADER}` request header names a space, act on that space and "
        "echo it in the response header"
    ),
    "ERR_CONFLICT": (
        f"refuse a request whose `{SPACE_FIELD}` and `{SPACE_HEADER}` name different spaces with "
        "INVALID_ARGUMENT, acting on neither"
    ),
    "ERR_UNKNOWN_SPACE": (
        "refuse a well-formed space that does not exist with NOT_FOUND and an ErrorInfo "
        f"(reason `{NOT_FOUND_REASON}`, domain `{ERROR_DOMAIN}`); never create a space on first "
        f"use: spaces are created through `{SPACE_SERVICE_NAME}.{SPACE_RPC_NAMES[0]}`"
    ),
    "ERR_MALFORMED_SPACE": (
        "refuse a malformed space id (not 3 to 64 characters of `[a-z0-9_-]`) with "
        f"INVALID_ARGUMENT and a BadRequest detail naming `{SPACE_FIELD}`"
    ),
    "ISOLATION_DATA": (
        "keep one store per space: every read RPC returns only what was written to the space "
        "the request names"
    ),
    "STREAM_ISOLATION": (
        "deliver to each stream subscriber exactly its own space's events, in the order they "
        "were written"
    ),
    "STREAM_BACKPRESSURE": (
        "bound each subscriber's queue: end a stalled subscriber with RESOURCE_EXHAUSTED, "
        "without slowing the subscribers of other spaces"
    ),
    "ERR_BAD_VALUE": (
        "refuse a hostile field value (NaN or infinite confidence, a timestamp out of range) "
        "with INVALID_ARGUMENT and a BadRequest naming the field, failing only that caller"
    ),
    "SPACE_LIFECYCLE": (
        "end a deleted space's subscribers with NOT_FOUND and refuse its writers with "
        "NOT_FOUND; never bring a deleted space back by writing to it"
    ),
    "FLOW_BOUND": (
        "bind a bidirectional flow to the space of its first message and end it with "
        "INVALID_ARGUMENT when a later message names another space"
    ),
    "MATRIX": (
        "make every client and server pair behave as its matrix cell expects (the failing cell "
        "names the pair and what was observed)"
    ),
}


def check_remedy(check_id: str) -> str | None:
    """What the server must do differently for this check to pass (None: an unknown check)."""
    return CHECK_REMEDIES.get(check_id)


def accept_snippet(change_id: str) -> str:
    """A ready `[[accept]]` entry for the accept file; the reason is for a person to write."""
    return (
        f"# {ACCEPT_FILE}\n"
        "[[accept]]\n"
        f"id = {json.dumps(change_id)}\n"
        'reason = "why no deployed client or stored data is affected"\n'
        "# expires = YYYY-MM-DD   (optional: after it, the change breaks the check again)\n"
    )
