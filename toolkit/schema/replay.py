"""Semantic wire replay: bytes written with one schema, read with the other, compared by name.

Every message of the baseline that the current schema still has (by name, across package
renames) is replayed in both directions. Populated samples are encoded by the writer schema's
classes and decoded by the reader's. Python's protobuf (upb) does not always fail on a wire
mismatch: a value with the wrong wire type lands in the unknown-field set and the parse
"succeeds", so every field is compared and unknown fields count as lost data.

Each (writer message, reader message) pair is replayed once, one level deep: a nested message
field is checked for arriving whole, and the pair of its types is replayed on its own; its
outcome is then folded into every field that holds it. Messages whose whole transitive
structure is identical in both schemas are IDENTICAL without sampling. Values are compared the
way protobuf reads them: enums by number, integers by value (a truncation is CHANGED), strings
and bytes by their UTF-8 bytes, a list of one against a single value, an unset field against
the default the reader sees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from google.protobuf import descriptor_pb2, message_factory, unknown_fields
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, EncodeError, Message

from toolkit.contract import HAZARD_SERVERS_FIRST, SPACE_FIELD
from toolkit.documents.schema import Direction, Hazard, ReplayField, ReplayResult
from toolkit.schema.diff import Names, json_name
from toolkit.schema.pool import Schema
from toolkit.schema.samples import build_samples

log = logging.getLogger(__name__)

F = FieldDescriptor
IDENTICAL = "IDENTICAL"
NEW_FIELD_DEFAULT = "NEW_FIELD_DEFAULT"
IGNORED_BY_OLD = "IGNORED_BY_OLD"
NOT_REPLAYABLE = "NOT_REPLAYABLE"  # the Python runtime refuses the message: judged by the diff
LOST = "LOST"
CHANGED = "CHANGED"
PARSE_ERROR = "PARSE_ERROR"
MISROUTED = "MISROUTED"
# Worst last: a message's outcome is the worst outcome of any of its fields in any sample.
SEVERITY = (
    IDENTICAL,
    NEW_FIELD_DEFAULT,
    IGNORED_BY_OLD,
    NOT_REPLAYABLE,
    LOST,
    CHANGED,
    PARSE_ERROR,
    MISROUTED,
)
RANK = {outcome: rank for rank, outcome in enumerate(SEVERITY)}
SAMPLE_DEPTH = 1  # nested messages are populated one level; their own pair replays deeper
DETAIL_LIMIT = 200


class FieldOutcome(NamedTuple):
    """What one field of one message reads as, in one direction (a tuple: made by the
    hundred thousand on large schemas)."""

    outcome: str
    detail: str
    origin: str  # the leaf element the outcome comes from, e.g. engram.v1.Memory.content
    breaking: bool = False

    def worse_than(self, other: FieldOutcome) -> bool:
        return RANK[self.outcome] > RANK[other.outcome]


@dataclass(frozen=True)
class ReplayRun:
    """The replay records of one baseline, and the elements whose data broke on the way."""

    results: tuple[ReplayResult, ...]
    breaking_elements: frozenset[str]
    hazards: tuple[Hazard, ...]


def _worst(outcomes: Iterable[FieldOutcome]) -> FieldOutcome | None:
    worst: FieldOutcome | None = None
    for outcome in outcomes:
        if worst is None or outcome.worse_than(worst):
            worst = outcome
    return worst


def correspondence(writer: Descriptor, reader: Descriptor) -> dict[str, str]:
    """Writer field name -> reader field name: by name, else a rename (same number and type)."""
    pairs = {f.name: f.name for f in writer.fields if f.name in reader.fields_by_name}
    for field in writer.fields:
        if field.name in pairs:
            continue
        candidate = reader.fields_by_number.get(field.number)
        if (
            candidate is not None
            and candidate.name not in writer.fields_by_name
            and candidate.type == field.type
        ):
            pairs[field.name] = candidate.name
    return pairs


def _unknown_numbers(message: Message) -> set[int]:
    return {entry.field_number for entry in unknown_fields.UnknownFieldSet(message)}


# Integer types that carry a two's-complement value in their bits (zigzag types carry the
# value itself): width and sign, for reading one type's value back as another's.
_BITS = {
    F.TYPE_INT32: (32, True),
    F.TYPE_ENUM: (32, True),
    F.TYPE_SFIXED32: (32, True),
    F.TYPE_UINT32: (32, False),
    F.TYPE_FIXED32: (32, False),
    F.TYPE_INT64: (64, True),
    F.TYPE_SFIXED64: (64, True),
    F.TYPE_UINT64: (64, False),
    F.TYPE_FIXED64: (64, False),
}


def _as_written(value: int, writer_type: int) -> int:
    """A value read by one integer type, re-read at the writer's width and sign: what the
    writer would decode from the bits the reader kept (-1 read as 4294967295 is -1 again; a
    truncated 64-bit value is not)."""
    bits, signed = _BITS[writer_type]
    raw = value & ((1 << bits) - 1)
    return raw - (1 << bits) if signed and raw >> (bits - 1) else raw


_VARINTS = frozenset({F.TYPE_INT32, F.TYPE_INT64, F.TYPE_UINT32, F.TYPE_UINT64, F.TYPE_ENUM})


def _truth_pair(wf: FieldDescriptor | None, rf: FieldDescriptor | None) -> bool:
    """bool against a two's-complement varint type: read by truth (a zigzag 1 is -1)."""
    if wf is None or rf is None or wf.type == rf.type:
        return True
    other = rf.type if wf.type == F.TYPE_BOOL else wf.type
    return other in _VARINTS


