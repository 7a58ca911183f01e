"""The one table of schema change kinds, modelled on buf's rule table.

Each kind names the aspect it changes, a category, a one-line purpose, its rating per
direction and encoding and for generated code (source), and a remedy sentence whose
`{name}`, `{element}`, `{before}` and `{after}` are filled in when a change is recorded.

Directions: *backward* = bytes (or JSON) written with the baseline, read with the current
schema; *forward* = written with the current schema, read with the baseline. A direction is
rated compatible when every value the writer can produce is read back as the same value
(protobuf's update rules, https://protobuf.dev/programming-guides/proto3/#updating): a
64-bit value read as 32 bits is truncated, so widening is backward-safe and forward-breaking.
JSON ratings are those of a tolerant ProtoJSON reader (`ignore_unknown_fields`: unknown keys
and unknown enum names are dropped) reading what the other schema's writer emits, and are
checked against the JSON replay (`toolkit.schema.json_replay`) as the wire ratings are against
the wire replay.
"""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.documents.schema import Change, Compat, Encodings

C: Compat = "compatible"
B: Compat = "breaking"

SAFE = Encodings(C, C)
BROKEN = Encodings(B, B)
WIRE_ONLY = Encodings(B, C)  # the binary wire breaks, JSON does not
JSON_ONLY = Encodings(C, B)  # JSON breaks, the binary wire does not


@dataclass(frozen=True)
class Kind:
    id: str
    aspect: str
    category: str
    purpose: str
    backward: Encodings
    forward: Encodings
    source: Compat
    remedy: str

    @property
    def breaking(self) -> bool:
        return B in (self.backward.wire, self.backward.json, self.forward.wire, self.forward.json)


def _k(
    id: str,
    aspect: str,
    category: str,
    purpose: str,
    backward: Encodings,
    forward: Encodings,
    source: Compat,
    remedy: str,
) -> Kind:
    return Kind(id, aspect, category, purpose, backward, forward, source, remedy)


RESTORE = "restore `{name}` as it was ({before})"
REUSE = "or reserve {number} and `{name}` and add the field under a new number and name"

