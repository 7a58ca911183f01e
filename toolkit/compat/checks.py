"""The compat suite's checks: a stable ID, a one-line purpose and a category each.

Suite tests declare the check they belong to with `@check("ID")`; the report is keyed by ID.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest

from toolkit.contract import (
    DEPRECATION_HEADER,
    ENGRAM_SERVICE_NAME,
    SPACE_FIELD,
    SPACE_HEADER,
    SPACE_SERVICE_NAME,
)
from toolkit.documents.compat import Category

MARKER = "compat_check"


@dataclass(frozen=True)
class CheckSpec:
    id: str
    purpose: str
    category: Category
    # The RPCs every case of the check calls (a case parametrized by an RPC needs that one too).
    needs: tuple[str, ...] = ()


# What the suite itself calls in every check: its spaces, a write, a read, the default space.
BASE_NEEDS = (
    f"{SPACE_SERVICE_NAME}/CreateSpace",
    f"{ENGRAM_SERVICE_NAME}/Remember",
    f"{ENGRAM_SERVICE_NAME}/Recall",
    f"{ENGRAM_SERVICE_NAME}/Introspect",
)
STREAM_NEEDS = (f"{ENGRAM_SERVICE_NAME}/Stream",)
FLOW_NEEDS = (f"{ENGRAM_SERVICE_NAME}/MemoryFlow",)
FORGET_NEEDS = (f"{ENGRAM_SERVICE_NAME}/Forget",)
STREAMING_REMEMBER_NEEDS = (f"{ENGRAM_SERVICE_NAME}/StreamingRemember",)


CHECKS: dict[str, CheckSpec] = {
    spec.id: spec
    for spec in (
        CheckSpec(
            "ROUTE_DEFAULT_LEGACY",
            "legacy requests on every RPC succeed and land in the default space only",
            "routing",
            STREAM_NEEDS,
        ),
        CheckSpec(
            "DEPRECATION_WARNING",
            f"legacy calls get {DEPRECATION_HEADER} and a server WARNING; explicit calls neither",
            "deprecation",
        ),
        CheckSpec(
            "ROUTE_EXPLICIT",
            f"{SPACE_FIELD} routes to the named space and the response header echoes it",
            "routing",
        ),
        CheckSpec(
            "ROUTE_HEADER",
            f"the {SPACE_HEADER} header alone routes to the named space and is echoed",
            "routing",
        ),
        CheckSpec(
            "ERR_CONFLICT",
            f"field and header, or two {SPACE_HEADER} headers, naming different spaces give "
            "INVALID_ARGUMENT",
            "errors",
        ),
        CheckSpec(
            "ERR_BAD_VALUE",
            "a non-finite confidence or an out-of-range timestamp gives INVALID_ARGUMENT naming "
            "the field, stores nothing and fails no other call",
            "errors",
            (f"{ENGRAM_SERVICE_NAME}/Experience",),
        ),
        CheckSpec(
            "ERR_UNKNOWN_SPACE",
            "an unknown well-formed space gives NOT_FOUND with ErrorInfo and is not created",
            "errors",
        ),
        CheckSpec(
            "ERR_MALFORMED_SPACE",
            "a malformed space id gives INVALID_ARGUMENT with a BadRequest detail",
            "errors",
        ),
        CheckSpec(
            "ISOLATION_DATA",
            "what is written in one space is invisible from another through every read RPC",
            "isolation",
            (*FLOW_NEEDS, *FORGET_NEEDS, *STREAMING_REMEMBER_NEEDS),
        ),
        CheckSpec(
            "STREAM_ISOLATION",
            "each subscriber receives exactly its own space's events, in order",
            "streams",
            (*STREAM_NEEDS, *FORGET_NEEDS),
        ),
        CheckSpec(
            "STREAM_BACKPRESSURE",
            "a stalled subscriber of large events is ended with RESOURCE_EXHAUSTED, holds at "
            "most its buffer's byte bound and slows no writer or other space",
            "streams",
            (*STREAM_NEEDS, *STREAMING_REMEMBER_NEEDS),
        ),
        CheckSpec(
            "FLOW_BOUND",
            "a bidirectional flow naming a second space mid-call ends with INVALID_ARGUMENT",
            "streams",
            FLOW_NEEDS,
        ),
        CheckSpec(
            "SPACE_LIFECYCLE",
            "deleting a space ends its subscribers with NOT_FOUND and refuses its writers; "
            "other spaces' subscribers go on",
            "streams",
            (*STREAM_NEEDS, f"{SPACE_SERVICE_NAME}/DeleteSpace"),
        ),
        CheckSpec(
            "MATRIX",
            "legacy and new clients against legacy and current servers behave as expected",
            "matrix",
        ),
    )
}

F = TypeVar("F", bound=Callable[..., object])


def needs_of(check_id: str, rpc: str | None) -> tuple[str, ...]:
    """`Service/Rpc` names a case of `check_id` calls (`rpc`: the one it is parametrized by)."""
    extra = (f"{ENGRAM_SERVICE_NAME}/{rpc}",) if rpc else ()
    return (*BASE_NEEDS, *CHECKS[check_id].needs, *extra)


def check(check_id: str) -> Callable[[F], F]:
    """Mark a suite test as a case of check `check_id`."""
    if check_id not in CHECKS:
        raise KeyError(f"unknown compat check {check_id!r}")
    marker: Callable[[F], F] = getattr(pytest.mark, MARKER)(check_id)
    return marker
