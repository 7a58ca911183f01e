"""JSON replay: samples written as JSON with one schema, parsed with the other, compared by field.

The writer is `json_format.MessageToJson` with its defaults (JSON names, fields without
presence omitted when at their default). The reader is `json_format.Parse` as a *tolerant*
reader, `ignore_unknown_fields=True`. protobuf's ProtoJSON spec lets a parser reject unknown
fields by default but provide an option to ignore them; a strict reader turns every added
field into a forward break, which contradicts protobuf's own rule that adding a field is safe,
so a reader that takes part in schema evolution is the tolerant one. The same option drops an
enum name the reader's enum does not have (the field then reads as its default). A value newer
than the reader (its number is not in the reader's enum) is ignored by an old reader as a newer
field is (IGNORED_BY_OLD, as on the binary wire); a value the reader knows by number under
another name, or one a newer reader no longer has, is lost, and the replay says so. A number
outside a *closed* enum is rejected by the parser whatever the option (Python's runtime, like
the C++ one).

A value is the same when protobuf's JSON reading keeps it: numbers by value (an int32 `7`
read as a double is `7.0`; an int64 above 2**53 read as a double is not), enums by name
against enums and by number against integers, strings and bytes only as themselves (a string
read as bytes is base64-decoded, so it is not the same), lists element by element, maps by
key, nested messages field by field. A field is identified as in the wire replay (by name,
else by number and type); its JSON key lands on the reader field of that JSON name, so a key
that lands nowhere is dropped (LOST) and one that lands on another field is CHANGED (or
MISROUTED when that field is the contract's space field). A required field the writer left
unset fails the parse, as it does on the wire (a conforming reader checks required fields).

Outcomes reuse the wire replay's names; every baseline message the current schema still has is
replayed in both directions, except those whose JSON form is identical in both schemas.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from toolkit.contract import SPACE_FIELD
from toolkit.documents.schema import Direction, ReplayField, ReplayResult
from toolkit.schema.diff import Names, json_name
from toolkit.schema.pool import Schema
from toolkit.schema.replay import (
    CHANGED,
    DIRECTIONS,
    IDENTICAL,
    IGNORED_BY_OLD,
    LOST,
    MISROUTED,
    NEW_FIELD_DEFAULT,
    NOT_REPLAYABLE,
    PARSE_ERROR,
    FieldOutcome,
    _fields,
    _is_map,
    _is_message,
    _key,
    _read_value,
    _refusal,
    _short,
    _type_protos,
    _worst,
    correspondence,
    identical_messages,
    unset_reads_as_unset,
)
from toolkit.schema.samples import build_samples

log = logging.getLogger(__name__)

F = FieldDescriptor
JSON_SAMPLE_DEPTH = 2  # nested messages are populated two levels and compared field by field
TOLERANT = True  # json_format.Parse(..., ignore_unknown_fields=TOLERANT): see the docstring
_NUMBERS = frozenset(
    {
        F.TYPE_INT32,
        F.TYPE_INT64,
        F.TYPE_UINT32,
        F.TYPE_UINT64,
        F.TYPE_SINT32,
        F.TYPE_SINT64,
        F.TYPE_FIXED32,
        F.TYPE_FIXED64,
        F.TYPE_SFIXED32,
        F.TYPE_SFIXED64,
        F.TYPE_FLOAT,
        F.TYPE_DOUBLE,
    }
)
_INTEGERS = _NUMBERS - {F.TYPE_FLOAT, F.TYPE_DOUBLE}


@dataclass(frozen=True)
class JsonRun:
    """The JSON replay records of one baseline (directions as in the wire replay)."""

    results: tuple[ReplayResult, ...]


def _enum_name(field: FieldDescriptor, number: int) -> str | None:
    value = field.enum_type.values_by_number.get(number)
    return value.name if value is not None else None


def json_equal(wf: FieldDescriptor, rf: FieldDescriptor, wv: Any, rv: Any) -> bool:
    """One scalar as the writer held it and as the JSON reader parsed it: the same value?"""
    w, r = wf.type, rf.type
    if w == F.TYPE_ENUM and r == F.TYPE_ENUM:
        return (_enum_name(wf, wv) or wv) == (_enum_name(rf, rv) or rv)
    if F.TYPE_ENUM in (w, r):
        other = r if w == F.TYPE_ENUM else w
        return other in _INTEGERS and wv == rv
    if w in _NUMBERS and r in _NUMBERS:
        return bool(wv == rv)
    if w != r and F.TYPE_BOOL in (w, r):
        return False
    if {w, r} == {F.TYPE_STRING, F.TYPE_BYTES}:
        return False
    return bool(w == r and wv == rv)


def _unnamed_detail(wf: FieldDescriptor, rf: FieldDescriptor, wv: Any) -> str | None:
    """Why a tolerant reader dropped an enum value: the reader's enum has no such name."""
    if wf.type != F.TYPE_ENUM or rf.type != F.TYPE_ENUM:
        return None
    items = list(wv) if wf.is_repeated else [wv]
    known = rf.enum_type.values_by_name
    names = sorted({n for n in (_enum_name(wf, v) for v in items) if n and n not in known})
    return f"enum value {','.join(names)} has no name in the reader" if names else None