_TABLE = (
    # --- files and packages ---------------------------------------------------------------
    _k("package_changed", "package", "package", "a file's package changed: every full name, "
       "RPC path and type URL changes", BROKEN, BROKEN, B,
       "keep package `{before}`; publish `{after}` beside it as a new API version"),
    # --- messages --------------------------------------------------------------------------
    _k("message_added", "added", "message", "a message was added", SAFE, SAFE, C, "none needed"),
    _k("message_removed", "removed", "message", "a message was removed (no bytes change; "
       "references to it appear as their own changes)", SAFE, SAFE, B,
       "keep message `{name}` until no code uses it"),
    _k("message_renamed", "name", "message", "a message was renamed with identical structure "
       "and every reference follows it (no wire or JSON effect; Any type URLs aside)",
       SAFE, SAFE, B, "keep the name `{before}` if generated code or Any type URLs use it"),
    # --- fields ----------------------------------------------------------------------------
    _k("field_added", "added", "field", "a field was added at an unused number", SAFE, SAFE, C,
       "none needed"),
    _k("space_field_added", "added", "routing", "the contract's memory-space field was added: "
       "a baseline server ignores it and acts on its only space, so a new client's space is "
       "silently dropped", SAFE, BROKEN, C,
       "upgrade every server before any client sets `{name}`"),
    _k("field_added_required", "added", "presence", "a `required` field was added: bytes of "
       "writers that do not know it fail to parse", BROKEN, SAFE, C,
       "add `{name}` as optional; readers must accept messages without it"),
    _k("field_number_reused", "added", "number", "a field was added at a number the baseline "
       "used or reserved: old bytes are read as the new field", BROKEN, BROKEN, C,
       "add `{name}` under an unused number; keep {before} reserved"),
    _k("field_json_name_conflict", "added", "json_name", "a field was added whose JSON name the "
       "baseline used or reserved", JSON_ONLY, JSON_ONLY, C,
       "give `{name}` a JSON name the baseline never used"),
    _k("field_removed", "removed", "field", "a field was removed without reserving its number "
       "and name: the number can be reused", BROKEN, BROKEN, B,
       "restore `{before}`; or reserve its number and name"),
    _k("field_removed_number_reserved", "removed", "field", "a field was removed with its "
       "number reserved but not its name: JSON may reuse the name", JSON_ONLY, JSON_ONLY, B,
       "also reserve the name of `{before}`"),
    _k("field_removed_reserved", "removed", "field", "a field was removed with number and "
       "name reserved: readers skip old data", SAFE, SAFE, B,
       "none needed for data; generated code that used it must change"),
    _k("field_removed_required", "removed", "presence", "a `required` field was removed: "
       "baseline readers reject bytes without it", SAFE, BROKEN, B,
       "restore `{before}` (as optional once every reader is past the baseline)"),
    _k("field_number_changed", "number", "number", "a field was renumbered: bytes land on "
       "another number", WIRE_ONLY, WIRE_ONLY, C,
       "restore `{name} = {before}`; " + REUSE),
    _k("field_renamed", "name", "name", "a field was renamed keeping number, type and JSON name",
       SAFE, SAFE, B, "restore the name `{before}` if generated code uses it"),
    _k("field_renamed_json_changed", "name", "name", "a field was renamed and its JSON name "
       "changed with it", JSON_ONLY, JSON_ONLY, B,
       "restore the name `{before}`, or set json_name to the old JSON name"),
    _k("field_json_name_changed", "json_name", "json_name", "a field's JSON name changed "
       "to one the other schema's parser does not accept (parsers accept a field's JSON name "
       "and its proto name)", JSON_ONLY, JSON_ONLY, C, "restore the JSON name `{before}`"),
    _k("field_json_name_changed_old_accepted", "json_name", "json_name", "a field's JSON name "
       "changed; the old one is the field's proto name, which the new parser accepts too: old "
       "JSON is read, new JSON is not read by old parsers", SAFE, JSON_ONLY, C,
       "restore the JSON name `{before}` for readers of the baseline"),
    _k("field_json_name_changed_new_accepted", "json_name", "json_name", "a field's JSON name "
       "changed to its proto name, which old parsers accept too: new JSON is read by them, old "
       "JSON is not read by the new parser", JSON_ONLY, SAFE, C,
       "restore the JSON name `{before}` for writers of the baseline"),
    _k("field_json_name_changed_both_accepted", "json_name", "json_name", "a field's JSON name "
       "changed, and each schema's JSON name is the other's proto name: both parsers read both",
       SAFE, SAFE, C, "none needed"),
    _k("field_type_changed", "type", "type", "a field's type changed across wire types or "
       "message types: bytes are misread", BROKEN, BROKEN, B,
       "restore `{name}` as {before}; " + REUSE),
    _k("field_type_changed_json_safe", "type", "type", "a number type changed across wire "
       "encodings (varint, zigzag, fixed) keeping its range, e.g. int32 and sint32 or "
       "sfixed32: bytes are misread, but JSON carries the number itself and each side's parser "
       "accepts the other's values", WIRE_ONLY, WIRE_ONLY, B,
       "restore `{name}` as {before} if binary readers exist; " + REUSE),
    _k("field_type_changed_json_widened", "type", "type", "a number type changed across wire "
       "encodings to one whose range holds the old one (e.g. int32 to sint64, or a 32-bit "
       "integer to double, which holds every 32-bit integer exactly): bytes are misread; in "
       "JSON old values keep their value, new ones may not parse in old readers",
       WIRE_ONLY, BROKEN, B, "restore `{name}` as {before}; " + REUSE),
    _k("field_type_changed_json_narrowed", "type", "type", "a number type changed across wire "
       "encodings to one whose range lies inside the old one (e.g. sint64 to int32, or double "
       "to a 32-bit integer): bytes are misread; in JSON new values keep their value in old "
       "readers, old ones may not parse in new readers", BROKEN, WIRE_ONLY, B,
       "restore `{name}` as {before}; " + REUSE),
    _k("field_type_widened", "type", "type", "an integer type was widened (int32 or uint32 to "
       "int64, uint32 to uint64, sint32 to sint64): old values fit; a 64-bit value is truncated "
       "by a 32-bit reader, and a JSON reader rejects a value beyond its range (protobuf's JSON "
       "parsers accept an integer as a number or a string, so int64's string form is no "
       "break by itself)", SAFE, BROKEN, B,
       "keep {before}, or make every reader use {after} before any writer"),
    _k("field_type_narrowed", "type", "type", "an integer type was narrowed (int64 to int32 or "
       "uint32, uint64 to uint32, sint64 to sint32): old 64-bit values are truncated by the new "
       "32-bit reader and rejected by its JSON parser; new values fit old readers",
       BROKEN, SAFE, B, "restore {before}; " + REUSE),
    _k("field_type_sign_changed", "type", "type", "only the signedness changed (int32/uint32, "
       "int64/uint64, fixed32/sfixed32, fixed64/sfixed64): the wire carries the same bits, read "
       "back with the other sign (-1 is 4294967295); JSON carries the value, so a negative "
       "value or one above the signed maximum is rejected by the other type's parser",
       JSON_ONLY, JSON_ONLY, B, "restore {before} if JSON readers exist; " + REUSE),
    _k("field_type_widened_sign_changed", "type", "type", "int32 became uint64: every old value "
       "reads back with the same bits; new 64-bit values are truncated by old readers; JSON "
       "rejects negative old values and large new ones", Encodings(C, B), BROKEN, B,
       "keep {before}, or make every reader use {after} before any writer"),
    _k("field_type_narrowed_sign_changed", "type", "type", "uint64 became int32: old 64-bit "
       "values are truncated by the new reader; new values read back with the same bits by "
       "old readers; JSON rejects values outside either range", BROKEN, Encodings(C, B), B,
       "restore {before}; " + REUSE),
    _k("field_type_bool_widened", "type", "type", "bool became an integer: the same varint, "
       "read by truth either way (protobuf's rule: bool and the integers are wire-compatible); "
       "JSON true is not a number and a number is not a JSON bool", JSON_ONLY, JSON_ONLY, B,
       "keep bool if JSON readers exist; " + REUSE),
    _k("field_type_bool_narrowed", "type", "type", "an integer became bool: the same varint, "
       "read by truth either way (0 is false, any other value true); JSON numbers are not "
       "JSON bools", JSON_ONLY, JSON_ONLY, B,
       "restore {before} if JSON readers exist; " + REUSE),
    _k("field_type_int_to_enum", "type", "type", "an int32 became an open enum: the same varint "
       "values; JSON readers of the enum accept numbers, but old JSON readers reject the enum's "
       "names", SAFE, JSON_ONLY, B, "keep {before} if JSON readers of the baseline exist"),
    _k("field_type_enum_to_int", "type", "type", "an open enum became int32: the same varint "
       "values; old JSON writers send names the new int32 rejects", JSON_ONLY, SAFE, B,
       "keep the enum {before} if JSON writers of the baseline exist"),
    _k("field_type_int_to_closed_enum", "type", "type", "an integer (or bool) became a closed "
       "enum (proto2, or editions `enum_type = CLOSED`): a reader of the closed enum puts a "
       "number it does not define into the unknown fields and reads the field as unset (a "
       "repeated field loses that element), and its JSON parser rejects such a number; old "
       "readers take every enum number, but not the enum's JSON names", BROKEN, JSON_ONLY, B,
       "keep {before}, or open the enum; " + REUSE),
    _k("field_type_closed_enum_to_int", "type", "type", "a closed enum (proto2, or editions "
       "`enum_type = CLOSED`) became an integer (or bool): old enum values read back as their "
       "numbers, but JSON writers of the baseline send names; old readers of the closed enum "
       "drop every number the enum does not define (to unknown fields, the field unset)",
       JSON_ONLY, BROKEN, B,
       "keep the enum {before}, or make every reader use {after} before any writer"),
    _k("field_type_enum_sign_changed", "type", "type", "uint32 and an open enum (int32-ranged) "
       "swapped: the wire carries the same bits; JSON rejects names as numbers, and uint32 "
       "values above the int32 maximum as enum numbers", JSON_ONLY, JSON_ONLY, B,
       "restore {before} if JSON readers exist"),
    _k("field_type_wide_int_to_enum", "type", "type", "an int64 or uint64 became an open enum "
       "(32-bit): old 64-bit values are truncated; JSON rejects names and out-of-range "
       "numbers", BROKEN, JSON_ONLY, B, "restore {before}; " + REUSE),
    _k("field_type_enum_to_wide_int", "type", "type", "an open enum became int64 or uint64: old "
       "values fit on the wire; new 64-bit values are truncated by the old enum reader; JSON "
       "names are not numbers", JSON_ONLY, BROKEN, B,
       "keep the enum {before}, or make every reader use {after} before any writer"),
    _k("field_type_enum_changed", "type", "type", "a field's enum type changed: numbers travel "
       "unchanged, names differ in JSON", JSON_ONLY, JSON_ONLY, B,
       "restore the enum {before}"),
    _k("field_type_string_to_bytes", "type", "type", "string became bytes: strings are valid "
       "bytes; bytes that are not UTF-8 fail in old string readers; JSON base64",
       JSON_ONLY, BROKEN, B, "keep string, or move every reader to bytes first"),
    _k("field_type_bytes_to_string", "type", "type", "bytes became string: old bytes that are "
       "not UTF-8 fail to parse; JSON base64", BROKEN, JSON_ONLY, B,
       "restore bytes; " + REUSE),
    _k("field_type_string_bytes_unchecked", "type", "type", "string and bytes swapped where "
       "the string side does not check UTF-8 (proto2, or editions `utf8_validation = NONE`): "
       "the same bytes travel both ways; JSON writes bytes as base64", JSON_ONLY, JSON_ONLY, B,
       "restore {before} if JSON readers exist"),
    _k("field_type_message_equivalent", "type", "type", "a message field's type became another "
       "message of the same structure (fields by number, type and label) and JSON names: the "
       "same bytes and the same JSON", SAFE, SAFE, B,
       "none needed for data; restore {before} if generated code uses it"),
    _k("field_type_message_same_wire", "type", "type", "a message field's type became another "
       "message of the same structure (fields by number, type and label) whose fields have "
       "other JSON names: the same bytes; JSON readers do not know the other names",
       JSON_ONLY, JSON_ONLY, B, "restore the message type {before} if JSON readers exist"),
    _k("field_type_message_to_bytes", "type", "type", "a message became bytes holding its "
       "encoding: backward-safe on the wire, old readers fail on arbitrary bytes",
       JSON_ONLY, BROKEN, B, "restore the message type {before}"),
    _k("field_type_bytes_to_message", "type", "type", "bytes became a message: old bytes that "
       "are not that message fail to parse", BROKEN, JSON_ONLY, B,
       "restore bytes; " + REUSE),
    _k("field_encoding_changed", "encoding", "encoding", "a message field switched between "
       "length-prefixed and delimited (group) encoding: wire types differ", WIRE_ONLY,
       WIRE_ONLY, B, "restore the {before} encoding of `{name}`"),
    _k("field_made_repeated", "cardinality", "cardinality", "a singular field became repeated: "
       "old values read as a list of one; old readers keep one element of a list (packed "
       "scalars are dropped); JSON arrays differ", JSON_ONLY, BROKEN, B,
       "keep `{name}` singular; add a new repeated field"),
    _k("field_made_singular", "cardinality", "cardinality", "a repeated field became singular: "
       "lists lose all but one element (packed scalars are dropped); JSON arrays differ",
       BROKEN, JSON_ONLY, B, "keep `{name}` repeated; " + REUSE),
    _k("field_map_to_repeated", "type", "cardinality", "a map became a repeated entry message "
       "(`repeated FEntry` with `key = 1`, `value = 2`): the same bytes on the wire, which "
       "protobuf's map rule makes compatible both ways (a map reader keeps the last entry of a "
       "repeated key, as maps always do); JSON differs (object against array)",
       JSON_ONLY, JSON_ONLY, B,
       "keep `{name}` a map for JSON clients; or add the repeated field under a new number"),
    _k("field_repeated_to_map", "type", "cardinality", "a repeated entry message (`key = 1`, "
       "`value = 2`) became a map: the same bytes on the wire, compatible both ways by "
       "protobuf's map rule (a map reader keeps the last entry of a repeated key); JSON differs "
       "(array against object)", JSON_ONLY, JSON_ONLY, B,
       "keep `{name}` repeated for JSON clients; or add the map under a new number"),
    _k("field_presence_changed", "presence", "presence", "a field switched between implicit "
       "and explicit (optional) presence: values travel unchanged", SAFE, SAFE, B,
       "none needed for data; generated has-methods change"),
    _k("field_required_added", "presence", "presence", "a field became `required`: bytes "
       "without it fail to parse", BROKEN, SAFE, C, "keep `{name}` optional"),
    _k("field_required_removed", "presence", "presence", "a field is no longer `required`: "
       "baseline readers reject bytes that omit it", SAFE, BROKEN, C,
       "keep `{name}` required until every reader is past the baseline"),
    _k("field_default_changed", "default", "default", "a field's explicit default changed: set "
       "values travel unchanged, each side reads an unset field as its own default",
       SAFE, SAFE, B, "restore the default {before} if readers rely on it"),
    _k("field_packed_changed", "packed", "encoding", "packed and expanded repeated encodings "
       "switched: readers accept both", SAFE, SAFE, C, "none needed"),
    # --- oneofs ----------------------------------------------------------------------------
    _k("field_moved_into_new_oneof", "oneof", "oneof", "a field's oneof changed without "
       "putting two fields one side can set together into one oneof of the other (one field "
       "moved into a new oneof, or out of a oneof whose siblings are gone)", SAFE, SAFE, B,
       "none needed for data"),
    _k("field_moved_into_oneof", "oneof", "oneof", "a field moved into a oneof with other "
       "existing members: old writers may set several, the reader keeps only the last",
       BROKEN, SAFE, B, "move `{name}` back out of oneof `{after}`"),
    _k("field_moved_out_of_oneof", "oneof", "oneof", "a field left a oneof: new writers may set "
       "it beside a former sibling, old readers keep only the last", SAFE, BROKEN, B,
       "put `{name}` back into oneof `{before}`"),
    _k("field_oneof_changed", "oneof", "oneof", "a field moved from one oneof to another: "
       "it shares a oneof with a field old writers set beside it, and leaves a sibling new "
       "writers now set beside it",
       BROKEN, BROKEN, B, "put `{name}` back into oneof `{before}`"),
    _k("oneof_renamed", "oneof_name", "oneof", "a oneof was renamed with the same members (no "
       "wire or JSON effect)", SAFE, SAFE, B, "restore the name `{before}` if code uses it"),
    # --- reserved --------------------------------------------------------------------------
    _k("reserved_number_removed", "number_removed", "reserved", "reserved numbers were "
       "released and can be reused", WIRE_ONLY, WIRE_ONLY, C, "reserve {before} again"),
    _k("reserved_number_added", "number_added", "reserved", "numbers were reserved", SAFE, SAFE,
       C, "none needed"),
    _k("reserved_name_removed", "name_removed", "reserved", "reserved names were released and "
       "can be reused in JSON", JSON_ONLY, JSON_ONLY, C, "reserve {before} again"),
    _k("reserved_name_added", "name_added", "reserved", "names were reserved", SAFE, SAFE, C,
       "none needed"),
    # --- extensions ------------------------------------------------------------------------
    _k("extension_added", "added", "extension", "an extension was added", SAFE, SAFE, C,
       "none needed"),
    _k("extension_removed", "removed", "extension", "an extension was removed: its number can "
       "be reused in the extended message", BROKEN, BROKEN, B, "restore extension `{name}`"),
    # --- enums -----------------------------------------------------------------------------
    _k("enum_added", "added", "enum", "an enum was added", SAFE, SAFE, C, "none needed"),
    _k("enum_removed", "removed", "enum", "an enum was removed (references appear as their own "
       "changes)", SAFE, SAFE, B, "keep enum `{name}` until no code uses it"),
    _k("enum_renamed", "name", "enum", "an enum was renamed with identical values (no wire or "
       "JSON effect)", SAFE, SAFE, B, "restore the name `{before}` if code uses it"),
    _k("enum_value_added", "added", "enum_value", "an enum value was added: old binary readers "
       "keep the number as an unknown value; an old tolerant JSON reader (ignore_unknown_fields) "
       "ignores the new name as it ignores a newer field (the field reads as its default)",
       SAFE, SAFE, C,
       "none needed; readers of the baseline see `{after}` as unknown until they upgrade"),
    _k("enum_value_added_closed", "added", "enum_value", "a value was added to a closed "
       "(proto2) enum: old readers move it to the unknown fields and read the default",
       SAFE, BROKEN, C, "make readers of the baseline move to the new enum before writers "
       "send `{after}`"),
    _k("enum_value_removed", "removed", "enum_value", "an enum value was removed without "
       "reserving its number and name: the number can be reused", BROKEN, BROKEN, B,
       "restore `{before}`; or reserve its number and name"),
    _k("enum_value_removed_number_reserved", "removed", "enum_value", "an enum value was "
       "removed with its number reserved but not its name", JSON_ONLY, JSON_ONLY, B,
       "also reserve the name of `{before}`"),
    _k("enum_value_removed_reserved", "removed", "enum_value", "an enum value was removed with "
       "number and name reserved", SAFE, SAFE, B, "none needed for data"),
    _k("enum_value_removed_closed", "removed", "enum_value", "a value of a closed enum was "
       "removed: old bytes with it are dropped to unknown fields", BROKEN, Encodings(C, C), B,
       "restore `{before}`"),
    _k("enum_value_renamed", "name", "enum_value", "an enum value was renamed keeping its "
       "number: wire-safe, JSON names differ", JSON_ONLY, JSON_ONLY, B,
       "restore the name `{before}`, or add `{after}` as an alias (allow_alias)"),
    _k("enum_value_number_changed", "number", "enum_value", "an enum value kept its name but "
       "changed its number", WIRE_ONLY, WIRE_ONLY, C, "restore `{name} = {before}`"),
    # --- services and RPCs (backward = old clients -> new servers) -------------------------
    _k("service_added", "added", "service", "a service was added", SAFE, SAFE, C, "none needed"),
    _k("service_removed", "removed", "service", "a service with RPCs was removed: old clients "
       "get UNIMPLEMENTED", BROKEN, SAFE, B, "keep service `{name}` until no client calls it"),
    _k("service_removed_empty", "removed", "service", "a service without RPCs was removed (no "
       "wire effect)", SAFE, SAFE, C, "none needed"),
    _k("rpc_added", "added", "rpc", "an RPC was added: new clients calling old servers get "
       "UNIMPLEMENTED, so servers go first", SAFE, BROKEN, C,
       "upgrade servers before clients call `{name}`"),
    _k("rpc_removed", "removed", "rpc", "an RPC was removed: old clients get UNIMPLEMENTED",
       BROKEN, SAFE, B, "keep RPC `{name}` until no client calls it"),
    _k("rpc_request_changed", "request", "rpc", "an RPC's request type changed", BROKEN, BROKEN,
       B, "restore request type {before}; add a new RPC for {after}"),
    _k("rpc_response_changed", "response", "rpc", "an RPC's response type changed", BROKEN,
       BROKEN, B, "restore response type {before}; add a new RPC for {after}"),
    _k("rpc_client_streaming_changed", "client_streaming", "rpc", "an RPC's client streaming "
       "changed", BROKEN, BROKEN, B, "restore client streaming {before}; add a new RPC"),
    _k("rpc_server_streaming_changed", "server_streaming", "rpc", "an RPC's server streaming "
       "changed", BROKEN, BROKEN, B, "restore server streaming {before}; add a new RPC"),
    # --- findings of other stages ----------------------------------------------------------
    _k("wire_replay_backward", "replay", "replay", "the wire replay saw baseline data read "
       "differently by the current schema, and no change explains it", WIRE_ONLY, SAFE, C,
       "look at the replay detail of `{element}`"),
    _k("wire_replay_forward", "replay", "replay", "the wire replay saw current data read "
       "differently by the baseline schema, and no change explains it", SAFE, WIRE_ONLY, C,
       "look at the replay detail of `{element}`"),
    _k("buf_finding", "buf", "buf", "a buf breaking finding that no change of the toolkit "
       "explains (listed; the toolkit's judgement comes from its own rules and the replay)",
       SAFE, SAFE, C, "see buf's message"),
)  # fmt: skip

