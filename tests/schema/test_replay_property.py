"""Property: for random baseline/current pairs from a small grammar of changes, the wire replay
reports a bad outcome (CHANGED, LOST, PARSE_ERROR, MISROUTED) exactly in the directions that
protobuf's update rules call unsafe.

The rules, per direction (backward: baseline bytes read by the current schema):
- varint types (int32, int64, uint32, uint64, bool, an open enum) read one another: safe when
  every value of the writer's type fits the reader's (64-bit widening is backward-safe and
  forward-truncating); sint32/sint64 the same among themselves; anything else across encodings
  or wire types is unsafe;
- string -> bytes is safe, bytes -> string is not (non-UTF-8 bytes);
- singular -> repeated is safe, repeated -> singular keeps one element (unsafe);
- a rename keeping the number, moving the field into a new oneof, adding a field: safe;
- a renumbering: unsafe both ways.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.schema.test_replay_kinds import BAD, Fld, Spec, observe

I32, I64 = 2**31, 2**63
RANGES = {
    "int32": (-I32, I32 - 1),
    "int64": (-I64, I64 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
    "bool": (0, 1),
    "E": (0, 2),  # the values the enum declares (open: it keeps any int32 it reads)
}
READ_RANGES = {**RANGES, "E": (-I32, I32 - 1)}
ZIGZAG = {"sint32": (-I32, I32 - 1), "sint64": (-I64, I64 - 1)}
SCALARS = [*RANGES, *ZIGZAG, "fixed32", "sfixed32", "double", "string", "bytes"]


def _fits(writer: tuple[int, int], reader: tuple[int, int]) -> bool:
    return reader[0] <= writer[0] and writer[1] <= reader[1]


def type_change_safe(writer: str, reader: str) -> bool:
    if writer == reader:
        return True
    if writer in RANGES and reader in RANGES:
        return _fits(RANGES[writer], READ_RANGES[reader])
    if writer in ZIGZAG and reader in ZIGZAG:
        return _fits(ZIGZAG[writer], ZIGZAG[reader])
    return (writer, reader) == ("string", "bytes")


CHANGES = ["none", "retype", "to_repeated", "rename", "into_oneof", "add_field", "renumber"]


def current_of(change: str, type_: str, other: str) -> Spec:
    tail = [Fld("other", 2, "string")]
    if change == "retype":
        return Spec([Fld("f", 1, other), *tail])
    if change == "to_repeated":
        return Spec([Fld("f", 1, type_, repeated=True), *tail])
    if change == "rename":
        return Spec([Fld("g", 1, type_), *tail])
    if change == "into_oneof":
        return Spec([Fld("f", 1, type_, oneof="choice"), *tail])
    if change == "add_field":
        return Spec([Fld("f", 1, type_), *tail, Fld("added", 3, other)])
    if change == "renumber":
        return Spec([Fld("f", 4, type_), *tail])
    return Spec([Fld("f", 1, type_), *tail])


def expected_unsafe(change: str, type_: str, other: str) -> tuple[bool, bool]:
    """(backward unsafe, forward unsafe) by the rules above."""
    if change == "retype":
        return not type_change_safe(type_, other), not type_change_safe(other, type_)
    if change == "to_repeated":
        return False, True
    if change == "renumber":
        return True, True
    return False, False


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    type_=st.sampled_from(SCALARS),
    other=st.sampled_from(SCALARS),
    change=st.sampled_from(CHANGES),
)
def test_replay_agrees_with_the_update_rules_per_direction(
    type_: str, other: str, change: str
) -> None:
    baseline = Spec([Fld("f", 1, type_), Fld("other", 2, "string")])
    outcomes = observe(baseline, current_of(change, type_, other))
    backward, forward = expected_unsafe(change, type_, other)
    assert (outcomes["old_to_new"] in BAD) == backward, (change, type_, other, outcomes)
    assert (outcomes["new_to_old"] in BAD) == forward, (change, type_, other, outcomes)