def _scalar_equal(
    wv: Any, rv: Any, wf: FieldDescriptor | None = None, rf: FieldDescriptor | None = None
) -> bool:
    """Equal as protobuf reads them: enums are numbers, strings their UTF-8, integers of
    another sign the same bits at the writer's width, bool by truth (protobuf's rule: int32,
    uint32, int64, uint64, bool and enums read one another)."""
    if isinstance(wv, str) and isinstance(rv, bytes):
        return wv.encode() == rv
    if isinstance(wv, bytes) and isinstance(rv, str):
        return wv == rv.encode(errors="surrogateescape")
    if isinstance(wv, bool) or isinstance(rv, bool):
        if isinstance(wv, int) and isinstance(rv, int) and _truth_pair(wf, rf):
            return bool(wv) == bool(rv)
        return bool(wv == rv)
    if (
        wf is not None
        and rf is not None
        and wf.type != rf.type
        and wf.type in _BITS
        and rf.type in _BITS
        and isinstance(wv, int)
        and isinstance(rv, int)
    ):
        return _as_written(rv, wf.type) == wv
    return bool(wv == rv)


def _unnamed(wf: FieldDescriptor, rf: FieldDescriptor, written: Any) -> bool:
    """A value of the writer's enum that the reader's enum has no value for (kept as a bare
    number by an open enum)."""
    return (
        wf.type == F.TYPE_ENUM
        and rf.type == F.TYPE_ENUM
        and written in wf.enum_type.values_by_number
        and written not in rf.enum_type.values_by_number
    )


def _enum_values_unnamed(
    wf: FieldDescriptor, rf: FieldDescriptor, differing: list[tuple[Any, Any]]
) -> str | None:
    """The writer's enum numbers the reader's enum has no value for, when the reader kept
    every such number as written (an open enum)."""
    if wf.type != F.TYPE_ENUM or rf.type != F.TYPE_ENUM:
        return None
    names = []
    for written, read in differing:
        value = wf.enum_type.values_by_number.get(written)
        if value is None or written != read or written in rf.enum_type.values_by_number:
            return None
        if value.name in rf.enum_type.values_by_name:
            return None  # the reader has the name under another number: the value moved
        names.append(value.name)
    return ",".join(sorted(set(names)))


def _enum_values_moved(
    wf: FieldDescriptor, rf: FieldDescriptor, differing: list[tuple[Any, Any]]
) -> str | None:
    """The writer's enum values whose name the reader's enum has under another number."""
    if wf.type != F.TYPE_ENUM or rf.type != F.TYPE_ENUM:
        return None
    moved = set()
    for written, _ in differing:
        value = wf.enum_type.values_by_number.get(written)
        theirs = rf.enum_type.values_by_name.get(value.name) if value is not None else None
        if value is not None and theirs is not None and theirs.number != written:
            moved.add(value.name)
    return ",".join(sorted(moved)) or None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_message(field: FieldDescriptor) -> bool:
    return field.type in (F.TYPE_MESSAGE, F.TYPE_GROUP)


def _is_map(field: FieldDescriptor) -> bool:
    return bool(
        field.type == F.TYPE_MESSAGE
        and field.is_repeated
        and field.message_type.GetOptions().map_entry
    )


def _key(field: FieldDescriptor) -> str:
    return f"({field.full_name})" if field.is_extension else field.name


def _fields(descriptor: Descriptor, message: Message | None = None) -> list[FieldDescriptor]:
    """The fields of `descriptor`, and the extensions of it its pool knows."""
    found = list(descriptor.fields)
    if descriptor.extension_ranges:
        found.extend(descriptor.file.pool.FindAllExtensions(descriptor))
    return found


def _read_value(message: Message, field: FieldDescriptor) -> Any:
    return message.Extensions[field] if field.is_extension else getattr(message, field.name)


_OPTIONAL = FieldOutcome(CHANGED, "", "")
Edge = tuple[str, str]  # (writer message full name, reader message full name)