KINDS: dict[str, Kind] = {kind.id: kind for kind in _TABLE}
assert len(KINDS) == len(_TABLE), "duplicate change kind ids"

# Kinds whose role is the RPC itself: backward = old clients calling new servers.
RPC_LEVEL_CATEGORIES = frozenset({"rpc", "service"})


def kind(kind_id: str) -> Kind:
    return KINDS[kind_id]


def remedy_text(
    found: Kind,
    *,
    element: str,
    before: str | None,
    after: str | None,
    number: int | None = None,
) -> str:
    """The kind's remedy with the names filled in (`number`: the baseline field's number)."""
    name = element.rpartition(".")[2] or element
    return found.remedy.format(
        name=name,
        element=element,
        before=before or "-",
        after=after or "-",
        number=number if number is not None else "the old number",
    )


def worst(*ratings: Compat) -> Compat:
    return B if B in ratings else C


def change_of_kind(
    kind_id: str,
    *,
    change_id: str,
    baseline: str,
    element: str,
    message: str | None,
    file: str | None,
    line: int | None,
    before: str | None = None,
    after: str | None = None,
    number: int | None = None,
) -> Change:
    """A change record rated from the table (the only place ratings are filled in)."""
    found = KINDS[kind_id]
    return Change(
        id=change_id,
        baseline=baseline,
        kind=found.id,
        element=element,
        message=message,
        file=file,
        line=line,
        wire=worst(found.backward.wire, found.forward.wire),
        json=worst(found.backward.json, found.forward.json),
        source=found.source,
        breaking=found.breaking,
        buf_rules=(),
        buf_messages=(),
        before=before,
        after=after,
        accepted=None,
        category=found.category,
        backward=found.backward,
        forward=found.forward,
        remedy=remedy_text(found, element=element, before=before, after=after, number=number),
    )
