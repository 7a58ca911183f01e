"""Semantic wire replay: bytes written with one schema, read with the other, compared by name.

For every message reachable from an RPC, populated samples are encoded by the writer schema's
classes and decoded by the reader's. Python's protobuf (upb) does not always fail on a wire
mismatch: a value with the wrong wire type lands in the unknown-field set and the parse
"succeeds", so every field is compared and unknown fields count as lost data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import unknown_fields
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from toolkit.contract import HAZARD_SERVERS_FIRST, SPACE_FIELD
from toolkit.documents.schema import Direction, Hazard, ReplayField, ReplayResult
from toolkit.schema.diff import Names
from toolkit.schema.pool import Schema
from toolkit.schema.samples import build_samples

F = FieldDescriptor
IDENTICAL = "IDENTICAL"
NEW_FIELD_DEFAULT = "NEW_FIELD_DEFAULT"
IGNORED_BY_OLD = "IGNORED_BY_OLD"
LOST = "LOST"
CHANGED = "CHANGED"
PARSE_ERROR = "PARSE_ERROR"
MISROUTED = "MISROUTED"
# Worst last: a message's outcome is the worst outcome of any of its fields in any sample.
SEVERITY = (IDENTICAL, NEW_FIELD_DEFAULT, IGNORED_BY_OLD, LOST, CHANGED, PARSE_ERROR, MISROUTED)


@dataclass(frozen=True)
class Verdict:
    outcome: str
    detail: str
    origin: str  # the leaf element the outcome comes from, e.g. engram.v1.Memory.content
    breaking: bool = False

    def worse_than(self, other: Verdict) -> bool:
        return SEVERITY.index(self.outcome) > SEVERITY.index(other.outcome)


@dataclass(frozen=True)
class ReplayRun:
    """The replay records of one baseline, and the elements whose data broke on the way."""

    results: tuple[ReplayResult, ...]
    breaking_elements: frozenset[str]
    hazards: tuple[Hazard, ...]


def _worst(verdicts: Iterable[Verdict]) -> Verdict | None:
    worst: Verdict | None = None
    for verdict in verdicts:
        if worst is None or verdict.worse_than(worst):
            worst = verdict
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


def _scalar_equal(wf: FieldDescriptor, rf: FieldDescriptor, wv: Any, rv: Any) -> bool:
    if wf.type == F.TYPE_ENUM and rf.type == F.TYPE_ENUM:
        w_name = wf.enum_type.values_by_number.get(wv)
        r_name = rf.enum_type.values_by_number.get(rv)
        if w_name is not None and r_name is not None:
            return bool(w_name.name == r_name.name)
        # A number the reader has no name for is not the value the writer meant.
        return w_name is None and r_name is None and bool(wv == rv)
    if isinstance(wv, str) and isinstance(rv, bytes):
        return wv.encode() == rv
    if isinstance(wv, bytes) and isinstance(rv, str):
        return wv == rv.encode()
    return bool(wv == rv)


def _enum_values_unnamed(
    wf: FieldDescriptor, rf: FieldDescriptor, differing: list[tuple[Any, Any]]
) -> str | None:
    """The writer's enum value names the reader lacks, when that explains every difference."""
    if wf.type != F.TYPE_ENUM or rf.type != F.TYPE_ENUM:
        return None
    names = []
    for written, read in differing:
        value = wf.enum_type.values_by_number.get(written)
        if value is None or value.name in rf.enum_type.values_by_name or written != read:
            return None
        names.append(value.name)
    return ",".join(sorted(set(names)))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_message(field: FieldDescriptor) -> bool:
    return bool(field.type == F.TYPE_MESSAGE)


def _is_map(field: FieldDescriptor) -> bool:
    return bool(
        _is_message(field) and field.is_repeated and field.message_type.GetOptions().map_entry
    )