class _Comparer:
    """Compares one level of a written sample with what the reader parsed."""

    def __init__(self, direction: Direction) -> None:
        self.direction = direction
        self.edges: dict[str, Edge] = {}  # field key -> the nested pair it holds

    def landed(self, holder: str, origin: str, what: str) -> FieldOutcome:
        outcome = MISROUTED if holder == SPACE_FIELD else CHANGED
        return FieldOutcome(outcome, f"{what} read as {holder}", origin, breaking=True)

    def compare(self, writer: Message, reader: Message) -> dict[str, FieldOutcome]:
        """One outcome per field of this level; nested messages are checked for arriving."""
        wd, rd = writer.DESCRIPTOR, reader.DESCRIPTOR
        pairs = correspondence(wd, rd)
        w_fields, r_fields = _fields(wd), _fields(rd)
        r_ext = {f.number: f for f in r_fields if f.is_extension}
        for field in w_fields:
            if field.is_extension and field.number in r_ext:
                pairs[_key(field)] = _key(r_ext[field.number])
        r_by_key = {_key(f): f for f in r_fields}
        paired_readers = set(pairs.values())
        written = {_key(f): v for f, v in writer.ListFields()}
        read = {_key(f): v for f, v in reader.ListFields()}
        unknown = _unknown_numbers(reader)
        out: dict[str, FieldOutcome] = {}
        for wf in w_fields:
            name = _key(wf)
            origin = f"{wd.full_name}.{name}"
            reader_name = pairs.get(name)
            if name not in written:
                out[name] = self.unset(wf, writer, reader, r_by_key.get(reader_name or ""), origin)
                if (
                    reader_name is not None
                    and reader_name in read
                    and not _has_default(r_by_key[reader_name], read[reader_name])
                ):
                    landed = self.landed(reader_name, origin, "")
                    out[name] = FieldOutcome(
                        landed.outcome, "holds another field's value", origin, True
                    )
                continue
            if reader_name is None:
                holder = rd.fields_by_number.get(wf.number)
                if holder is not None and holder.name in read:
                    out[name] = self.landed(holder.name, origin, f"field {wf.number}")
                elif self.direction == "new_to_old":
                    out[name] = FieldOutcome(IGNORED_BY_OLD, f"unknown field {wf.number}", origin)
                else:
                    out[name] = FieldOutcome(LOST, f"unknown field {wf.number}", origin)
                continue
            rf = r_by_key[reader_name]
            out[name] = self.compare_field(wf, rf, written[name], reader, read, unknown, origin)
            if rf.is_required and not wf.is_required and not out[name].worse_than(_OPTIONAL):
                # Sent here, but a writer may omit it: the reader then fails to parse.
                out[name] = FieldOutcome(
                    PARSE_ERROR, "optional when written, required when read", origin, True
                )
        for rf in r_fields:
            name = _key(rf)
            if name in paired_readers:
                continue
            origin = f"{rd.full_name}.{name}"
            if name in read:
                source = wd.fields_by_number.get(rf.number)
                what = f"field {rf.number}" + (f" ({source.name})" if source else "")
                outcome = self.landed(rf.name, origin, what)
                out[name] = FieldOutcome(outcome.outcome, f"holds {what}", origin, breaking=True)
            elif rf.is_required:
                out[name] = FieldOutcome(
                    PARSE_ERROR, "required field missing: the parse fails", origin, True
                )
            else:
                out[name] = FieldOutcome(NEW_FIELD_DEFAULT, "reads as default", origin)
        return out

    def unset(
        self,
        wf: FieldDescriptor,
        writer: Message,
        reader: Message,
        rf: FieldDescriptor | None,
        origin: str,
    ) -> FieldOutcome:
        """A field the writer did not send: the reader sees its own default."""
        required = rf is not None and rf.is_required and not rf.is_extension
        if rf is not None and required and not wf.is_repeated and not reader.HasField(rf.name):
            return FieldOutcome(
                PARSE_ERROR, "required field missing: the parse fails", origin, True
            )
        if rf is None or unset_reads_as_unset(wf, rf):
            return FieldOutcome(IDENTICAL, "not set", origin)
        # No presence: the writer meant its zero value; the reader reads its own default.
        wv, rv = _read_value(writer, wf), _read_value(reader, rf)
        if _scalar_equal(wv, rv, wf, rf):
            return FieldOutcome(IDENTICAL, "not set", origin)
        return FieldOutcome(
            CHANGED, f"unset {_short(wv)} reads as default {_short(rv)}", origin, True
        )

    def compare_field(
        self,
        wf: FieldDescriptor,
        rf: FieldDescriptor,
        wv: Any,
        reader: Message,
        read: dict[str, Any],
        unknown: set[int],
        origin: str,
    ) -> FieldOutcome:
        r_name = _key(rf)
        if r_name not in read:
            if wf.number in unknown:
                return FieldOutcome(LOST, f"unknown field {wf.number}", origin, breaking=True)
            for name, value in read.items():
                if not _is_message(wf) and not wf.is_repeated and wv and value == wv:
                    return self.landed(name, origin, "value")
            if not (_is_message(rf) or rf.is_repeated or _is_message(wf) or wf.is_repeated):
                # Presence is not kept (e.g. an empty string out of a oneof): compare values.
                rv = _read_value(reader, rf)
                if _scalar_equal(wv, rv, wf, rf):
                    return FieldOutcome(IDENTICAL, "same value", origin)
            return FieldOutcome(CHANGED, "reads as default", origin, breaking=True)
        rv = read[r_name]
        if _is_map(wf) or _is_map(rf):
            return self.compare_map(wf, rf, wv, rv, origin)
        if _is_message(wf) and _is_message(rf):
            return self.compare_messages(wf, rf, wv, rv, unknown, origin)
        if (
            wf.type == F.TYPE_MESSAGE
            and rf.type == F.TYPE_BYTES
            and wf.is_repeated == rf.is_repeated
        ):
            # A message's encoding is valid bytes: the reader holds exactly what was written.
            encoded = [m.SerializePartialToString() for m in (wv if wf.is_repeated else [wv])]
            if encoded == (list(rv) if rf.is_repeated else [rv]):
                return FieldOutcome(IDENTICAL, "the message's encoding", origin)
        if _is_message(wf) != _is_message(rf):
            return FieldOutcome(CHANGED, f"read as {_short(rv)}", origin, breaking=True)
        w_items = list(wv) if wf.is_repeated else [wv]
        if wf.is_repeated and not rf.is_repeated:
            # A singular reader keeps the last element of a list.
            if not _scalar_equal(w_items[-1], rv, wf, rf):
                return FieldOutcome(
                    CHANGED, f"{_short(wv)} read as {_short(rv)}", origin, breaking=True
                )
            if len(w_items) > 1:
                return FieldOutcome(
                    LOST, f"{len(w_items)} items: only the last is kept", origin, True
                )
            return FieldOutcome(IDENTICAL, "same value", origin)
        r_items = list(rv) if rf.is_repeated else [rv]
        if len(w_items) != len(r_items):
            outcome = LOST if len(r_items) < len(w_items) else CHANGED
            return FieldOutcome(
                outcome, f"{_short(wv)} read as {_short(rv)}", origin, breaking=True
            )
        differing = [
            (a, b)
            for a, b in zip(w_items, r_items, strict=True)
            if not _scalar_equal(a, b, wf, rf) or _unnamed(wf, rf, a)
        ]
        if not differing:
            return FieldOutcome(IDENTICAL, "same value", origin)
        moved = _enum_values_moved(wf, rf, differing)
        if moved:
            return FieldOutcome(
                CHANGED, f"enum value {moved} has another number in the reader", origin, True
            )
        unnamed = _enum_values_unnamed(wf, rf, differing)
        if unnamed and self.direction == "new_to_old":
            return FieldOutcome(
                IGNORED_BY_OLD, f"enum value {unnamed} unknown to the reader", origin
            )
        if unnamed:
            return FieldOutcome(
                CHANGED, f"enum value {unnamed} has no name in the reader", origin, True
            )
        return FieldOutcome(CHANGED, f"{_short(wv)} read as {_short(rv)}", origin, breaking=True)

    def compare_messages(
        self,
        wf: FieldDescriptor,
        rf: FieldDescriptor,
        wv: Any,
        rv: Any,
        unknown: set[int],
        origin: str,
    ) -> FieldOutcome:
        if wf.type != rf.type:
            # A group and a length-delimited message have different wire types.
            return FieldOutcome(LOST, f"unknown field {wf.number}", origin, breaking=True)
        w_count = len(wv) if wf.is_repeated else 1
        r_count = len(rv) if rf.is_repeated else 1
        self.edges[_key(wf)] = (wf.message_type.full_name, rf.message_type.full_name)
        if w_count > 1 and not rf.is_repeated:
            return FieldOutcome(
                LOST, f"{w_count} items merged into one message", origin, breaking=True
            )
        if w_count != r_count:
            return FieldOutcome(CHANGED, f"{w_count} items read as {r_count}", origin, True)
        return FieldOutcome(IDENTICAL, "arrived", origin)

    def compare_map(
        self, wf: FieldDescriptor, rf: FieldDescriptor, wv: Any, rv: Any, origin: str
    ) -> FieldOutcome:
        if not (_is_map(wf) and _is_map(rf)):
            return self.compare_entries(wf, rf, wv, rv, origin)
        w_value = wf.message_type.fields_by_name["value"]
        r_value = rf.message_type.fields_by_name["value"]
        if len(wv) != len(rv) or not all(any(_scalar_equal(k, r) for r in rv) for k in wv):
            return FieldOutcome(CHANGED, "map keys differ", origin, breaking=True)
        if _is_message(w_value) and _is_message(r_value):
            self.edges[_key(wf)] = (w_value.message_type.full_name, r_value.message_type.full_name)
            return FieldOutcome(IDENTICAL, "arrived", origin)
        if _is_message(w_value) != _is_message(r_value):
            return FieldOutcome(CHANGED, "map values differ", origin, breaking=True)
        r_keyed = {k if not isinstance(k, bytes) else k.decode(errors="replace"): k for k in rv}
        for key in wv:
            lookup = key.decode(errors="replace") if isinstance(key, bytes) else key
            if not _scalar_equal(wv[key], rv[r_keyed.get(lookup, key)], w_value, r_value):
                return FieldOutcome(CHANGED, "map values differ", origin, breaking=True)
        return FieldOutcome(IDENTICAL, "same value", origin)

    def compare_entries(
        self, wf: FieldDescriptor, rf: FieldDescriptor, wv: Any, rv: Any, origin: str
    ) -> FieldOutcome:
        """A map against a repeated entry message (`key = 1`, `value = 2`): the same bytes
        (protobuf's map rule). A map reader keeps the last entry of each key, as every map
        does when it parses: entries the writer repeated a key in are compared by that rule."""
        if _is_map(wf) and rf.type == F.TYPE_BYTES and rf.is_repeated:
            return self.compare_entry_bytes(wf, wv, rv, origin)
        if not (_entry_shaped(wf) and _entry_shaped(rf)):
            return FieldOutcome(CHANGED, "map read as non-map", origin, breaking=True)
        w_key, w_value = (wf.message_type.fields_by_number[n] for n in (1, 2))
        r_key, r_value = (rf.message_type.fields_by_number[n] for n in (1, 2))

        def entries(field: FieldDescriptor, value: Any) -> list[tuple[Any, Any]]:
            if _is_map(field):
                return list(value.items())
            key, val = (field.message_type.fields_by_number[n] for n in (1, 2))
            return [(getattr(e, key.name), getattr(e, val.name)) for e in value]

        written, read = entries(wf, wv), entries(rf, rv)
        if _is_map(rf) and not _is_map(wf):
            last: dict[Any, tuple[Any, Any]] = {}
            for key, value in written:
                last[_hashable(key)] = (key, value)
            written = list(last.values())
        if len(read) < len(written):
            return FieldOutcome(
                LOST, f"{len(written)} entries read as {len(read)} (one per key)", origin, True
            )
        if len(read) != len(written):
            return FieldOutcome(
                CHANGED, f"{len(written)} entries read as {len(read)}", origin, True
            )
        for key, value in written:
            match = [v for k, v in read if _scalar_equal(key, k, w_key, r_key)]
            if not match:
                return FieldOutcome(CHANGED, "map keys differ", origin, breaking=True)
            if _is_message(w_value) and _is_message(r_value):
                edge = (w_value.message_type.full_name, r_value.message_type.full_name)
                self.edges[_key(wf)] = edge
            elif not _scalar_equal(value, match[-1], w_value, r_value):
                return FieldOutcome(CHANGED, "map values differ", origin, breaking=True)
        return FieldOutcome(IDENTICAL, "same entries", origin)

    def compare_entry_bytes(
        self, wf: FieldDescriptor, wv: Any, rv: Any, origin: str
    ) -> FieldOutcome:
        """A map read as repeated bytes: each element holds one entry's encoding."""
        entry_cls = message_factory.GetMessageClass(wf.message_type)
        key, value = (wf.message_type.fields_by_number[n] for n in (1, 2))
        read = []
        for data in rv:
            entry = entry_cls()
            entry.ParseFromString(data)
            stored = getattr(entry, value.name)
            read.append((getattr(entry, key.name), stored))
        if len(read) != len(wv):
            return FieldOutcome(CHANGED, f"{len(wv)} entries read as {len(read)}", origin, True)
        for k, v in read:
            if k not in wv:
                return FieldOutcome(CHANGED, "map keys differ", origin, breaking=True)
            written = wv[k]
            if _is_message(value):
                same = written.SerializePartialToString(
                    deterministic=True
                ) == v.SerializePartialToString(deterministic=True)
            else:
                same = _scalar_equal(written, v, value, value)
            if not same:
                return FieldOutcome(CHANGED, "map values differ", origin, breaking=True)
        return FieldOutcome(IDENTICAL, "each entry's encoding", origin)