def _newer_than_reader(wf: FieldDescriptor, rf: FieldDescriptor, wv: Any) -> bool:
    """Whether every enum value the reader dropped is one its enum never had (by number too):
    a value newer than the reader, which an old tolerant reader ignores as it ignores a field
    newer than itself. A value the reader knows under another name is not (a rename)."""
    if wf.type != F.TYPE_ENUM or rf.type != F.TYPE_ENUM:
        return False
    items = list(wv) if wf.is_repeated else [wv]
    known = rf.enum_type.values_by_name
    numbers = rf.enum_type.values_by_number
    dropped = [v for v in items if (_enum_name(wf, v) or "") not in known]
    return bool(dropped) and all(int(v) not in numbers for v in dropped)


class _JsonComparer:
    """Compares a written sample with what the JSON reader parsed, field by field, nested
    messages included."""

    def __init__(self, direction: Direction) -> None:
        self.direction = direction

    def landed(self, holder: str, origin: str, what: str) -> FieldOutcome:
        outcome = MISROUTED if holder == SPACE_FIELD else CHANGED
        return FieldOutcome(outcome, f"{what} read as {holder}", origin, breaking=True)

    def compare(self, writer: Message, reader: Message) -> dict[str, FieldOutcome]:
        wd, rd = writer.DESCRIPTOR, reader.DESCRIPTOR
        pairs = correspondence(wd, rd)
        w_fields, r_fields = _fields(wd), _fields(rd)
        r_ext = {f.full_name: f for f in r_fields if f.is_extension}
        for field in w_fields:
            if field.is_extension and field.full_name in r_ext:
                pairs[_key(field)] = _key(r_ext[field.full_name])
        r_by_key = {_key(f): f for f in r_fields}
        r_by_json = {f.json_name: f for f in rd.fields}
        written = {_key(f): v for f, v in writer.ListFields()}
        read = {_key(f): v for f, v in reader.ListFields()}
        out: dict[str, FieldOutcome] = {}
        claimed: set[str] = set()  # reader fields a writer field's key landed on
        for wf in w_fields:
            name = _key(wf)
            origin = f"{wd.full_name}.{name}"
            rf = r_by_key.get(pairs.get(name, ""))
            if wf.is_extension:
                landing = r_ext.get(wf.full_name)
            else:
                landing = r_by_json.get(wf.json_name) or rd.fields_by_name.get(wf.json_name)
            if landing is not None and name in written:
                claimed.add(_key(landing))
            if name not in written:
                out[name] = self.unset(wf, writer, reader, rf, read, origin)
                continue
            if landing is None:
                if rf is None:
                    outcome = IGNORED_BY_OLD if self.direction == "new_to_old" else LOST
                    out[name] = FieldOutcome(outcome, f"unknown JSON name {wf.json_name}", origin)
                else:
                    out[name] = FieldOutcome(
                        LOST, f"JSON name {wf.json_name} unknown to the reader", origin, True
                    )
                continue
            if rf is None or landing is not rf:
                out[name] = self.landed(landing.name, origin, f"JSON name {wf.json_name}")
                continue
            out[name] = self.compare_field(wf, rf, written[name], reader, read, origin)
            if rf.is_required and not wf.is_required and not out[name].breaking:
                out[name] = FieldOutcome(
                    PARSE_ERROR, "optional when written, required when read", origin, True
                )
        paired = set(pairs.values())
        for rf in r_fields:
            name = _key(rf)
            if name in paired:
                continue
            origin = f"{rd.full_name}.{name}"
            if name in read and name not in claimed:
                out[name] = FieldOutcome(CHANGED, "set by no field of the writer", origin, True)
            elif name not in read and rf.is_required:
                out[name] = FieldOutcome(
                    PARSE_ERROR, "required field missing: the parse fails", origin, True
                )
            elif name not in claimed:
                out[name] = FieldOutcome(NEW_FIELD_DEFAULT, "reads as default", origin)
        return out

    def unset(
        self,
        wf: FieldDescriptor,
        writer: Message,
        reader: Message,
        rf: FieldDescriptor | None,
        read: dict[str, Any],
        origin: str,
    ) -> FieldOutcome:
        if rf is None:
            return FieldOutcome(IDENTICAL, "not set", origin)
        if rf.is_required and not rf.is_extension and _key(rf) not in read:
            return FieldOutcome(
                PARSE_ERROR, "required field missing: the parse fails", origin, True
            )
        if _key(rf) in read and not wf.is_repeated and not _is_message(wf):
            value = read[_key(rf)]
            if not (_is_message(rf) or rf.is_repeated) and value == rf.default_value:
                pass  # presence without content: the reader sees its default either way
            else:
                return FieldOutcome(CHANGED, "holds another field's value", origin, True)
        if unset_reads_as_unset(wf, rf):
            return FieldOutcome(IDENTICAL, "not set", origin)
        wv, rv = _read_value(writer, wf), _read_value(reader, rf)
        if json_equal(wf, rf, wv, rv):
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
        origin: str,
    ) -> FieldOutcome:
        r_name = _key(rf)
        if r_name not in read:
            if not (_is_message(rf) or rf.is_repeated or _is_message(wf) or wf.is_repeated):
                rv = _read_value(reader, rf)  # presence is not kept: compare the values
                if json_equal(wf, rf, wv, rv):
                    return FieldOutcome(IDENTICAL, "same value", origin)
            unnamed = _unnamed_detail(wf, rf, wv)
            if unnamed and self.direction == "new_to_old" and _newer_than_reader(wf, rf, wv):
                return FieldOutcome(IGNORED_BY_OLD, unnamed, origin)
            return FieldOutcome(CHANGED, unnamed or "reads as default", origin, breaking=True)
        rv = read[r_name]
        if _is_map(wf) or _is_map(rf):
            return self.compare_map(wf, rf, wv, rv, origin)
        if _is_message(wf) != _is_message(rf) or wf.is_repeated != rf.is_repeated:
            return FieldOutcome(CHANGED, f"read as {_short(rv)}", origin, breaking=True)
        w_items = list(wv) if wf.is_repeated else [wv]
        r_items = list(rv) if rf.is_repeated else [rv]
        if len(w_items) != len(r_items):
            unnamed = _unnamed_detail(wf, rf, wv)
            if unnamed and self.direction == "new_to_old" and _newer_than_reader(wf, rf, wv):
                return FieldOutcome(IGNORED_BY_OLD, unnamed, origin)
            detail = unnamed or f"{len(w_items)} items read as {len(r_items)}"
            outcome = LOST if len(r_items) < len(w_items) else CHANGED
            return FieldOutcome(outcome, detail, origin, breaking=True)
        for w_item, r_item in zip(w_items, r_items, strict=True):
            found = self.compare_value(wf, rf, w_item, r_item, origin)
            if found.outcome != IDENTICAL:
                return found
        return FieldOutcome(IDENTICAL, "same value", origin)

    def compare_value(
        self, wf: FieldDescriptor, rf: FieldDescriptor, wv: Any, rv: Any, origin: str
    ) -> FieldOutcome:
        if _is_message(wf):
            worst = _worst(self.compare(wv, rv).values())
            if worst is None or worst.outcome in (IDENTICAL, NEW_FIELD_DEFAULT, IGNORED_BY_OLD):
                return FieldOutcome(IDENTICAL, "same value", origin)
            return FieldOutcome(
                worst.outcome, f"{wf.name}: {worst.detail}", worst.origin, worst.breaking
            )
        if json_equal(wf, rf, wv, rv):
            return FieldOutcome(IDENTICAL, "same value", origin)
        return FieldOutcome(CHANGED, f"{_short(wv)} read as {_short(rv)}", origin, True)

    def compare_map(
        self, wf: FieldDescriptor, rf: FieldDescriptor, wv: Any, rv: Any, origin: str
    ) -> FieldOutcome:
        if not (_is_map(wf) and _is_map(rf)):
            return FieldOutcome(CHANGED, "map read as non-map", origin, breaking=True)
        w_key = wf.message_type.fields_by_name["key"]
        r_key = rf.message_type.fields_by_name["key"]
        w_value = wf.message_type.fields_by_name["value"]
        r_value = rf.message_type.fields_by_name["value"]
        if len(wv) != len(rv):
            return FieldOutcome(LOST, f"{len(wv)} keys read as {len(rv)}", origin, True)
        for key in wv:
            match = next((k for k in rv if json_equal(w_key, r_key, key, k)), None)
            if match is None:
                return FieldOutcome(CHANGED, f"key {_short(key)} differs", origin, True)
            found = self.compare_value(w_value, r_value, wv[key], rv[match], origin)
            if found.outcome != IDENTICAL:
                return found
        return FieldOutcome(IDENTICAL, "same value", origin)