class _Comparer:
    def __init__(self, direction: Direction) -> None:
        self.direction = direction

    def landed(self, holder: str, origin: str, what: str) -> Verdict:
        outcome = MISROUTED if holder == SPACE_FIELD else CHANGED
        return Verdict(outcome, f"{what} read as {holder}", origin, breaking=True)

    def compare(self, writer: Message, reader: Message) -> dict[str, Verdict]:
        """One verdict per field of this level; nested differences fold into their field."""
        wd, rd = writer.DESCRIPTOR, reader.DESCRIPTOR
        pairs = correspondence(wd, rd)
        paired_readers = set(pairs.values())
        written = {f.name: v for f, v in writer.ListFields()}
        read = {f.name: v for f, v in reader.ListFields()}
        unknown = _unknown_numbers(reader)
        out: dict[str, Verdict] = {}
        for wf in wd.fields:
            origin = f"{wd.full_name}.{wf.name}"
            reader_name = pairs.get(wf.name)
            if wf.name not in written:
                if reader_name is not None and reader_name in read:
                    landed = self.landed(reader_name, origin, "")
                    out[wf.name] = Verdict(
                        landed.outcome, "holds another field's value", origin, True
                    )
                else:
                    out[wf.name] = Verdict(IDENTICAL, "not set", origin)
                continue
            if reader_name is None:
                holder = rd.fields_by_number.get(wf.number)
                if holder is not None and holder.name in read:
                    out[wf.name] = self.landed(holder.name, origin, f"field {wf.number}")
                elif self.direction == "new_to_old":
                    out[wf.name] = Verdict(IGNORED_BY_OLD, f"unknown field {wf.number}", origin)
                else:
                    out[wf.name] = Verdict(LOST, f"unknown field {wf.number}", origin)
                continue
            rf = rd.fields_by_name[reader_name]
            out[wf.name] = self.compare_field(wf, rf, written, read, unknown, origin)
        for rf in rd.fields:
            if rf.name in paired_readers:
                continue
            origin = f"{rd.full_name}.{rf.name}"
            if rf.name in read:
                source = wd.fields_by_number.get(rf.number)
                what = f"field {rf.number}" + (f" ({source.name})" if source else "")
                verdict = self.landed(rf.name, origin, what)
                out[rf.name] = Verdict(verdict.outcome, f"holds {what}", origin, breaking=True)
            else:
                out[rf.name] = Verdict(NEW_FIELD_DEFAULT, "reads as default", origin)
        return out

    def compare_field(
        self,
        wf: FieldDescriptor,
        rf: FieldDescriptor,
        written: dict[str, Any],
        read: dict[str, Any],
        unknown: set[int],
        origin: str,
    ) -> Verdict:
        wv = written[wf.name]
        if rf.name not in read:
            if wf.number in unknown:
                return Verdict(LOST, f"unknown field {wf.number}", origin, breaking=True)
            for name, value in read.items():
                if not _is_message(wf) and not wf.is_repeated and value == wv:
                    return self.landed(name, origin, "value")
            return Verdict(CHANGED, "reads as default", origin, breaking=True)
        rv = read[rf.name]
        if _is_map(wf) or _is_map(rf):
            return self.compare_map(wf, rf, wv, rv, origin)
        if _is_message(wf) and _is_message(rf):
            if wf.is_repeated != rf.is_repeated:
                return Verdict(CHANGED, "cardinality differs", origin, breaking=True)
            pairs = list(zip(wv, rv, strict=False)) if wf.is_repeated else [(wv, rv)]
            if wf.is_repeated and len(wv) != len(rv):
                return Verdict(CHANGED, f"{len(wv)} items read as {len(rv)}", origin, True)
            return self.fold(wf.name, [self.compare(w, r) for w, r in pairs], origin)
        if _is_message(wf) != _is_message(rf):
            return Verdict(CHANGED, f"read as {_short(rv)}", origin, breaking=True)
        w_items = list(wv) if wf.is_repeated else [wv]
        r_items = list(rv) if rf.is_repeated else [rv]
        if wf.is_repeated != rf.is_repeated or len(w_items) != len(r_items):
            return Verdict(CHANGED, f"{_short(wv)} read as {_short(rv)}", origin, breaking=True)
        differing = [
            (a, b) for a, b in zip(w_items, r_items, strict=True) if not _scalar_equal(wf, rf, a, b)
        ]
        if not differing:
            return Verdict(IDENTICAL, "same value", origin)
        unnamed = _enum_values_unnamed(wf, rf, differing)
        if unnamed and self.direction == "new_to_old":
            return Verdict(IGNORED_BY_OLD, f"enum value {unnamed} unknown to the reader", origin)
        if unnamed:
            return Verdict(CHANGED, f"enum value {unnamed} has no name in the reader", origin, True)
        return Verdict(CHANGED, f"{_short(wv)} read as {_short(rv)}", origin, breaking=True)

    def compare_map(
        self, wf: FieldDescriptor, rf: FieldDescriptor, wv: Any, rv: Any, origin: str
    ) -> Verdict:
        if not (_is_map(wf) and _is_map(rf)):
            return Verdict(CHANGED, "map read as non-map", origin, breaking=True)
        w_value = wf.message_type.fields_by_name["value"]
        r_value = rf.message_type.fields_by_name["value"]
        if set(wv.keys()) != set(rv.keys()):
            return Verdict(CHANGED, "map keys differ", origin, breaking=True)
        if _is_message(w_value) and _is_message(r_value):
            return self.fold(wf.name, [self.compare(wv[k], rv[k]) for k in wv], origin)
        if all(_scalar_equal(w_value, r_value, wv[k], rv[k]) for k in wv):
            return Verdict(IDENTICAL, "same value", origin)
        return Verdict(CHANGED, "map values differ", origin, breaking=True)

    def fold(self, name: str, levels: list[dict[str, Verdict]], origin: str) -> Verdict:
        nested = [
            Verdict(v.outcome, f"{name}.{field}: {v.detail}", v.origin, v.breaking)
            for level in levels
            for field, v in level.items()
        ]
        worst = _worst(v for v in nested if v.outcome != IDENTICAL)
        return worst or Verdict(IDENTICAL, "same value", origin)