def unset_reads_as_unset(wf: FieldDescriptor, rf: FieldDescriptor) -> bool:
    """Whether a field the writer left unset reads as unset, whatever the encoding: it has
    presence, is repeated or a message on either side, or neither side declares a default.
    Otherwise the writer meant its zero value and the reader reads its own default."""
    return (
        wf.has_presence
        or wf.is_repeated
        or rf.is_repeated
        or _is_message(wf)
        or _is_message(rf)
        or not (wf.has_default_value or rf.has_default_value)
    )


def _hashable(key: Any) -> Any:
    """An entry's key as a dict key (a repeated entry message may even hold a message there)."""
    if isinstance(key, Message):
        return ("message", key.SerializePartialToString(deterministic=True))
    return ("bytes", key) if isinstance(key, bytes) else key


def _entry_shaped(field: FieldDescriptor) -> bool:
    """A repeated message field of two fields numbered 1 and 2 (a map's entries, or a
    repeated message declared like them)."""
    if not (field.type == F.TYPE_MESSAGE and field.is_repeated):
        return False
    return set(field.message_type.fields_by_number) == {1, 2}


def _has_default(field: FieldDescriptor, value: Any) -> bool:
    """Whether a read value is only the field's default (presence without content)."""
    if _is_message(field) or field.is_repeated:
        return False
    return bool(value == field.default_value)