def _parse(reader_cls: type[Message], document: dict[str, Any]) -> Message:
    reader = reader_cls()
    json_format.ParseDict(document, reader, ignore_unknown_fields=TOLERANT)
    return reader


def _writer_field(descriptor: Descriptor, key: str) -> FieldDescriptor | None:
    for field in _fields(descriptor):
        if (f"[{field.full_name}]" if field.is_extension else field.json_name) == key:
            return field
    return None


def _blame(
    sample: Message, document: dict[str, Any], reader_cls: type[Message], error: Exception
) -> tuple[dict[str, FieldOutcome], Message | None, Message | None]:
    """A parse that fails: the fields whose JSON fails on its own are PARSE_ERROR; the rest is
    parsed without them (returned with the sample cut to match). Only the combination failing
    (two members of one oneof): every field shares the blame."""
    descriptor = sample.DESCRIPTOR
    blamed: dict[str, FieldOutcome] = {}
    for key, value in document.items():
        try:
            _parse(reader_cls, {key: value})
        except (json_format.ParseError, ValueError, TypeError) as exc:
            field = _writer_field(descriptor, key)
            name = _key(field) if field is not None else key
            origin = f"{descriptor.full_name}.{name}"
            blamed[name] = FieldOutcome(PARSE_ERROR, _short_error(exc), origin, True)
    rest = {k: v for k, v in document.items() if _writer_field_key(descriptor, k) not in blamed}
    if blamed:
        cut = type(sample)()
        cut.CopyFrom(sample)
        for field, _ in sample.ListFields():
            if _key(field) in blamed:
                if field.is_extension:
                    cut.ClearExtension(field)
                else:
                    cut.ClearField(field.name)
        try:
            return blamed, cut, _parse(reader_cls, rest)
        except (json_format.ParseError, ValueError, TypeError) as exc:
            error = exc
    shared = {
        _key(field): FieldOutcome(
            PARSE_ERROR, _short_error(error), f"{descriptor.full_name}.{_key(field)}", True
        )
        for field, _ in sample.ListFields()
    }
    return {**shared, **blamed}, None, None


