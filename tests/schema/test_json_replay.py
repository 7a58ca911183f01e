"""What the JSON replay observes: samples written with one schema's MessageToJson, parsed by the
other's tolerant json_format.Parse (ignore_unknown_fields), compared field by field; and the
wire replay of the kinds added with it (closed enums, maps as repeated entries)."""

from __future__ import annotations

from tests.schema.test_replay_kinds import BAD, PACKAGE, Fld, Spec, build, observe, one
from toolkit.schema.diff import Names
from toolkit.schema.json_replay import TOLERANT, json_replay
from toolkit.schema.pool import Schema


def observe_json(old: Spec, new: Spec) -> dict[str, tuple[str, dict[str, str]]]:
    """Per direction: the outcome of `M` and the detail of each field that is not IDENTICAL."""
    run = json_replay(Schema(build(old)), Schema(build(new)), Names(()), "base")
    return {
        r.direction: (r.outcome, {f.field: f.detail for f in r.fields if f.outcome != "IDENTICAL"})
        for r in run.results
        if r.message == f"{PACKAGE}.M"
    }


def outcomes(old: Spec, new: Spec) -> dict[str, str]:
    return {d: o for d, (o, _) in observe_json(old, new).items()}


def test_the_reader_is_tolerant() -> None:
    assert TOLERANT  # the documented decision: ignore_unknown_fields=True


def test_unchanged_and_identical_messages_are_identical_without_sampling() -> None:
    run = json_replay(Schema(build(one("int32"))), Schema(build(one("int32"))), Names(()), "b")
    assert {(r.outcome, r.samples) for r in run.results} == {("IDENTICAL", 0)}


def test_an_added_field_is_ignored_by_a_tolerant_old_reader() -> None:
    new = Spec([*one("int32").fields, Fld("added", 3, "string")])
    assert outcomes(one("int32"), new) == {
        "old_to_new": "NEW_FIELD_DEFAULT",
        "new_to_old": "IGNORED_BY_OLD",
    }


def test_a_json_name_change_loses_the_value_both_ways() -> None:
    # (a multi-word name: parsers also accept the proto name, which here is not the JSON name)
    old = Spec([Fld("my_field", 1, "int32"), Fld("other", 2, "string")])
    for new in (
        Spec([Fld("my_g", 1, "int32"), Fld("other", 2, "string")]),  # renamed
        Spec([Fld("my_field", 1, "int32", json_name="renamedInJson"), Fld("other", 2, "string")]),
    ):
        seen = observe_json(old, new)
        assert {d: o for d, (o, _) in seen.items()} == {"old_to_new": "LOST", "new_to_old": "LOST"}
        assert "unknown to the reader" in next(iter(seen["old_to_new"][1].values()))


def test_a_rename_that_keeps_the_json_name_is_identical() -> None:
    new = Spec([Fld("g", 1, "int32", json_name="f"), Fld("other", 2, "string")])
    assert outcomes(one("int32"), new) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}


def test_a_renumbering_is_identical_in_json() -> None:
    new = Spec([Fld("f", 7, "int32"), Fld("other", 2, "string")])
    assert outcomes(one("int32"), new) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}
    assert observe(one("int32"), new)["old_to_new"] in BAD  # the wire, for contrast


def test_an_added_enum_value_is_ignored_by_an_old_json_reader_as_a_newer_field_is() -> None:
    values = (("E_UNSPECIFIED", 0), ("E_ONE", 1), ("E_TWO", 2), ("E_THREE", 3))
    seen = observe_json(one("E"), Spec(one("E").fields, enum_values=values))
    assert seen["old_to_new"][0] == "IDENTICAL"
    assert seen["new_to_old"] == (
        "IGNORED_BY_OLD",
        {"f": "enum value E_THREE has no name in the reader"},
    )


def test_a_removed_enum_value_is_lost_to_a_new_json_reader() -> None:
    """The mirror image is a loss: the baseline's value is one the current reader dropped."""
    values = (("E_UNSPECIFIED", 0), ("E_ONE", 1), ("E_TWO", 2), ("E_THREE", 3))
    seen = observe_json(Spec(one("E").fields, enum_values=values), one("E"))
    assert seen["old_to_new"] == ("CHANGED", {"f": "enum value E_THREE has no name in the reader"})


def test_integers_are_judged_by_their_json_range() -> None:
    assert outcomes(one("int32"), one("int64")) == {
        "old_to_new": "IDENTICAL",
        "new_to_old": "PARSE_ERROR",  # a 64-bit value out of an int32 parser's range
    }
    # Across wire encodings JSON still carries the number: int32 and sint32 read each other.
    assert outcomes(one("int32"), one("sint32")) == {
        "old_to_new": "IDENTICAL",
        "new_to_old": "IDENTICAL",
    }
    assert outcomes(one("int32"), one("double"))["old_to_new"] == "IDENTICAL"
    assert outcomes(one("int64"), one("double"))["old_to_new"] in BAD  # 2**63 - 1 is no double
    assert outcomes(one("bool"), one("int32"))["old_to_new"] == "PARSE_ERROR"


def test_string_and_bytes_differ_in_json() -> None:
    assert set(outcomes(one("string"), one("bytes")).values()) <= BAD


def test_two_fields_moved_into_one_oneof_fail_the_json_parse() -> None:
    new = Spec([Fld("f", 1, "string", oneof="c"), Fld("other", 2, "string", oneof="c")])
    assert outcomes(one("string"), new) == {"old_to_new": "PARSE_ERROR", "new_to_old": "IDENTICAL"}


def test_closed_enums_reject_numbers_they_do_not_define() -> None:
    old = Spec([Fld("f", 1, "int32", optional=True)], syntax="proto2")
    new = Spec([Fld("f", 1, "E", optional=True)], syntax="proto2")
    assert outcomes(old, new) == {"old_to_new": "PARSE_ERROR", "new_to_old": "PARSE_ERROR"}
    wire = observe(old, new)
    assert wire["old_to_new"] in BAD  # the unknown number goes to the unknown fields
    assert wire["new_to_old"] not in BAD
    # The open (proto3) enum keeps every number (the control).
    assert observe(one("int32"), one("E")) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}


def test_a_map_and_its_repeated_entries_share_the_wire_but_not_json() -> None:
    as_map = Spec([Fld("f", 1, "Map", repeated=True)])
    as_entries = Spec([Fld("f", 1, "Entry", repeated=True)])
    # protobuf's map rule: the same bytes both ways (a map reader keeps a key's last entry).
    assert observe(as_map, as_entries) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}
    assert observe(as_entries, as_map) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}
    assert set(outcomes(as_map, as_entries).values()) == {"PARSE_ERROR"}


def test_an_unchanged_map_is_identical_in_both_encodings() -> None:
    old = Spec([Fld("f", 1, "Map", repeated=True)])
    assert observe(old, old) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}
    assert outcomes(old, old) == {"old_to_new": "IDENTICAL", "new_to_old": "IDENTICAL"}


def test_a_required_field_the_writer_omits_fails_the_json_reader() -> None:
    old = Spec([Fld("other", 2, "string", optional=True)], syntax="proto2")
    new = Spec(
        [Fld("other", 2, "string", optional=True), Fld("r", 3, "int32", required=True)],
        syntax="proto2",
    )
    assert outcomes(old, new)["old_to_new"] == "PARSE_ERROR"
