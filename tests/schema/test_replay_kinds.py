"""What the wire replay observes, per change kind and direction (old_to_new = backward: bytes
of the baseline read with the current schema; new_to_old = forward).

Schemas are built as descriptor protos (no compiler), so each case is one small message `M`
in a baseline and a current version; the expectations follow protobuf's published update rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pb2 import FieldDescriptorProto as FDP

from toolkit.contract import SPACE_FIELD
from toolkit.schema.diff import Names
from toolkit.schema.pool import Schema
from toolkit.schema.replay import NOT_REPLAYABLE, replay

BAD = {"CHANGED", "LOST", "PARSE_ERROR", "MISROUTED"}
PACKAGE = "kinds.v1"

TYPES = {
    "int32": FDP.TYPE_INT32,
    "int64": FDP.TYPE_INT64,
    "uint32": FDP.TYPE_UINT32,
    "uint64": FDP.TYPE_UINT64,
    "sint32": FDP.TYPE_SINT32,
    "sint64": FDP.TYPE_SINT64,
    "fixed32": FDP.TYPE_FIXED32,
    "fixed64": FDP.TYPE_FIXED64,
    "sfixed32": FDP.TYPE_SFIXED32,
    "sfixed64": FDP.TYPE_SFIXED64,
    "bool": FDP.TYPE_BOOL,
    "float": FDP.TYPE_FLOAT,
    "double": FDP.TYPE_DOUBLE,
    "string": FDP.TYPE_STRING,
    "bytes": FDP.TYPE_BYTES,
    "E": FDP.TYPE_ENUM,
    "Sub": FDP.TYPE_MESSAGE,
    "Other": FDP.TYPE_MESSAGE,
    "G": FDP.TYPE_GROUP,
    "Map": FDP.TYPE_MESSAGE,  # map<string, int32>: a nested `<Name>Entry` (as protoc names it)
    "Entry": FDP.TYPE_MESSAGE,  # message Entry { string key = 1; int32 value = 2; }
}


def entry_name(field_name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in field_name.split("_")) + "Entry"


@dataclass(frozen=True)
class Fld:
    name: str
    number: int
    type: str
    repeated: bool = False
    oneof: str | None = None
    optional: bool = False  # proto3 `optional` / proto2 `optional`
    required: bool = False
    default: str | None = None
    packed: bool | None = None
    json_name: str | None = None


@dataclass(frozen=True)
class Spec:
    fields: Sequence[Fld]
    syntax: str = "proto3"
    enum_values: Sequence[tuple[str, int]] = (("E_UNSPECIFIED", 0), ("E_ONE", 1), ("E_TWO", 2))
    sub_fields: Sequence[Fld] = (Fld("s", 1, "string"), Fld("n", 2, "int32"))
    other_name: str = "Other"
    extensions: Sequence[Fld] = field(default_factory=tuple)
    reserved_numbers: Sequence[int] = ()  # reserved in M
    reserved_names: Sequence[str] = ()


def _field(spec: Fld, oneofs: list[str], syntax: str) -> FDP:
    proto = FDP(name=spec.name, number=spec.number, type=TYPES[spec.type])
    if spec.json_name:
        proto.json_name = spec.json_name
    if spec.required:
        proto.label = FDP.LABEL_REQUIRED
    elif spec.repeated or spec.type == "Map":
        proto.label = FDP.LABEL_REPEATED
    else:
        proto.label = FDP.LABEL_OPTIONAL
    if spec.type in ("E", "Sub", "Other", "G", "Entry"):
        proto.type_name = f".{PACKAGE}.{'M.G' if spec.type == 'G' else spec.type}"
    if spec.type == "Map":
        proto.type_name = f".{PACKAGE}.M.{entry_name(spec.name)}"
    if spec.default is not None:
        proto.default_value = spec.default
    if spec.packed is not None:
        proto.options.packed = spec.packed
    if spec.oneof is not None:
        if spec.oneof not in oneofs:
            oneofs.append(spec.oneof)
        proto.oneof_index = oneofs.index(spec.oneof)
    elif spec.optional and syntax == "proto3":
        proto.proto3_optional = True
        oneofs.append(f"_{spec.name}")
        proto.oneof_index = len(oneofs) - 1
    return proto


def build(spec: Spec) -> descriptor_pb2.FileDescriptorSet:
    """One file: enum E, messages Sub and Other (same structure), and M with `spec.fields`."""
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="kinds/v1/kinds.proto", package=PACKAGE, syntax=spec.syntax
    )
    enum = file_proto.enum_type.add(name="E")
    for name, number in spec.enum_values:
        enum.value.add(name=name, number=number)
    for message_name in ("Sub", spec.other_name):
        sub = file_proto.message_type.add(name=message_name)
        sub.field.extend(_field(f, [], spec.syntax) for f in spec.sub_fields)
    message = file_proto.message_type.add(name="M")
    oneofs: list[str] = []
    message.field.extend(_field(f, oneofs, spec.syntax) for f in spec.fields)
    message.oneof_decl.extend(descriptor_pb2.OneofDescriptorProto(name=n) for n in oneofs)
    for number in spec.reserved_numbers:
        message.reserved_range.add(start=number, end=number + 1)
    message.reserved_name.extend(spec.reserved_names)
    entry = descriptor_pb2.DescriptorProto(name="Entry")
    entry.field.add(name="key", number=1, type=FDP.TYPE_STRING, label=FDP.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=FDP.TYPE_INT32, label=FDP.LABEL_OPTIONAL)
    if any(f.type == "Entry" for f in spec.fields):
        file_proto.message_type.append(entry)
    for map_field in (f for f in spec.fields if f.type == "Map"):
        nested = message.nested_type.add(name=entry_name(map_field.name))
        nested.options.map_entry = True
        nested.field.extend(entry.field)
    if any(f.type == "G" for f in spec.fields):
        group = message.nested_type.add(name="G")
        group.field.add(name="a", number=1, type=FDP.TYPE_INT32, label=FDP.LABEL_OPTIONAL)
    if spec.extensions:
        message.extension_range.add(start=100, end=200)
        for ext in spec.extensions:
            proto = _field(ext, [], spec.syntax)
            proto.extendee = f".{PACKAGE}.M"
            file_proto.extension.append(proto)
    return descriptor_pb2.FileDescriptorSet(file=[file_proto])


def observe(old: Spec, new: Spec, message: str = "M") -> dict[str, str]:
    """The replay outcome of `message` per direction."""
    run = replay(Schema(build(old)), Schema(build(new)), Names(()), "base")
    return {r.direction: r.outcome for r in run.results if r.message == f"{PACKAGE}.{message}"}


def fields_of(old: Spec, new: Spec, direction: str) -> dict[str, str]:
    run = replay(Schema(build(old)), Schema(build(new)), Names(()), "base")
    (record,) = [r for r in run.results if r.message == f"{PACKAGE}.M" and r.direction == direction]
    return {f.field: f.outcome for f in record.fields}


def one(type_: str, **kwargs: object) -> Spec:
    return Spec([Fld("f", 1, type_, **kwargs), Fld("other", 2, "string")])  # type: ignore[arg-type]


def bad(outcome: str) -> bool:
    return outcome in BAD


# (case id, baseline, current, backward bad?, forward bad?)
CASES: list[tuple[str, Spec, Spec, bool, bool]] = [
    ("unchanged", one("int32"), one("int32"), False, False),
    (
        "field_added",
        one("int32"),
        Spec([Fld("f", 1, "int32"), Fld("other", 2, "string"), Fld("x", 3, "string")]),
        False,
        False,
    ),
    (
        "renumbered",
        one("string"),
        Spec([Fld("f", 3, "string"), Fld("other", 2, "string")]),
        True,
        True,
    ),
    (
        "renamed_same_number",
        one("string"),
        Spec([Fld("g", 1, "string"), Fld("other", 2, "string")]),
        False,
        False,
    ),
    ("int32_to_int64", one("int32"), one("int64"), False, True),
    ("uint32_to_uint64", one("uint32"), one("uint64"), False, True),
    ("uint32_to_int64", one("uint32"), one("int64"), False, True),
    # A change of sign only carries the same bits: -1 read as 4294967295 is the same value.
    ("int32_to_uint32", one("int32"), one("uint32"), False, False),
    ("uint32_to_int32", one("uint32"), one("int32"), False, False),
    ("int64_to_uint64", one("int64"), one("uint64"), False, False),
    ("sfixed64_to_fixed64", one("sfixed64"), one("fixed64"), False, False),
    # Only a 64-bit writer read by a 32-bit reader breaks (truncation).
    ("int64_to_int32", one("int64"), one("int32"), True, False),
    ("uint64_to_int32", one("uint64"), one("int32"), True, False),
    ("int32_to_uint64", one("int32"), one("uint64"), False, True),
    ("int64_to_uint32", one("int64"), one("uint32"), True, False),
    ("sint64_to_sint32", one("sint64"), one("sint32"), True, False),
    # bool reads any integer by truth, and is read as 0 or 1.
    ("bool_to_int32", one("bool"), one("int32"), False, False),
    ("int64_to_bool", one("int64"), one("bool"), False, False),
    ("uint32_to_enum", one("uint32"), one("E"), False, False),
    ("int64_to_enum", one("int64"), one("E"), True, False),
    ("int32_to_enum", one("int32"), one("E"), False, False),
    ("enum_to_int64", one("E"), one("int64"), False, True),
    ("sint32_to_sint64", one("sint32"), one("sint64"), False, True),
    ("sint32_to_int32", one("sint32"), one("int32"), True, True),
    ("fixed32_to_sfixed32", one("fixed32"), one("sfixed32"), False, False),
    ("fixed32_to_fixed64", one("fixed32"), one("fixed64"), True, True),
    ("float_to_double", one("float"), one("double"), True, True),
    ("int32_to_string", one("int32"), one("string"), True, True),
    ("string_to_bytes", one("string"), one("bytes"), False, True),
    ("string_to_repeated", one("string"), one("string", repeated=True), False, True),
    ("bytes_to_repeated", one("bytes"), one("bytes", repeated=True), False, True),
    ("message_to_repeated", one("Sub"), one("Sub", repeated=True), False, True),
    ("int32_to_repeated_packed", one("int32"), one("int32", repeated=True), False, True),
    ("string_to_message", one("string"), one("Sub"), True, True),
    ("message_renamed_same_structure", one("Sub"), one("Other"), False, False),
    ("group_to_message", one("G"), one("Sub"), True, True),
    (
        "moved_into_new_oneof",
        one("string"),
        Spec([Fld("f", 1, "string", oneof="choice"), Fld("other", 2, "string")]),
        False,
        False,
    ),
    (
        "two_fields_moved_into_one_oneof",
        one("string"),
        Spec([Fld("f", 1, "string", oneof="choice"), Fld("other", 2, "string", oneof="choice")]),
        True,
        False,
    ),
    (
        "oneof_renamed",
        Spec([Fld("f", 1, "string", oneof="a"), Fld("other", 2, "int32", oneof="a")]),
        Spec([Fld("f", 1, "string", oneof="b"), Fld("other", 2, "int32", oneof="b")]),
        False,
        False,
    ),
    (
        "moved_out_of_oneof",
        Spec([Fld("f", 1, "string", oneof="a"), Fld("other", 2, "int32")]),
        Spec([Fld("f", 1, "string"), Fld("other", 2, "int32")]),
        False,
        False,
    ),
    (
        "enum_value_renamed",
        one("E"),
        Spec(one("E").fields, enum_values=(("E_UNSPECIFIED", 0), ("E_FIRST", 1), ("E_TWO", 2))),
        False,
        False,
    ),
    (
        "enum_value_removed",
        one("E"),
        Spec(one("E").fields, enum_values=(("E_UNSPECIFIED", 0), ("E_ONE", 1))),
        True,
        False,
    ),
    (
        "nested_message_field_retyped",
        one("Sub"),
        Spec(one("Sub").fields, sub_fields=(Fld("s", 1, "string"), Fld("n", 2, "string"))),
        True,
        True,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "backward_bad", "forward_bad"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_replay_observes_each_change_kind_per_direction(
    old: Spec, new: Spec, backward_bad: bool, forward_bad: bool
) -> None:
    outcomes = observe(old, new)
    assert bad(outcomes["old_to_new"]) == backward_bad, outcomes
    assert bad(outcomes["new_to_old"]) == forward_bad, outcomes


def test_truncation_is_changed_and_fitting_values_are_not() -> None:
    outcomes = observe(one("int32"), one("int64"))
    assert outcomes == {"old_to_new": "IDENTICAL", "new_to_old": "CHANGED"}


def test_bytes_that_are_not_utf8_fail_a_proto3_string_reader() -> None:
    assert observe(one("string"), one("bytes"))["new_to_old"] == "PARSE_ERROR"


def test_a_list_read_as_one_value_keeps_the_last_element_only() -> None:
    old, new = one("string"), one("string", repeated=True)
    assert observe(old, new) == {"old_to_new": "IDENTICAL", "new_to_old": "LOST"}


def test_string_takeover_by_the_space_field_is_misrouted_else_changed() -> None:
    old = Spec([Fld("memory_id", 1, "string")])
    for taker, outcome in ((SPACE_FIELD, "MISROUTED"), ("owner", "CHANGED")):
        new = Spec([Fld(taker, 1, "string"), Fld("memory_id", 2, "string")])
        assert observe(old, new)["old_to_new"] == outcome, taker


def test_identical_messages_are_not_sampled() -> None:
    run = replay(Schema(build(one("int32"))), Schema(build(one("int64"))), Names(()), "b")
    by_name = {(r.message, r.direction): r for r in run.results}
    sub = by_name[(f"{PACKAGE}.Sub", "old_to_new")]
    assert (sub.outcome, sub.samples) == ("IDENTICAL", 0)
    assert by_name[(f"{PACKAGE}.M", "old_to_new")].samples > 0


def test_every_message_is_replayed_without_any_service() -> None:
    run = replay(Schema(build(one("int32"))), Schema(build(one("int32"))), Names(()), "b")
    assert {r.message for r in run.results} == {f"{PACKAGE}.{n}" for n in ("M", "Sub", "Other")}
    assert {r.direction for r in run.results} == {"old_to_new", "new_to_old"}


def test_empty_string_inside_a_oneof_is_the_same_value_outside_it() -> None:
    # The edge sample writes "": the oneof sends it (presence), the plain field reads "" back.
    old = Spec([Fld("f", 1, "string", oneof="a"), Fld("g", 2, "int32")])
    new = Spec([Fld("f", 1, "string"), Fld("g", 2, "int32")])
    for direction in ("old_to_new", "new_to_old"):
        assert fields_of(old, new, direction)["f"] == "IDENTICAL", direction


def test_a_field_leaving_a_shared_oneof_is_lost_to_old_readers() -> None:
    old = Spec([Fld("f", 1, "string", oneof="a"), Fld("g", 2, "int32", oneof="a")])
    new = Spec([Fld("f", 1, "string"), Fld("g", 2, "int32", oneof="a")])
    assert fields_of(old, new, "old_to_new")["f"] == "IDENTICAL"
    assert fields_of(old, new, "new_to_old")["f"] in BAD


def test_proto2_required_added_fails_the_parse_backward() -> None:
    old = Spec([Fld("other", 2, "string", optional=True)], syntax="proto2")
    new = Spec(
        [Fld("other", 2, "string", optional=True), Fld("r", 3, "int32", required=True)],
        syntax="proto2",
    )
    outcomes = observe(old, new)
    assert outcomes["old_to_new"] == "PARSE_ERROR"
    assert not bad(outcomes["new_to_old"])


def test_proto2_optional_made_required_fails_for_writers_that_omit_it() -> None:
    old = Spec([Fld("f", 1, "string", optional=True)], syntax="proto2")
    new = Spec([Fld("f", 1, "string", required=True)], syntax="proto2")
    outcomes = observe(old, new)
    assert outcomes["old_to_new"] == "PARSE_ERROR"
    assert not bad(outcomes["new_to_old"])


def test_packed_and_unpacked_encodings_read_the_same() -> None:
    old = Spec([Fld("p", 1, "int32", repeated=True, packed=False)], syntax="proto2")
    new = Spec([Fld("p", 1, "int32", repeated=True, packed=True)], syntax="proto2")
    assert observe(old, new) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}


def test_explicit_default_is_what_an_unset_implicit_field_becomes() -> None:
    # proto3 writes no 0; a proto2 reader with [default = 7] then reads 7: the value changed.
    old = Spec([Fld("f", 1, "int32"), Fld("s", 2, "string")])
    new = Spec(
        [Fld("f", 1, "int32", optional=True, default="7"), Fld("s", 2, "string", optional=True)],
        syntax="proto2",
    )
    assert observe(old, new)["old_to_new"] == "CHANGED"
    same_default = Spec(
        [Fld("f", 1, "int32", optional=True), Fld("s", 2, "string", optional=True)],
        syntax="proto2",
    )
    assert not bad(observe(old, same_default)["old_to_new"])


def test_proto2_closed_enum_drops_an_unknown_number() -> None:
    old = Spec([Fld("f", 1, "E", optional=True)], syntax="proto2")
    new = Spec(
        [Fld("f", 1, "E", optional=True)],
        syntax="proto2",
        enum_values=(("E_UNSPECIFIED", 0), ("E_ONE", 1)),
    )
    assert observe(old, new)["old_to_new"] in BAD


def test_extension_retyped_across_wire_types_is_lost() -> None:
    base = [Fld("other", 2, "string", optional=True)]
    old = Spec(base, syntax="proto2", extensions=(Fld("ext", 100, "int32", optional=True),))
    new = Spec(base, syntax="proto2", extensions=(Fld("ext", 100, "string", optional=True),))
    same = Spec(base, syntax="proto2", extensions=(Fld("ext", 100, "int32", optional=True),))
    assert observe(old, new)["old_to_new"] in BAD
    assert observe(old, same) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}


def test_group_whose_body_gains_a_field_is_still_read() -> None:
    assert observe(one("G"), one("G")) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}


def test_a_refused_message_is_not_replayable_and_the_rest_is_replayed() -> None:
    files = build(one("int32"))
    bad_message = files.file[0].message_type.add(name="Broken")
    for _ in range(2):  # two fields with one number: the runtime refuses the message
        bad_message.field.add(name=f"x{_}", number=1, type=FDP.TYPE_INT32)
    schema = Schema(files)
    assert f"{PACKAGE}.Broken" in schema.refused
    run = replay(schema, Schema(files), Names(()), "b")
    outcomes = {(r.message, r.direction): r.outcome for r in run.results}
    assert outcomes[(f"{PACKAGE}.Broken", "old_to_new")] == NOT_REPLAYABLE
    assert outcomes[(f"{PACKAGE}.M", "old_to_new")] == "IDENTICAL"
    (record,) = [r for r in run.results if r.message.endswith("Broken")][:1]
    assert "refuses" in record.fields[0].detail


def test_colliding_json_names_are_replayed_on_the_wire() -> None:
    # protoc accepts these (proto2 default JSON names collide); the runtime refuses them as is.
    spec = Spec(
        [Fld("foo_bar", 1, "string", optional=True), Fld("fooBar", 2, "string", optional=True)],
        syntax="proto2",
    )
    schema = Schema(build(spec))
    assert not schema.refused
    assert observe(spec, spec) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}


def test_package_rename_matches_messages_by_their_new_name() -> None:
    old_files = build(one("int32"))
    new_files = build(one("int64"))
    new_files.file[0].package = "kinds.v2"
    for message in new_files.file[0].message_type:
        for f in message.field:
            if f.type_name:
                f.type_name = f.type_name.replace(".kinds.v1.", ".kinds.v2.")
    names = Names((("kinds.v1", "kinds.v2"),))
    run = replay(Schema(old_files), Schema(new_files), names, "b")
    outcomes = {(r.message, r.direction): r.outcome for r in run.results}
    assert outcomes[("kinds.v2.M", "new_to_old")] == "CHANGED"
    assert outcomes[("kinds.v2.Sub", "old_to_new")] == "IDENTICAL"