def _parse(reader_cls: type[Message], data: bytes) -> Message:
    reader = reader_cls()
    reader.MergeFromString(data)  # required fields are judged per field, not by the parse
    return reader


def _parse_errors(
    sample: Message, reader_cls: type[Message], error: Exception, comparer: _Comparer
) -> dict[str, FieldOutcome]:
    """Attribute a parse failure to the fields that cause it on their own; every other field
    is judged as it reads when sent alone."""
    descriptor = sample.DESCRIPTOR
    set_fields = [f for f, _ in sample.ListFields()]
    blamed: dict[str, FieldOutcome] = {}
    alone_outcomes: dict[str, FieldOutcome] = {}
    for field in set_fields:
        alone = type(sample)()
        alone.CopyFrom(sample)
        for other in set_fields:
            if other is not field:
                if other.is_extension:
                    alone.ClearExtension(other)
                else:
                    alone.ClearField(other.name)
        name = _key(field)
        try:
            parsed = _parse(reader_cls, alone.SerializePartialToString())
            outcome = comparer.compare(alone, parsed).get(name)
        except (DecodeError, ValueError, UnicodeError) as exc:
            origin = f"{descriptor.full_name}.{name}"
            blamed[name] = FieldOutcome(PARSE_ERROR, str(exc) or "parse failed", origin, True)
            continue
        if outcome is not None:
            alone_outcomes[name] = outcome
    if blamed:
        return {**alone_outcomes, **blamed}
    # Only the combination fails: every field shares the blame.
    return {
        _key(field): FieldOutcome(
            PARSE_ERROR, str(error), f"{descriptor.full_name}.{_key(field)}", breaking=True
        )
        for field in set_fields
    }


@dataclass
class _Pair:
    """One (writer, reader) message pair in one direction: its own level, then folded."""

    fields: dict[str, FieldOutcome]
    edges: dict[str, Edge]
    samples: int
    worst: FieldOutcome | None


def replay_pair(
    writer_cls: type[Message], reader_cls: type[Message], direction: Direction
) -> tuple[_Pair, list[FieldOutcome]]:
    """Per field of this level, the worst outcome over all samples; plus every breaking one."""
    comparer = _Comparer(direction)
    worst: dict[str, FieldOutcome] = {}
    breaking: list[FieldOutcome] = []
    samples = build_samples(writer_cls, max_depth=SAMPLE_DEPTH)
    for sample in samples:
        try:
            data = sample.SerializePartialToString()
        except EncodeError as exc:  # pragma: no cover - partial serialisation does not check
            log.debug("sample of %s does not encode: %s", writer_cls.DESCRIPTOR.full_name, exc)
            continue
        try:
            outcomes = comparer.compare(sample, _parse(reader_cls, data))
        except (DecodeError, ValueError, UnicodeError) as exc:
            outcomes = _parse_errors(sample, reader_cls, exc, comparer)
        for name, outcome in outcomes.items():
            if outcome.breaking:
                breaking.append(outcome)
            if name not in worst or outcome.worse_than(worst[name]):
                worst[name] = outcome
    pair = _Pair(worst, dict(comparer.edges), len(samples), _worst(worst.values()))
    return pair, breaking


def _dialect(schema: Schema, descriptor: Descriptor) -> bytes:
    """What of a message's file changes how its fields read: syntax, edition, file features."""
    cache: dict[str, bytes] = schema.__dict__.setdefault("_dialects", {})
    name = descriptor.file.name
    if name not in cache:
        proto = next((f for f in schema.files.file if f.name == name), None)
        context = descriptor_pb2.FileDescriptorProto()
        if proto is not None:
            context.syntax = proto.syntax
            if proto.HasField("edition"):
                context.edition = proto.edition
            if proto.options.HasField("features"):
                context.options.features.CopyFrom(proto.options.features)
        cache[name] = context.SerializeToString()
    return cache[name]


def _oneof_members(field: FieldDescriptor) -> frozenset[str] | None:
    oneof = field.containing_oneof
    return None if oneof is None else frozenset(f.name for f in oneof.fields)


Signature = tuple[Any, ...]


