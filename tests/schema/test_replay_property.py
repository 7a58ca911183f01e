"""Property: for random baseline/current pairs from a small grammar of changes, the wire replay
reports a bad outcome (CHANGED, LOST, PARSE_ERROR, MISROUTED) exactly in the directions that
protobuf's update rules call unsafe.

The rules, per direction (backward: baseline bytes read by the current schema):
- varint types (int32, int64, uint32, uint64, bool, an open enum) read one another: a change of
  sign carries the same bits and bool reads by truth, so the only break is a 64-bit writer read
  by a 32-bit reader (truncation: widening is backward-safe and forward-truncating); sint32 and
  sint64 the same between themselves; fixed32/sfixed32 and fixed64/sfixed64 carry the same bits;
  anything else across encodings or wire types is unsafe;
- string -> bytes is safe, bytes -> string is not (non-UTF-8 bytes);
- singular -> repeated is safe, repeated -> singular keeps one element (unsafe);
- a rename keeping the number, moving the field into a new oneof, adding a field: safe;
- a renumbering: unsafe both ways.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.schema.test_replay_kinds import BAD, Fld, Spec, observe

VARINT_BITS = {"int32": 32, "uint32": 32, "E": 32, "int64": 64, "uint64": 64, "bool": 0}
ZIGZAG_BITS = {"sint32": 32, "sint64": 64}
SAME_BITS = [{"fixed32", "sfixed32"}, {"fixed64", "sfixed64"}]
SCALARS = [*VARINT_BITS, *ZIGZAG_BITS, "fixed32", "sfixed32", "double", "string", "bytes"]


def type_change_safe(writer: str, reader: str) -> bool:
    if writer == reader or {writer, reader} in SAME_BITS:
        return True
    for bits in (VARINT_BITS, ZIGZAG_BITS):
        if writer in bits and reader in bits:
            return not (bits[writer] == 64 and bits[reader] == 32)
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
    max_examples=100,
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