def _writer_field_key(descriptor: Descriptor, key: str) -> str:
    field = _writer_field(descriptor, key)
    return _key(field) if field is not None else key


def _short_error(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def replay_json_pair(
    writer_cls: type[Message],
    reader_cls: type[Message],
    direction: Direction,
    max_depth: int = JSON_SAMPLE_DEPTH,
) -> tuple[dict[str, FieldOutcome], int]:
    """Per field of the writer's message, the worst JSON outcome over all samples."""
    comparer = _JsonComparer(direction)
    worst: dict[str, FieldOutcome] = {}
    samples = build_samples(writer_cls, max_depth=max_depth)
    for sample in samples:
        try:
            document = json.loads(json_format.MessageToJson(sample))
        except (json_format.SerializeToJsonError, ValueError) as exc:
            log.debug("sample of %s has no JSON form: %s", writer_cls.DESCRIPTOR.full_name, exc)
            continue
        outcomes: dict[str, FieldOutcome]
        try:
            outcomes = comparer.compare(sample, _parse(reader_cls, document))
        except (json_format.ParseError, ValueError, TypeError) as exc:
            outcomes, cut, parsed = _blame(sample, document, reader_cls, exc)
            if cut is not None and parsed is not None:
                outcomes = {**comparer.compare(cut, parsed), **outcomes}
        for name, outcome in outcomes.items():
            if name not in worst or outcome.worse_than(worst[name]):
                worst[name] = outcome
    return worst, len(samples)


def _json_refused(schema: Schema) -> dict[str, str]:
    """Files the runtime holds without their JSON names (see `Schema`): their JSON is not
    what protoc declared, so their messages are not JSON-replayable."""
    refused: dict[str, str] = {}
    for file_proto in schema.files.file:
        try:
            file_desc = schema.pool.FindFileByName(file_proto.name)
        except KeyError:
            continue
        pending: list[tuple[descriptor_pb2.DescriptorProto, Descriptor]] = []
        for message in file_proto.message_type:
            if message.name in file_desc.message_types_by_name:
                pending.append((message, file_desc.message_types_by_name[message.name]))
        while pending:
            proto, desc = pending.pop()
            for field in proto.field:
                held = desc.fields_by_name.get(field.name)
                if held is not None and held.json_name != json_name(field):
                    refused[file_proto.name] = (
                        f"the Python runtime refuses its JSON names ({field.name})"
                    )
            for nested in proto.nested_type:
                if nested.name in desc.nested_types_by_name:
                    pending.append((nested, desc.nested_types_by_name[nested.name]))
    return refused


def _record(
    label: str, direction: Direction, name: str, outcome: str, samples: int, fields: Iterable[Any]
) -> ReplayResult:
    return ReplayResult(
        baseline=label,
        direction=direction,
        message=name,
        outcome=outcome,
        samples=samples,
        fields=tuple(fields),
    )


def json_replay(baseline: Schema, current: Schema, names: Names, label: str) -> JsonRun:
    """Both directions in JSON for every message of the baseline the current schema has."""
    old_types, new_types = _type_protos(baseline.files), _type_protos(current.files)
    identical = identical_messages(baseline.files, current.files, names, json_names=True)
    refused_files = (_json_refused(baseline), _json_refused(current))
    results: list[ReplayResult] = []
    for old_name in sorted(old_types):
        proto, old_file = old_types[old_name]
        name = names.current(old_name)
        if (
            not isinstance(proto, descriptor_pb2.DescriptorProto)
            or proto.options.map_entry
            or old_name.startswith("google.protobuf.")
            or not isinstance(new_types.get(name, (None,))[0], descriptor_pb2.DescriptorProto)
        ):
            continue
        new_file = new_types[name][1]
        refused = (
            _refusal(baseline, old_name)
            or _refusal(current, name)
            or refused_files[0].get(old_file.name)
            or refused_files[1].get(new_file.name)
        )
        if refused is not None:
            why = ReplayField("", NOT_REPLAYABLE, f"not replayable in JSON: {refused}")
            for direction in DIRECTIONS:
                results.append(_record(label, direction, name, NOT_REPLAYABLE, 0, [why]))
            continue
        if old_name in identical:
            for direction in DIRECTIONS:
                results.append(_record(label, direction, name, IDENTICAL, 0, []))
            continue
        old_cls, new_cls = baseline.message(old_name), current.message(name)
        for direction in DIRECTIONS:
            writer, reader = (old_cls, new_cls) if direction == "old_to_new" else (new_cls, old_cls)
            try:
                fields, samples = replay_json_pair(writer, reader, direction)
            except Exception as exc:  # one message the runtime cannot handle, not the run
                log.debug("JSON replay of %s failed", name, exc_info=True)
                why = ReplayField("", NOT_REPLAYABLE, f"JSON replay failed: {exc}")
                results.append(_record(label, direction, name, NOT_REPLAYABLE, 0, [why]))
                continue
            overall = _worst(fields.values())
            results.append(
                _record(
                    label,
                    direction,
                    name,
                    overall.outcome if overall else IDENTICAL,
                    samples,
                    (ReplayField(n, v.outcome, v.detail) for n, v in fields.items()),
                )
            )
    return JsonRun(tuple(results))