def _signature(field: FieldDescriptor) -> Signature | None:
    """What decides how a field reads, as a comparable value; None when only sampling can
    tell (maps, field options such as editions features)."""
    if _is_map(field) or field.has_options:
        return None
    message = field.message_type.name if _is_message(field) else None
    default = None if field.is_repeated or message else field.default_value
    enum = None
    if field.type == F.TYPE_ENUM:
        enum = (frozenset(field.enum_type.values_by_number), field.enum_type.is_closed)
    return (
        field.number,
        field.type,
        field.is_repeated,
        field.has_presence,
        field.is_required,
        _oneof_members(field),
        default,
        enum,
        message,
    )


@dataclass(frozen=True)
class _Shape:
    """A message's fields as the static judgement needs them, computed once per message."""

    full_name: str
    names: dict[str, tuple[int, Signature | None, FieldDescriptor]]
    numbers: frozenset[int]
    plain: bool  # no extensions, no message options


def _shape(descriptor: Descriptor) -> _Shape:
    fields = list(descriptor.fields)
    return _Shape(
        descriptor.full_name,
        {f.name: (f.number, _signature(f), f) for f in fields},
        frozenset(f.number for f in fields),
        not descriptor.extension_ranges and not descriptor.has_options,
    )


def _static_pair(w: _Shape, r: _Shape, direction: Direction, same_dialect: bool) -> _Pair | None:
    """The replay of a pair whose fields are each unchanged, added or removed (no number
    reused, no type changed), read off the declarations; None when it must be sampled."""
    if not (same_dialect and w.plain and r.plain):
        return None
    fields: dict[str, FieldOutcome] = {}
    edges: dict[str, Edge] = {}
    removed = IGNORED_BY_OLD if direction == "new_to_old" else LOST
    for name, (number, signature, wf) in w.names.items():
        origin = f"{w.full_name}.{name}"
        found = r.names.get(name)
        if found is None:
            if number in r.numbers:
                return None
            fields[name] = FieldOutcome(removed, f"unknown field {number}", origin)
            continue
        if signature is None or signature != found[1]:
            return None
        if signature[-1] is not None:
            edges[name] = (wf.message_type.full_name, found[2].message_type.full_name)
            fields[name] = FieldOutcome(IDENTICAL, "arrived", origin)
        else:
            fields[name] = FieldOutcome(IDENTICAL, "same value", origin)
    for name, (number, _, rf) in r.names.items():
        if name in w.names:
            continue
        if number in w.numbers:
            return None
        origin = f"{r.full_name}.{name}"
        if rf.is_required:
            fields[name] = FieldOutcome(
                PARSE_ERROR, "required field missing: the parse fails", origin, True
            )
        else:
            fields[name] = FieldOutcome(NEW_FIELD_DEFAULT, "reads as default", origin)
    return _Pair(fields, edges, 0, _worst(fields.values()))


def replay_message(
    writer_cls: type[Message], reader_cls: type[Message], direction: Direction
) -> tuple[list[tuple[str, FieldOutcome]], list[FieldOutcome], int]:
    """One message pair with everything it holds, on its own (tests and callers outside a run)."""
    forward = direction == "old_to_new"
    engine = _Engine(writer_cls, reader_cls) if forward else _Engine(reader_cls, writer_cls)
    key = (direction, writer_cls.DESCRIPTOR.full_name, reader_cls.DESCRIPTOR.full_name)
    engine.run([key])
    pair = engine.pairs[key]
    return list(engine.folded(key).items()), engine.breaking, pair.samples


PairKey = tuple[str, str, str]  # (direction, writer message, reader message)


class _Engine:
    """Replays message pairs once each and folds nested outcomes into their holders."""

    def __init__(
        self,
        old: type[Message] | Schema,
        new: type[Message] | Schema,
        known: Callable[[PairKey], bool] = lambda key: False,
    ) -> None:
        self.old, self.new = old, new
        self.known = known  # pairs known IDENTICAL from their structure: never sampled
        self.shapes: dict[tuple[int, str], _Shape] = {}
        self.pairs: dict[PairKey, _Pair] = {}
        self.breaking: list[FieldOutcome] = []

    def _shape(self, side: Schema, descriptor: Descriptor) -> _Shape:
        key = (id(side), descriptor.full_name)
        if key not in self.shapes:
            self.shapes[key] = _shape(descriptor)
        return self.shapes[key]

    def _cls(self, side: type[Message] | Schema, name: str) -> type[Message]:
        if isinstance(side, Schema):
            return side.message(name)
        pool = side.DESCRIPTOR.file.pool
        cls: type[Message] = message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
        return cls

    def run(self, keys: Iterable[PairKey]) -> None:
        pending = list(keys)
        while pending:
            key = pending.pop()
            if key in self.pairs:
                continue
            direction, writer_name, reader_name = key
            if self.known(key):
                self.pairs[key] = _Pair({}, {}, 0, None)
                continue
            writer_side, reader_side = (
                (self.old, self.new) if direction == "old_to_new" else (self.new, self.old)
            )
            pair = None
            if isinstance(writer_side, Schema) and isinstance(reader_side, Schema):
                wd = writer_side.descriptor(writer_name)
                rd = reader_side.descriptor(reader_name)
                same = _dialect(writer_side, wd) == _dialect(reader_side, rd)
                pair = _static_pair(
                    self._shape(writer_side, wd),
                    self._shape(reader_side, rd),
                    direction,  # type: ignore[arg-type]
                    same,
                )
            broken = [v for v in pair.fields.values() if v.breaking] if pair else []
            if pair is None:
                try:
                    pair, broken = replay_pair(
                        self._cls(writer_side, writer_name),
                        self._cls(reader_side, reader_name),
                        direction,  # type: ignore[arg-type]
                    )
                except Exception as exc:  # one message the runtime cannot handle, not the run
                    log.debug("replay of %s failed", writer_name, exc_info=True)
                    why = FieldOutcome(
                        NOT_REPLAYABLE, f"replay failed: {type(exc).__name__}: {exc}", writer_name
                    )
                    pair = _Pair({"": why}, {}, 0, why)
            self.pairs[key] = pair
            self.breaking.extend(broken)
            pending.extend((direction, w, r) for w, r in pair.edges.values())
        self._propagate()

    def _propagate(self) -> None:
        """Each pair's worst outcome includes the worst of every pair it holds (to a fixpoint;
        an outcome only ever gets worse, so each pair is revisited a bounded number of times)."""
        parents: dict[PairKey, list[PairKey]] = {}
        for key, pair in self.pairs.items():
            for w, r in pair.edges.values():
                parents.setdefault((key[0], w, r), []).append(key)
        pending = [k for k, p in self.pairs.items() if p.worst and p.worst.outcome != IDENTICAL]
        while pending:
            child = pending.pop()
            worst = self.pairs[child].worst
            if worst is None:
                continue
            for parent in parents.get(child, ()):
                pair = self.pairs[parent]
                if pair.worst is None or worst.worse_than(pair.worst):
                    pair.worst = worst
                    pending.append(parent)

    def folded(self, key: PairKey) -> dict[str, FieldOutcome]:
        """The pair's fields, each with the worst outcome of the nested pair it holds."""
        pair = self.pairs[key]
        out = dict(pair.fields)
        for name, (w, r) in pair.edges.items():
            nested = self.pairs.get((key[0], w, r))
            if nested is None or nested.worst is None or nested.worst.outcome == IDENTICAL:
                continue
            current = out.get(name)
            if current is None or nested.worst.worse_than(current):
                detail = nested.worst.detail
                if len(detail) < DETAIL_LIMIT:
                    detail = f"{name}: {detail}"
                out[name] = FieldOutcome(
                    nested.worst.outcome, detail, nested.worst.origin, nested.worst.breaking
                )
        return out


