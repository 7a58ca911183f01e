"""Property (issue 11, "Tests"): for random schema pairs from a small grammar of changes, what the
rule table predicts per direction equals what the wire replay observes.

Predicted: a direction is bad when the diff records any change whose kind the table rates
breaking on the binary wire (or in JSON) in that direction. Observed: the wire replay (or the
JSON replay, `toolkit.schema.json_replay`: MessageToJson written, a tolerant Parse read)
reports a bad outcome (CHANGED, LOST, PARSE_ERROR, MISROUTED) on some field of some message in
that direction. Both encodings are checked on the same pairs.

The grammar: proto3 or proto2 (closed enums); a message `M` of one to three fields of scalar,
enum, message, map (`map<string, int32>`) or map-shaped entry message type (singular
or repeated, two of them possibly sharing a oneof), changed field by field (retyped, made
repeated or singular, renamed, renumbered, moved into a new or a shared oneof or out of one,
removed with or without reserving number and name), plus a field added, a oneof renamed, and
the enum `E` gaining, renaming, renumbering or losing a value.

Kinds the replay cannot observe, and why (their predictions and the outcomes on the fields
they concern are left out):
- removals rated by reservation (`UNOBSERVABLE`): a removed field or enum value is rated by
  whether its number and name stay reserved, i.e. by what a *later* schema may reuse; today's
  bytes only show that the old value is gone (LOST) or unnamed, whatever the reservation;
- RPC-level kinds (services and RPCs): no message bytes change; the grammar has none;
- a change to an enum's values when no field is of the enum in both schemas: no bytes carry
  the change (an enum only one side uses is judged by that field's own change).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.schema.test_replay_kinds import BAD, PACKAGE, Fld, Spec, build
from toolkit.schema.diff import diff_schemas, schema_names
from toolkit.schema.elements import build_index
from toolkit.schema.json_replay import json_replay
from toolkit.schema.kinds import KINDS, RPC_LEVEL_CATEGORIES
from toolkit.schema.pool import Schema
from toolkit.schema.replay import replay

UNOBSERVABLE = frozenset(
    {
        "field_removed",
        "field_removed_number_reserved",
        "field_removed_reserved",
        "field_removed_required",
        "enum_value_removed",
        "enum_value_removed_number_reserved",
        "enum_value_removed_reserved",
        "enum_value_removed_closed",
        "reserved_number_removed",
        "reserved_name_removed",
    }
)
SCALARS = [
    "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64",
    "sfixed32", "sfixed64", "bool", "float", "double", "string", "bytes", "E", "Sub",
    "Map", "Entry",
]  # fmt: skip
FIELD_CHANGES = [
    "none", "retype", "repeated", "rename", "renumber", "new_oneof", "shared_oneof",
    "out_of_oneof", "remove", "remove_reserved", "remove_number_reserved",
]  # fmt: skip
ENUM_CHANGES = ["none", "value_added", "value_renamed", "value_renumbered", "value_removed"]
ENUM_VALUES = (("E_UNSPECIFIED", 0), ("E_ONE", 1), ("E_TWO", 2))


@st.composite
def schema_pairs(draw: st.DrawFn) -> tuple[Spec, Spec]:
    # proto2 too: closed enums, explicit presence everywhere.
    syntax = draw(st.sampled_from(["proto3", "proto3", "proto2"]))
    count = draw(st.integers(1, 3))
    types = [draw(st.sampled_from(SCALARS)) for _ in range(count)]
    repeated = [t == "Map" or (draw(st.booleans()) and draw(st.booleans())) for t in types]
    singular = [i for i in range(count) if not repeated[i]]
    in_oneof = singular[:2] if len(singular) >= 2 and draw(st.booleans()) else []
    old = [
        Fld(f"f{i}", i + 1, types[i], repeated=repeated[i], oneof="o" if i in in_oneof else None)
        for i in range(count)
    ]
    new: list[Fld] = []
    reserved_numbers: list[int] = []
    reserved_names: list[str] = []
    for i, fld in enumerate(old):
        change = draw(st.sampled_from(FIELD_CHANGES))
        if change == "retype":
            retyped = draw(st.sampled_from(SCALARS))
            if retyped == "Map" and not (fld.repeated and fld.oneof is None):
                retyped = fld.type  # a map is repeated and in no oneof
            new.append(replace(fld, type=retyped))
        elif change == "repeated" and fld.oneof is None and fld.type != "Map":
            new.append(replace(fld, repeated=not fld.repeated))
        elif change == "rename":
            new.append(replace(fld, name=f"renamed{i}"))
        elif change == "renumber":
            new.append(replace(fld, number=fld.number + 10))
        elif change == "new_oneof" and not fld.repeated and fld.oneof is None:
            new.append(replace(fld, oneof=f"single{i}"))
        elif change == "shared_oneof" and not fld.repeated and fld.oneof is None:
            new.append(replace(fld, oneof="shared"))
        elif change == "out_of_oneof" and fld.oneof is not None:
            new.append(replace(fld, oneof=None))
        elif change.startswith("remove"):
            if change != "remove":
                reserved_numbers.append(fld.number)
            if change == "remove_reserved":
                reserved_names.append(fld.name)
        else:
            new.append(fld)
    if draw(st.booleans()):
        new.append(Fld("added", 30, draw(st.sampled_from(SCALARS))))
    if in_oneof and draw(st.booleans()):
        new = [replace(f, oneof="renamed_o") if f.oneof == "o" else f for f in new]
    enum_change = draw(st.sampled_from(ENUM_CHANGES))
    values = {
        "none": ENUM_VALUES,
        "value_added": (*ENUM_VALUES, ("E_THREE", 3)),
        "value_renamed": (("E_UNSPECIFIED", 0), ("E_FIRST", 1), ("E_TWO", 2)),
        "value_renumbered": (("E_UNSPECIFIED", 0), ("E_ONE", 1), ("E_TWO", 5)),
        "value_removed": ENUM_VALUES[:2],
    }[enum_change]
    return Spec(old, syntax=syntax), Spec(new, syntax=syntax, enum_values=values,
                                          reserved_numbers=reserved_numbers,
                                          reserved_names=reserved_names)  # fmt: skip


def predicted_and_observed(
    old: Spec, new: Spec, encoding: str = "wire"
) -> dict[str, tuple[bool, bool, list[str]]]:
    """Per direction: (the table predicts bad, the replay observes bad, the kinds), for the
    binary wire (the wire replay) or JSON (the JSON replay)."""
    old_files, new_files = build(old), build(new)
    old_index, new_index = build_index(old_files), build_index(new_files)
    changes = diff_schemas(old_index, new_index, "base", old_files, new_files)
    names = schema_names(old_index, new_index)
    replayed = replay if encoding == "wire" else json_replay
    run = replayed(Schema(old_files), Schema(new_files), names, "base")
    excluded: set[str] = set()  # fields whose outcomes a removal explains
    value_removed = False  # an enum value's removal explains "has no name" outcomes
    for change in changes:
        if change.kind in UNOBSERVABLE:
            value_removed |= change.kind.startswith("enum_value")
            excluded.add(change.element.rpartition(".")[2])
    if value_removed and old.syntax == "proto2":
        # A closed enum's reader drops the removed value to the unknown fields (LOST): the
        # fields of the enum show the removal, not their own changes.
        excluded.update(f.name for f in old.fields if f.type == "E")
    # An enum's values reach bytes through a field that is of the enum in both schemas.
    # (by number on the wire, by JSON name in JSON)
    ident = (lambda f: f.number) if encoding == "wire" else (lambda f: f.name)
    old_enum_fields = {ident(f) for f in old.fields if f.type == "E"}
    enum_used = any(f.type == "E" and ident(f) in old_enum_fields for f in new.fields)
    counted = [
        c
        for c in changes
        if c.kind not in UNOBSERVABLE
        and KINDS[c.kind].category not in RPC_LEVEL_CATEGORIES
        and (enum_used or KINDS[c.kind].category != "enum_value")
        and not (
            c.element.startswith(f"{PACKAGE}.M.") and c.element[len(PACKAGE) + 3 :] in excluded
        )
    ]
    out = {}
    for direction, rating in (("old_to_new", "backward"), ("new_to_old", "forward")):
        predicted = any(
            getattr(getattr(KINDS[c.kind], rating), encoding) == "breaking" for c in counted
        )
        observed = any(
            f.outcome in BAD
            and f.field not in excluded
            and not (value_removed and f.detail.endswith("has no name in the reader"))
            for r in run.results
            if r.direction == direction and r.message.startswith(PACKAGE)
            for f in r.fields
        )
        out[direction] = (predicted, observed, sorted(c.kind for c in counted))
    return out


def _pair(old: list[Fld], new: list[Fld], syntax: str = "proto3", **current: Any) -> Any:
    return (Spec(old, syntax=syntax), Spec(new, syntax=syntax, **current))


# The disagreements the JSON replay found in the table, kept as examples of every run.
JSON_FINDINGS = [
    _pair([Fld("f0", 1, "E")], [Fld("f0", 1, "E")], enum_values=(*ENUM_VALUES, ("E_THREE", 3))),
    _pair([Fld("f0", 1, "int32")], [Fld("f0", 1, "double")]),
    _pair([Fld("f0", 1, "sint32")], [Fld("f0", 1, "int32")]),
    _pair([Fld("f0", 1, "uint32")], [Fld("f0", 1, "sfixed64")]),
    _pair([Fld("f0", 1, "Map", repeated=True)], [Fld("f0", 1, "Entry", repeated=True)]),
    _pair([Fld("f0", 1, "Entry", repeated=True)], [Fld("f0", 1, "Map", repeated=True)]),
    _pair([Fld("f0", 1, "int32")], [Fld("f0", 1, "E")], syntax="proto2"),
    _pair([Fld("f0", 1, "E")], [Fld("f0", 1, "uint64")], syntax="proto2"),
    _pair(
        [Fld("f0", 1, "bytes", repeated=True)], [Fld("f0", 1, "string", repeated=True)], "proto2"
    ),
]


def _examples(test: Callable[..., None]) -> Callable[..., None]:
    for pair in JSON_FINDINGS:
        test = example(pair=pair)(test)
    return test


# AGREEMENT_EXAMPLES=2000 runs a longer, randomised search (the default is fixed and quick).
DEEP = int(os.environ.get("AGREEMENT_EXAMPLES", "0"))


@settings(
    max_examples=DEEP or 120,
    deadline=None,
    derandomize=not DEEP,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(pair=schema_pairs())
@_examples
def test_the_rule_table_and_the_wire_replay_agree_per_direction(pair: tuple[Spec, Spec]) -> None:
    old, new = pair
    for direction, (predicted, observed, kinds) in predicted_and_observed(old, new).items():
        assert predicted == observed, (direction, kinds, _render(old), _render(new))


@settings(
    max_examples=DEEP or 120,
    deadline=None,
    derandomize=not DEEP,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(pair=schema_pairs())
@_examples
def test_the_rule_table_and_the_json_replay_agree_per_direction(pair: tuple[Spec, Spec]) -> None:
    """The table's JSON ratings against what a tolerant JSON reader of the other schema
    parses (see `toolkit.schema.json_replay`)."""
    old, new = pair
    for direction, (predicted, observed, kinds) in predicted_and_observed(old, new, "json").items():
        assert predicted == observed, (direction, kinds, _render(old), _render(new))


def _render(spec: Spec) -> str:
    fields = ", ".join(
        f"{'repeated ' if f.repeated else ''}{f.type} {f.name} = {f.number}"
        + (f" [oneof {f.oneof}]" if f.oneof else "")
        for f in spec.fields
    )
    return f"{{{fields}}} E={list(spec.enum_values)} reserved={list(spec.reserved_numbers)}"