def _parse_errors(
    sample: Message, reader_cls: type[Message], error: DecodeError, comparer: _Comparer
) -> dict[str, Verdict]:
    """Attribute a parse failure to the fields that cause it on their own; every other field
    is judged as it reads when sent alone."""
    descriptor = sample.DESCRIPTOR
    set_fields = [f for f, _ in sample.ListFields()]
    blamed: dict[str, Verdict] = {}
    alone_verdicts: dict[str, Verdict] = {}
    for field in set_fields:
        alone = type(sample)()
        alone.CopyFrom(sample)
        for other in set_fields:
            if other is not field:
                alone.ClearField(other.name)
        try:
            parsed = reader_cls.FromString(alone.SerializeToString())
        except DecodeError as exc:
            origin = f"{descriptor.full_name}.{field.name}"
            blamed[field.name] = Verdict(PARSE_ERROR, str(exc), origin, breaking=True)
            continue
        verdict = comparer.compare(alone, parsed).get(field.name)
        if verdict is not None:
            alone_verdicts[field.name] = verdict
    if blamed:
        return {**alone_verdicts, **blamed}
    # Only the combination fails: every field shares the blame.
    return {
        field.name: Verdict(
            PARSE_ERROR, str(error), f"{descriptor.full_name}.{field.name}", breaking=True
        )
        for field in set_fields
    }


def replay_message(
    writer_cls: type[Message], reader_cls: type[Message], direction: Direction
) -> tuple[list[tuple[str, Verdict]], list[Verdict], int]:
    """Per field, the worst verdict over all samples; plus every breaking verdict seen."""
    comparer = _Comparer(direction)
    worst: dict[str, Verdict] = {}
    breaking: list[Verdict] = []
    samples = build_samples(writer_cls)
    for sample in samples:
        try:
            verdicts = comparer.compare(sample, reader_cls.FromString(sample.SerializeToString()))
        except DecodeError as exc:
            verdicts = _parse_errors(sample, reader_cls, exc, comparer)
        for name, verdict in verdicts.items():
            if verdict.breaking:
                breaking.append(verdict)
            if name not in worst or verdict.worse_than(worst[name]):
                worst[name] = verdict
    return list(worst.items()), breaking, len(samples)


def reachable_messages(schema: Schema, *, requests_only: bool = False) -> set[str]:
    """Full names of messages reachable from any RPC's request (and response) type."""
    pending: list[Descriptor] = []
    for method in schema.methods():
        pending.append(method.request.DESCRIPTOR)
        if not requests_only:
            pending.append(method.response.DESCRIPTOR)
    seen: set[str] = set()
    while pending:
        descriptor = pending.pop()
        if descriptor.full_name in seen:
            continue
        if not descriptor.GetOptions().map_entry:
            seen.add(descriptor.full_name)
        pending.extend(f.message_type for f in descriptor.fields if _is_message(f))
    return {name for name in seen if not name.startswith("google.protobuf.")}


def replay(baseline: Schema, current: Schema, names: Names, label: str) -> ReplayRun:
    """Both directions for every message reachable from an RPC in either schema."""
    to_current = {name: names.current(name) for name in _all_messages(baseline)}
    to_baseline = {new: old for old, new in to_current.items()}
    wanted = reachable_messages(current) | {
        to_current[n] for n in reachable_messages(baseline) if n in to_current
    }
    requests = reachable_messages(current, requests_only=True)
    current_messages = _all_messages(current)
    results: list[ReplayResult] = []
    breaking: set[str] = set()
    hazard_fields: set[str] = set()
    for name in sorted(wanted):
        old_name = to_baseline.get(name)
        if old_name is None or name not in current_messages:
            continue
        old_cls, new_cls = baseline.message(old_name), current.message(name)
        for direction, writer, reader in (
            ("old_to_new", old_cls, new_cls),
            ("new_to_old", new_cls, old_cls),
        ):
            fields, broken, count = replay_message(writer, reader, direction)  # type: ignore[arg-type]
            breaking.update(v.origin for v in broken)
            if direction == "new_to_old" and name in requests:
                hazard_fields.update(v.origin for _, v in fields if v.outcome == IGNORED_BY_OLD)
            overall = _worst(v for _, v in fields)
            results.append(
                ReplayResult(
                    baseline=label,
                    direction=direction,  # type: ignore[arg-type]
                    message=name,
                    outcome=overall.outcome if overall else IDENTICAL,
                    samples=count,
                    fields=tuple(ReplayField(n, v.outcome, v.detail) for n, v in fields),
                )
            )
    hazards = (Hazard(HAZARD_SERVERS_FIRST, tuple(sorted(hazard_fields))),) if hazard_fields else ()
    return ReplayRun(tuple(results), frozenset(breaking), hazards)


def _all_messages(schema: Schema) -> set[str]:
    found: set[str] = set()

    def walk(descriptor: Descriptor) -> None:
        found.add(descriptor.full_name)
        for nested in descriptor.nested_types:
            walk(nested)

    for file_proto in schema.files.file:
        file_desc = schema.pool.FindFileByName(file_proto.name)
        for descriptor in file_desc.message_types_by_name.values():
            walk(descriptor)
    return found