def reachable_messages(schema: Schema, *, requests_only: bool = False) -> set[str]:
    """Full names of messages reachable from any RPC's request (and response) type."""
    pending: list[Descriptor] = []
    for file_proto in schema.files.file:
        if file_proto.name.startswith("google/") or not file_proto.service:
            continue
        for service in schema.pool.FindFileByName(file_proto.name).services_by_name.values():
            for method in service.methods:
                pending.append(method.input_type)
                if not requests_only:
                    pending.append(method.output_type)
    seen: set[str] = set()
    while pending:
        descriptor = pending.pop()
        if descriptor.full_name in seen:
            continue
        seen.add(descriptor.full_name)
        pending.extend(f.message_type for f in descriptor.fields if _is_message(f))
    return {name for name in seen if not name.startswith("google.protobuf.")}


def _type_protos(
    files: descriptor_pb2.FileDescriptorSet,
) -> dict[str, tuple[Any, descriptor_pb2.FileDescriptorProto]]:
    """Every message and enum type by full name (no leading dot), with its file."""
    found: dict[str, tuple[Any, descriptor_pb2.FileDescriptorProto]] = {}
    for file_proto in files.file:
        prefix = f"{file_proto.package}." if file_proto.package else ""
        pending: list[tuple[str, Any]] = [(prefix + m.name, m) for m in file_proto.message_type]
        pending += [(prefix + e.name, e) for e in file_proto.enum_type]
        while pending:
            name, proto = pending.pop()
            found[name] = (proto, file_proto)
            if isinstance(proto, descriptor_pb2.DescriptorProto):
                pending += [(f"{name}.{m.name}", m) for m in proto.nested_type]
                pending += [(f"{name}.{e.name}", e) for e in proto.enum_type]
    return found


def _extensions_by_extendee(
    files: descriptor_pb2.FileDescriptorSet,
) -> dict[str, list[descriptor_pb2.FieldDescriptorProto]]:
    found: dict[str, list[descriptor_pb2.FieldDescriptorProto]] = {}
    for file_proto in files.file:
        extensions = list(file_proto.extension)
        pending = list(file_proto.message_type)
        while pending:
            message = pending.pop()
            extensions.extend(message.extension)
            pending.extend(message.nested_type)
        for extension in extensions:
            found.setdefault(extension.extendee.lstrip("."), []).append(extension)
    return found


def _wire_form(
    proto: Any,
    file_proto: descriptor_pb2.FileDescriptorProto,
    extensions: list[descriptor_pb2.FieldDescriptorProto],
    names: Names | None,
    json_names: bool = False,
) -> tuple[bytes, tuple[str, ...]]:
    """What the wire replay of a type depends on, as bytes; and the types it refers to. With
    `json_names`, what the JSON replay depends on: the fields' JSON names too."""
    copy = type(proto)()
    copy.CopyFrom(proto)
    refs: list[str] = []
    if isinstance(copy, descriptor_pb2.DescriptorProto):
        del copy.nested_type[:]
        del copy.enum_type[:]
        del copy.reserved_range[:]
        del copy.reserved_name[:]
        del copy.extension[:]
        copy.extension.extend(sorted(extensions, key=lambda e: e.number))
        for field in [*copy.field, *copy.extension]:
            if json_names:
                field.json_name = json_name(field)
            else:
                field.ClearField("json_name")
            if field.type_name:
                bare = field.type_name.lstrip(".")
                field.type_name = names.current(bare) if names else bare
                refs.append(field.type_name)
            if field.extendee:
                field.ClearField("extendee")
    else:
        del copy.reserved_range[:]
        del copy.reserved_name[:]
    context = descriptor_pb2.FileDescriptorProto(syntax=file_proto.syntax)
    if file_proto.HasField("edition"):
        context.edition = file_proto.edition
    if file_proto.options.HasField("features"):
        context.options.features.CopyFrom(file_proto.options.features)
    return context.SerializeToString() + b"\0" + copy.SerializeToString(deterministic=True), tuple(
        refs
    )


def identical_messages(
    baseline: descriptor_pb2.FileDescriptorSet,
    current: descriptor_pb2.FileDescriptorSet,
    names: Names,
    *,
    json_names: bool = False,
) -> set[str]:
    """Baseline message names whose whole transitive structure is the same in `current` (with
    `json_names`, their JSON names too)."""
    old_types, new_types = _type_protos(baseline), _type_protos(current)
    old_ext, new_ext = _extensions_by_extendee(baseline), _extensions_by_extendee(current)
    new_forms = {
        name: _wire_form(proto, file_proto, new_ext.get(name, []), None, json_names)[0]
        for name, (proto, file_proto) in new_types.items()
    }
    differs: set[str] = set()
    users: dict[str, list[str]] = {}
    for name, (proto, file_proto) in old_types.items():
        mapped = names.current(name)
        form, refs = _wire_form(proto, file_proto, old_ext.get(name, []), names, json_names)
        if new_forms.get(mapped) != form:
            differs.add(name)
        for ref in refs:
            users.setdefault(ref, []).append(name)
    # Everything that reaches a differing type differs too (walk the users backwards).
    pending = list(differs)
    while pending:
        name = pending.pop()
        for user in users.get(names.current(name), ()):
            if user not in differs:
                differs.add(user)
                pending.append(user)
    return {
        name
        for name, (proto, _) in old_types.items()
        if isinstance(proto, descriptor_pb2.DescriptorProto) and name not in differs
    }


def _refusal(schema: Schema, name: str) -> str | None:
    for refused, reason in schema.refused.items():
        if name == refused or name.startswith(refused + "."):
            return reason
    return None


def _record(
    label: str, direction: str, name: str, outcome: str, samples: int, fields: Any
) -> ReplayResult:
    return ReplayResult(
        baseline=label,
        direction=direction,  # type: ignore[arg-type]
        message=name,
        outcome=outcome,
        samples=samples,
        fields=tuple(fields),
    )


DIRECTIONS: tuple[Direction, Direction] = ("old_to_new", "new_to_old")


def replay(baseline: Schema, current: Schema, names: Names, label: str) -> ReplayRun:
    """Both directions for every message of the baseline that the current schema still has."""
    old_types, new_types = _type_protos(baseline.files), _type_protos(current.files)
    to_current = {
        name: names.current(name)
        for name, (proto, _) in old_types.items()
        if isinstance(proto, descriptor_pb2.DescriptorProto)
        and not proto.options.map_entry
        and not name.startswith("google.protobuf.")
    }
    identical = identical_messages(baseline.files, current.files, names)
    requests = reachable_messages(current, requests_only=True)
    engine = _Engine(
        baseline,
        current,
        lambda key: _old_of(key) in identical and names.current(_old_of(key)) == _new_of(key),
    )
    results: list[ReplayResult] = []
    wanted: list[tuple[str, str]] = []
    for old_name in sorted(to_current):
        name = to_current[old_name]
        if not isinstance(new_types.get(name, (None,))[0], descriptor_pb2.DescriptorProto):
            continue
        refused = _refusal(baseline, old_name) or _refusal(current, name)
        if refused is not None:
            why = ReplayField("", NOT_REPLAYABLE, f"the Python runtime refuses it: {refused}")
            for direction in DIRECTIONS:
                results.append(_record(label, direction, name, NOT_REPLAYABLE, 0, [why]))
            continue
        if old_name in identical:
            same = [
                ReplayField(f.name, IDENTICAL, "same structure in both schemas")
                for f in new_types[name][0].field
            ]
            for direction in DIRECTIONS:
                results.append(_record(label, direction, name, IDENTICAL, 0, same))
            continue
        wanted.append((old_name, name))
    keys = [_pair_key(d, old, new) for old, new in wanted for d in DIRECTIONS]
    engine.run(keys)
    hazard_fields: set[str] = set()
    for old_name, name in wanted:
        for direction in DIRECTIONS:
            key = _pair_key(direction, old_name, name)
            fields = engine.folded(key)
            if direction == "new_to_old" and name in requests:
                hazard_fields.update(
                    v.origin for v in fields.values() if v.outcome == IGNORED_BY_OLD
                )
            overall = _worst(fields.values())
            results.append(
                _record(
                    label,
                    direction,
                    name,
                    overall.outcome if overall else IDENTICAL,
                    engine.pairs[key].samples,
                    (ReplayField(n, v.outcome, v.detail) for n, v in fields.items()),
                )
            )
    results.sort(key=lambda r: (r.message, DIRECTIONS.index(r.direction)))
    breaking = frozenset(v.origin for v in engine.breaking)
    hazards = (Hazard(HAZARD_SERVERS_FIRST, tuple(sorted(hazard_fields))),) if hazard_fields else ()
    return ReplayRun(tuple(results), breaking, hazards)


def _old_of(key: PairKey) -> str:
    return key[1] if key[0] == "old_to_new" else key[2]


def _new_of(key: PairKey) -> str:
    return key[2] if key[0] == "old_to_new" else key[1]


def _pair_key(direction: Direction, old_name: str, new_name: str) -> PairKey:
    if direction == "old_to_new":
        return (direction, old_name, new_name)
    return (direction, new_name, old_name)


def _all_messages(schema: Schema) -> dict[str, Descriptor]:
    """Every message the schema's pool holds, by full name (refused ones are absent)."""
    found: dict[str, Descriptor] = {}
    pending: list[Descriptor] = []
    for file_proto in schema.files.file:
        try:
            file_desc = schema.pool.FindFileByName(file_proto.name)
        except KeyError:
            continue
        pending.extend(file_desc.message_types_by_name.values())
    while pending:
        descriptor = pending.pop()
        found[descriptor.full_name] = descriptor
        pending.extend(descriptor.nested_types)
    return found
