"""Descriptor diff: every change between a baseline and a current schema, each recorded as a
kind of `toolkit.schema.kinds` (which rates it per direction and encoding) and named by a
stable id (`<element>:<aspect>`, e.g. `engram.v1.ForgetRequest.memory_id:number`).

Fields are matched by name; a field whose name vanished while a new name appeared at the same
number with the same type is a rename. A renamed package maps the old names onto the new ones;
a message (or enum) that vanished while one of identical structure appeared, with every
reference following it, is a rename too. Reserved ranges are kept as ranges (`10 to max`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pb2 import FieldDescriptorProto as FDP

from toolkit.contract import SPACE_FIELD
from toolkit.documents.schema import Change, SourceLine
from toolkit.schema.elements import (
    WELL_KNOWN_PREFIX,
    Element,
    SchemaIndex,
    Span,
    build_index,
    span_of,
)
from toolkit.schema.kinds import KINDS, SAFE, change_of_kind

SCALAR_NAMES = {
    FDP.TYPE_DOUBLE: "double",
    FDP.TYPE_FLOAT: "float",
    FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64",
    FDP.TYPE_INT32: "int32",
    FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32",
    FDP.TYPE_BOOL: "bool",
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes",
    FDP.TYPE_UINT32: "uint32",
    FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64",
    FDP.TYPE_SINT32: "sint32",
    FDP.TYPE_SINT64: "sint64",
}
# Types whose encodings a reader of the other type still decodes (protobuf's wire rules).
WIRE_GROUPS = (
    {
        FDP.TYPE_INT32,
        FDP.TYPE_INT64,
        FDP.TYPE_UINT32,
        FDP.TYPE_UINT64,
        FDP.TYPE_BOOL,
        FDP.TYPE_ENUM,
    },
    {FDP.TYPE_SINT32, FDP.TYPE_SINT64},
    {FDP.TYPE_FIXED32, FDP.TYPE_SFIXED32},
    {FDP.TYPE_FIXED64, FDP.TYPE_SFIXED64},
    {FDP.TYPE_STRING, FDP.TYPE_BYTES},
)
# The values each integer type can carry; a reader keeps a value when the writer's range lies
# inside its own (an open enum carries any int32).
_I32, _I64 = (-(2**31), 2**31 - 1), (-(2**63), 2**63 - 1)
_U32, _U64 = (0, 2**32 - 1), (0, 2**64 - 1)
VALUE_RANGES: dict[int, tuple[int, int]] = {
    FDP.TYPE_INT32: _I32,
    FDP.TYPE_SINT32: _I32,
    FDP.TYPE_SFIXED32: _I32,
    FDP.TYPE_ENUM: _I32,
    FDP.TYPE_INT64: _I64,
    FDP.TYPE_SINT64: _I64,
    FDP.TYPE_SFIXED64: _I64,
    FDP.TYPE_UINT32: _U32,
    FDP.TYPE_FIXED32: _U32,
    FDP.TYPE_UINT64: _U64,
    FDP.TYPE_FIXED64: _U64,
    FDP.TYPE_BOOL: (0, 1),
}
# The width of each integer type on the wire: a 64-bit value read as 32 bits is truncated.
VALUE_BITS: dict[int, int] = {t: 64 if r[1] >= 2**32 else 32 for t, r in VALUE_RANGES.items()}
FIELD_NUMBER_MAX = 536_870_911  # `max` in a message's reserved range
ENUM_NUMBER_MAX = 2**31 - 1  # `max` in an enum's reserved range
LEGACY_REQUIRED = 3  # FeatureSet.FieldPresence
EXPLICIT, IMPLICIT = 1, 2
DELIMITED = 2  # FeatureSet.MessageEncoding
PACKED, EXPANDED = 1, 2  # FeatureSet.RepeatedFieldEncoding
OPEN = 1  # FeatureSet.EnumType

Ranges = tuple[tuple[int, int], ...]  # sorted, merged, [start, end) each


def merge_ranges(pairs: Iterator[tuple[int, int]] | list[tuple[int, int]]) -> Ranges:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(p for p in pairs if p[1] > p[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def in_ranges(ranges: Ranges, number: int) -> bool:
    return any(start <= number < end for start, end in ranges)


def subtract_ranges(a: Ranges, b: Ranges) -> Ranges:
    """The numbers of `a` that are not in `b`, as ranges (never enumerated)."""
    out: list[tuple[int, int]] = []
    for start, end in a:
        cursor = start
        for b_start, b_end in b:
            if b_end <= cursor or b_start >= end:
                continue
            if b_start > cursor:
                out.append((cursor, b_start))
            cursor = max(cursor, b_end)
        if cursor < end:
            out.append((cursor, end))
    return merge_ranges(out)


def render_ranges(ranges: Ranges, maximum: int) -> str:
    parts = []
    for start, end in ranges:
        last = end - 1
        if last == start:
            parts.append(str(start))
        else:
            parts.append(f"{start} to {'max' if last >= maximum else last}")
    return ",".join(parts)


def reserved_ranges(message: descriptor_pb2.DescriptorProto) -> Ranges:
    return merge_ranges([(r.start, r.end) for r in message.reserved_range])


def enum_reserved_ranges(enum: descriptor_pb2.EnumDescriptorProto) -> Ranges:
    # Enum reserved ranges are inclusive, message ones exclusive.
    return merge_ranges([(r.start, r.end + 1) for r in enum.reserved_range])


@dataclass(frozen=True)
class Names:
    """Maps baseline full names onto current ones: renamed packages first, then renamed
    messages and enums (both as prefixes, so nested names follow)."""

    packages: tuple[tuple[str, str], ...]
    types: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def _apply(pairs: tuple[tuple[str, str], ...], bare: str) -> str:
        best: tuple[str, str] | None = None
        for old, new in pairs:
            if (bare == old or bare.startswith(old + ".")) and (
                best is None or len(old) > len(best[0])
            ):
                best = (old, new)
        return best[1] + bare[len(best[0]) :] if best else bare

    def current(self, name: str) -> str:
        bare = self._apply(self.packages, name.lstrip("."))
        return self._apply(self.types, bare) if self.types else bare


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def json_name(field: FDP) -> str:
    return field.json_name or _camel(field.name)


def type_label(field: FDP, names: Names | None = None) -> str:
    if field.type_name:
        return names.current(field.type_name) if names else field.type_name.lstrip(".")
    return SCALAR_NAMES.get(field.type, "group")


def render_field(field: FDP) -> str:
    label = "repeated " if field.label == FDP.LABEL_REPEATED else ""
    if field.label == FDP.LABEL_REQUIRED:
        label = "required "
    if field.proto3_optional:
        label = "optional "
    return f"{label}{type_label(field)} {field.name} = {field.number}"


@cache
def _file_lines(path: Path) -> tuple[str, ...]:
    try:
        return tuple(path.read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        return ()


def source_line(element: Element | None, root: Path | None) -> SourceLine | None:
    """The element's declaration as its .proto file reads (a field's rendered declaration when
    the file is not at hand, e.g. an image baseline), with the declaration's span."""
    if element is None or element.line is None:
        return None
    span = span_of(element.span)
    columns = (span.column, span.end_line, span.end_column) if span else (None, None, None)
    lines = _file_lines(root / element.file) if root is not None else ()
    if 0 < element.line <= len(lines):
        return SourceLine(element.file, element.line, lines[element.line - 1].strip(), *columns)
    if isinstance(element.proto, FDP):
        return SourceLine(element.file, element.line, f"{render_field(element.proto)};", *columns)
    return None


def with_span(change: Change, span: Span | None) -> Change:
    """The change with the `column`, `end_line` and `end_column` of the declaration its `line`
    names (none of them unless the span starts on that line: no column beats a wrong one)."""
    if span is None or change.line is None or span.line != change.line:
        return change
    return replace(change, column=span.column, end_line=span.end_line, end_column=span.end_column)


def _oneof(message: descriptor_pb2.DescriptorProto, field: FDP) -> str | None:
    if not field.HasField("oneof_index") or field.proto3_optional:
        return None
    name: str = message.oneof_decl[field.oneof_index].name
    return name


def _oneof_members(message: descriptor_pb2.DescriptorProto) -> dict[str, frozenset[int]]:
    members: dict[str, set[int]] = {}
    for field in message.field:
        oneof = _oneof(message, field)
        if oneof is not None:
            members.setdefault(oneof, set()).add(field.number)
    return {name: frozenset(numbers) for name, numbers in members.items()}


def _features(field: FDP) -> descriptor_pb2.FeatureSet | None:
    """A field's editions features, None when it sets none (touching `options` on a field
    without them builds empty messages: the diff of a large schema asks this a lot)."""
    if not field.HasField("options") or not field.options.HasField("features"):
        return None
    return field.options.features


def is_required(field: FDP) -> bool:
    if field.label == FDP.LABEL_REQUIRED:
        return True
    features = _features(field)
    return features is not None and features.field_presence == LEGACY_REQUIRED


def _presence(field: FDP) -> str:
    features = _features(field)
    presence = features.field_presence if features is not None else 0
    if field.proto3_optional or presence == EXPLICIT:
        return "explicit"
    if presence == IMPLICIT:
        return "implicit"
    return "default"


def _delimited(field: FDP) -> bool:
    if field.type == FDP.TYPE_GROUP:
        return True
    features = _features(field)
    return bool(
        field.type == FDP.TYPE_MESSAGE
        and features is not None
        and features.message_encoding == DELIMITED
    )


def _packed(field: FDP) -> bool | None:
    if not field.HasField("options"):
        return None
    if field.options.HasField("packed"):
        return bool(field.options.packed)
    features = _features(field)
    encoding = features.repeated_field_encoding if features is not None else 0
    return {PACKED: True, EXPANDED: False}.get(encoding)


def _is_message_type(field: FDP) -> bool:
    return field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_GROUP)


# What a JSON reader of each number type keeps exactly: integers in its range (a double holds
# every integer up to 2**53; a float's 24-bit mantissa holds no integer type's whole range).
_JSON_INTEGERS: dict[int, tuple[int, int]] = {
    **{t: r for t, r in VALUE_RANGES.items() if t not in (FDP.TYPE_BOOL, FDP.TYPE_ENUM)},
    FDP.TYPE_DOUBLE: (-(2**53), 2**53),
    FDP.TYPE_FLOAT: (-(2**24), 2**24),
}
_FLOATS = frozenset({FDP.TYPE_FLOAT, FDP.TYPE_DOUBLE})


def json_keeps(writer: int, reader: int, reader_closed: bool = False) -> bool:
    """Whether every value of a `writer`-typed number field reads back as the same value in
    JSON from a `reader`-typed one (an open enum reads any int32 number; a closed one only its
    own; an enum writes names, which no number type reads; a float's or double's values are no
    integers, and a float written in its shortest form is another double)."""
    if writer == FDP.TYPE_ENUM or writer in _FLOATS or writer == FDP.TYPE_BOOL:
        return False
    if reader == FDP.TYPE_ENUM:
        low, high = _I32 if not reader_closed else (1, 0)
    elif reader in _JSON_INTEGERS:
        low, high = _JSON_INTEGERS[reader]
    else:
        return False
    w_low, w_high = VALUE_RANGES[writer]
    return low <= w_low and w_high <= high


_JSON_NUMBER_KINDS = {
    (True, True): "field_type_changed_json_safe",
    (True, False): "field_type_changed_json_widened",
    (False, True): "field_type_changed_json_narrowed",
    (False, False): "field_type_changed",
}


def type_change_kind(
    old: FDP,
    new: FDP,
    same_named_type: bool,
    closed: tuple[bool, bool] = (False, False),
    utf8_checked: tuple[bool, bool] = (True, True),
) -> str | None:
    """The change kind of a field's type change, None when the type did not change. `closed`:
    whether the old and the new field's enum (if any) is closed; `utf8_checked`: whether the
    old and the new side's strings are checked for UTF-8 (not in proto2)."""
    if _is_message_type(old) and _is_message_type(new):
        if not same_named_type:
            return "field_type_changed"
        return "field_encoding_changed" if _delimited(old) != _delimited(new) else None
    if old.type == new.type and (old.type != FDP.TYPE_ENUM or same_named_type):
        return None
    pair = {old.type, new.type}
    if _is_message_type(old) and new.type == FDP.TYPE_BYTES:
        return "field_type_message_to_bytes"
    if old.type == FDP.TYPE_BYTES and _is_message_type(new):
        return "field_type_bytes_to_message"
    if not any(pair <= group for group in WIRE_GROUPS):
        numbers = set(_JSON_INTEGERS) | {FDP.TYPE_ENUM}
        if pair <= numbers:  # misread bytes; JSON carries the number itself
            back = json_keeps(old.type, new.type, closed[1])
            fwd = json_keeps(new.type, old.type, closed[0])
            return _JSON_NUMBER_KINDS[(back, fwd)]
        return "field_type_changed"
    if pair == {FDP.TYPE_STRING, FDP.TYPE_BYTES}:
        if not utf8_checked[1 if new.type == FDP.TYPE_STRING else 0]:
            return "field_type_string_bytes_unchecked"
        return (
            "field_type_string_to_bytes"
            if old.type == FDP.TYPE_STRING
            else ("field_type_bytes_to_string")
        )
    if old.type == new.type == FDP.TYPE_ENUM:
        return "field_type_enum_changed"
    if FDP.TYPE_ENUM in pair and (closed[0] if old.type == FDP.TYPE_ENUM else closed[1]):
        # A closed enum keeps only the numbers it defines (the rest go to unknown fields).
        return (
            "field_type_int_to_closed_enum"
            if new.type == FDP.TYPE_ENUM
            else "field_type_closed_enum_to_int"
        )
    if FDP.TYPE_BOOL in pair:
        # bool and the integers share the varint; read by truth either way.
        return (
            "field_type_bool_widened" if old.type == FDP.TYPE_BOOL else ("field_type_bool_narrowed")
        )
    return _integer_change_kind(old.type, new.type)


def _integer_change_kind(old: int, new: int) -> str | None:
    """Integers of one wire group: the wire breaks only where a 64-bit writer meets a 32-bit
    reader (truncation; a change of sign carries the same bits), JSON wherever a writer's
    value lies outside the reader's range (or an enum name meets an integer)."""
    old_range, new_range = VALUE_RANGES[old], VALUE_RANGES[new]
    old_bits, new_bits = VALUE_BITS[old], VALUE_BITS[new]
    if FDP.TYPE_ENUM in (old, new):
        other, to_enum = (old, True) if new == FDP.TYPE_ENUM else (new, False)
        if VALUE_BITS[other] == 64:
            return "field_type_wide_int_to_enum" if to_enum else "field_type_enum_to_wide_int"
        if VALUE_RANGES[other] != _I32:
            return "field_type_enum_sign_changed"
        return "field_type_int_to_enum" if to_enum else "field_type_enum_to_int"
    if old_range == new_range:
        return None  # same values, same wire group (e.g. sfixed32 is int32-ranged)
    if new_range[0] <= old_range[0] and old_range[1] <= new_range[1]:
        return "field_type_widened"
    if old_range[0] <= new_range[0] and new_range[1] <= old_range[1]:
        return "field_type_narrowed"
    if old_bits == new_bits:
        return "field_type_sign_changed"
    return (
        "field_type_widened_sign_changed"
        if new_bits > old_bits
        else ("field_type_narrowed_sign_changed")
    )


def _structure(
    proto: descriptor_pb2.DescriptorProto | descriptor_pb2.EnumDescriptorProto,
    translate: Callable[[str], str],
) -> tuple[object, ...]:
    """What a message's (or enum's) bytes depend on: fields by number, type and label."""
    if isinstance(proto, descriptor_pb2.EnumDescriptorProto):
        return tuple(sorted((v.number, v.name) for v in proto.value))
    return tuple(
        sorted(
            (f.number, f.type, f.label, translate(f.type_name) if f.type_name else "")
            for f in proto.field
        )
    )


class _Differ:
    def __init__(
        self,
        baseline: SchemaIndex,
        current: SchemaIndex,
        label: str,
        baseline_files: descriptor_pb2.FileDescriptorSet | None = None,
        current_files: descriptor_pb2.FileDescriptorSet | None = None,
        roots: tuple[Path | None, Path | None] = (None, None),
        names: Names | None = None,
    ) -> None:
        self.old, self.new, self.label = baseline, current, label
        self.roots = roots
        self.names = names if names is not None else schema_names(baseline, current)
        self.syntax_old = _syntaxes(baseline_files)
        self.syntax_new = _syntaxes(current_files)
        self.files_old, self.files_new = baseline_files, current_files
        self.changes: list[Change] = []
        self._old_lined: SchemaIndex | None = None

    def _old_with_lines(self) -> SchemaIndex:
        """The baseline indexed with source lines: the given index when it has them (`check`
        indexes the baseline once, with lines), else built once and only when a change that
        may break needs its baseline declaration."""
        if self._old_lined is None:
            self._old_lined = (
                build_index(self.files_old)
                if self.files_old is not None and not self.old.by_line
                else self.old
            )
        return self._old_lined

    # --- recording -------------------------------------------------------------------------

    def _location(
        self, old_name: str | None, new_name: str | None
    ) -> tuple[str | None, int | None, Span | None]:
        """Where a change is in the CURRENT schema: the element, or its nearest survivor (or
        the file's package line), with the span of that declaration when it is known."""
        candidate = new_name or (self.names.current(old_name) if old_name else None)
        while candidate:
            element = self.new.elements.get(candidate)
            parent = self.new.elements.get(element.parent or "") if element is not None else None
            if element is not None and parent is not None and _is_map_entry(parent):
                candidate = parent.name  # a map entry's key or value: no line of its own
                continue
            if element is not None and _is_map_entry(element) and element.parent:
                # A map's entry is declared by its map field: a change inside it is there.
                holder = self.new.elements.get(element.parent)
                fields = getattr(holder.proto, "field", []) if holder is not None else []
                uses = [f.name for f in fields if f.type_name.lstrip(".") == candidate]
                if uses:
                    candidate = f"{element.parent}.{uses[0]}"
                    continue
            if element is not None:
                return element.file, element.line, span_of(element.span)
            candidate = candidate.rpartition(".")[0]
        if old_name and old_name in self.old.elements:
            file = self.old.elements[old_name].file
            if file in self.new.package_lines:
                package = span_of(self.new.package_spans.get(file))
                return file, self.new.package_lines[file], package
        return None, None, None

    def record(
        self,
        kind: str,
        element: str,
        message: str | None,
        *,
        aspect: str | None = None,
        before: str | None = None,
        after: str | None = None,
        old_name: str | None = None,
        new_name: str | None = None,
    ) -> None:
        file, line, span = self._location(old_name, new_name)
        new_element = self.new.elements.get(
            new_name or (self.names.current(old_name) if old_name else element)
        )
        old_element = self.old.elements.get(old_name or element)
        number = getattr(old_element.proto, "number", None) if old_element else None
        change = change_of_kind(
            kind,
            change_id=f"{element}:{aspect or KINDS[kind].aspect}",
            baseline=self.label,
            element=element,
            message=message,
            file=file,
            line=line,
            before=before,
            after=after,
            number=number if isinstance(number, int) else None,
        )
        # The report shows the declarations of changes that may break; only those pay for the
        # baseline's source lines.
        found = KINDS[kind]
        may_break = (found.backward, found.forward) != (SAFE, SAFE) or found.source != SAFE.wire
        old = self._old_with_lines() if may_break else self.old
        change = replace(
            change,
            before_source=source_line(old.elements.get(old_name or element), self.roots[0]),
            after_source=source_line(new_element, self.roots[1]),
        )
        self.changes.append(with_span(change, span))

    # --- walking ---------------------------------------------------------------------------

    def of_kind(self, index: SchemaIndex, kind: str) -> dict[str, Element]:
        translate = self.names.current if index is self.old else (lambda n: n)
        return {translate(e.name): e for e in index.elements.values() if e.kind == kind}

    def run(self) -> list[Change]:
        for file, old_package in sorted(self.old.packages.items()):
            new_package = self.new.packages.get(file)
            if new_package is not None and new_package != old_package:
                change = change_of_kind(
                    "package_changed",
                    change_id=f"{file}:package",
                    baseline=self.label,
                    element=file,
                    message=None,
                    file=file,
                    line=self.new.package_lines.get(file),
                    before=old_package,
                    after=new_package,
                )
                package = span_of(self.new.package_spans.get(file))
                self.changes.append(with_span(change, package))
        for old_type, new_type in self.names.types:
            renamed = self.new.elements[new_type]
            kind = "enum_renamed" if renamed.kind == "enum" else "message_renamed"
            old_full = self._old_by_translated_name(old_type)
            self.record(kind, old_full, None, before=old_full, after=new_type, new_name=new_type)
        old_messages = self.of_kind(self.old, "message")
        new_messages = self.of_kind(self.new, "message")
        for name in sorted(old_messages.keys() - new_messages.keys()):
            if not _is_map_entry(old_messages[name]):
                old = old_messages[name]
                self.record("message_removed", old.name, old.parent, old_name=old.name)
        for name in sorted(new_messages.keys() - old_messages.keys()):
            if not _is_map_entry(new_messages[name]):
                self.record("message_added", name, new_messages[name].parent, new_name=name)
        any_rename = bool(self.names.packages or self.names.types)
        for name in sorted(old_messages.keys() & new_messages.keys()):
            before, after = old_messages[name], new_messages[name]
            if _same_proto(before, after) and (not any_rename or self._unrenamed(before)):
                continue  # byte-identical declarations (nested ones are diffed on their own)
            self.diff_message(before, after)
        self.diff_enums()
        self.diff_services()
        self.diff_extensions()
        return self.changes

    def _unrenamed(self, message: Element) -> bool:
        """Whether no type the message's own fields refer to is renamed: then a byte-identical
        declaration has nothing to diff, as when nothing is renamed."""
        assert isinstance(message.proto, descriptor_pb2.DescriptorProto)
        return all(
            self.names.current(f.type_name) == f.type_name.lstrip(".")
            for f in message.proto.field
            if f.type_name
        )

    def _old_by_translated_name(self, translated: str) -> str:
        for element in self.old.elements.values():
            if self.names._apply(self.names.packages, element.name) == translated:
                return element.name
        return translated

    # --- messages and fields ---------------------------------------------------------------

    def diff_message(self, old: Element, new: Element) -> None:
        assert isinstance(old.proto, descriptor_pb2.DescriptorProto)
        assert isinstance(new.proto, descriptor_pb2.DescriptorProto)
        old_msg, new_msg = old.proto, new.proto
        old_fields = {f.name: f for f in old_msg.field}
        new_fields = {f.name: f for f in new_msg.field}
        renames = field_renames(old_msg, new_msg)
        oneof_renames = self.diff_oneofs(old, new)
        for name in sorted(old_fields.keys() & new_fields.keys()):
            self.diff_field(old, new, old_fields[name], new_fields[name], oneof_renames)
        for old_name, new_name in sorted(renames.items()):
            self.diff_renamed_field(
                old, new, old_fields[old_name], new_fields[new_name], oneof_renames
            )
        removed = old_fields.keys() - new_fields.keys() - renames.keys()
        added = new_fields.keys() - old_fields.keys() - set(renames.values())
        old_reserved_names = set(old_msg.reserved_name)
        new_reserved, new_reserved_names = reserved_ranges(new_msg), set(new_msg.reserved_name)
        for name in sorted(removed):
            field = old_fields[name]
            if is_required(field):
                kind = "field_removed_required"
            elif not in_ranges(new_reserved, field.number):
                kind = "field_removed"
            elif name not in new_reserved_names:
                kind = "field_removed_number_reserved"
            else:
                kind = "field_removed_reserved"
            self.record(
                kind,
                f"{old.name}.{name}",
                old.name,
                before=render_field(field),
                old_name=f"{old.name}.{name}",
            )
        old_by_number = {f.number: f for f in old_msg.field}
        old_json = {json_name(f): f for f in old_msg.field}
        old_reserved = reserved_ranges(old_msg)
        for name in sorted(added):
            field = new_fields[name]
            previous = old_by_number.get(field.number)
            if previous is not None or in_ranges(old_reserved, field.number):
                kind = "field_number_reused"
            elif json_name(field) in old_json or name in old_reserved_names:
                kind = "field_json_name_conflict"
            elif is_required(field):
                kind = "field_added_required"
            elif name == SPACE_FIELD:
                kind = "space_field_added"
            else:
                kind = "field_added"
            self.record(
                kind,
                f"{old.name}.{name}",
                old.name,
                before=render_field(previous) if previous is not None else None,
                after=render_field(field),
                new_name=f"{new.name}.{name}",
            )
        self.diff_reserved(old, new)

    def diff_oneofs(self, old: Element, new: Element) -> dict[str, str]:
        """Old oneof name -> new name for oneofs renamed with the same members."""
        assert isinstance(old.proto, descriptor_pb2.DescriptorProto)
        assert isinstance(new.proto, descriptor_pb2.DescriptorProto)
        old_members, new_members = _oneof_members(old.proto), _oneof_members(new.proto)
        renames: dict[str, str] = {}
        for name, numbers in sorted(old_members.items()):
            if name in new_members:
                continue
            for candidate, candidate_numbers in sorted(new_members.items()):
                if (
                    candidate not in old_members
                    and candidate_numbers == numbers
                    and candidate not in renames.values()
                ):
                    renames[name] = candidate
                    self.record(
                        "oneof_renamed", f"{old.name}.{name}", old.name,
                        before=name, after=candidate, old_name=old.name, new_name=new.name,
                    )  # fmt: skip
                    break
        return renames

    def diff_field(
        self,
        old_msg: Element,
        new_msg: Element,
        old: FDP,
        new: FDP,
        oneof_renames: dict[str, str],
    ) -> None:
        element = f"{old_msg.name}.{old.name}"
        where = {"old_name": element, "new_name": f"{new_msg.name}.{new.name}"}
        if old.number != new.number:
            self.record(
                "field_number_changed",
                element,
                old_msg.name,
                before=str(old.number),
                after=str(new.number),
                **where,
            )
        self._compare_field_shape(old_msg, new_msg, old, new, element, where, oneof_renames)
        if json_name(old) != json_name(new):
            # A JSON parser accepts a field's JSON name and its proto name (ProtoJSON).
            old_read = json_name(old) == new.name  # the new parser reads old JSON
            new_read = json_name(new) == old.name  # an old parser reads new JSON
            kind = "field_json_name_changed"
            if old_read and not new_read:
                kind = "field_json_name_changed_old_accepted"
            elif new_read and not old_read:
                kind = "field_json_name_changed_new_accepted"
            elif old_read and new_read:
                kind = "field_json_name_changed_both_accepted"
            self.record(
                kind,
                element,
                old_msg.name,
                before=json_name(old),
                after=json_name(new),
                **where,
            )

    def diff_renamed_field(
        self,
        old_msg: Element,
        new_msg: Element,
        old: FDP,
        new: FDP,
        oneof_renames: dict[str, str],
    ) -> None:
        element = f"{old_msg.name}.{old.name}"
        where = {"old_name": element, "new_name": f"{new_msg.name}.{new.name}"}
        kind = "field_renamed" if json_name(old) == json_name(new) else "field_renamed_json_changed"
        self.record(kind, element, old_msg.name, before=old.name, after=new.name, **where)
        self._compare_field_shape(old_msg, new_msg, old, new, element, where, oneof_renames)

    def _compare_field_shape(
        self,
        old_msg: Element,
        new_msg: Element,
        old: FDP,
        new: FDP,
        element: str,
        where: dict[str, str],
        oneof_renames: dict[str, str],
    ) -> None:
        assert isinstance(old_msg.proto, descriptor_pb2.DescriptorProto)
        assert isinstance(new_msg.proto, descriptor_pb2.DescriptorProto)
        message = old_msg.name
        same_named = type_label(old, self.names) == type_label(new, None)
        old_entry, new_entry = self._entry(old, self.old), self._entry(new, self.new)
        if old_entry is not None and new_entry is not None and old_entry.options.map_entry:
            # A map's entry is named after its field: a renamed map renames its entry.
            same_named |= bool(new_entry.options.map_entry) and _entry_fields(
                old_entry, self.names.current
            ) == _entry_fields(new_entry, lambda n: n.lstrip("."))
        closed = (self._field_enum_closed(old, self.old), self._field_enum_closed(new, self.new))
        checked = (
            _utf8_checked(old, self.syntax_old.get(old_msg.file, "proto3")),
            _utf8_checked(new, self.syntax_new.get(new_msg.file, "proto3")),
        )
        type_kind = self._map_change_kind(old, new) or type_change_kind(
            old, new, same_named, closed, checked
        )
        if type_kind == "field_type_changed":
            type_kind = self._equivalent_message_kind(old, new) or type_kind
        if type_kind in ("field_map_to_repeated", "field_repeated_to_map"):
            before = "map" if type_kind == "field_map_to_repeated" else type_label(old)
            after = "map" if type_kind == "field_repeated_to_map" else type_label(new)
            self.record(type_kind, element, message, before=before, after=after, **where)
            type_kind = None
        if type_kind is not None:
            if type_kind == "field_encoding_changed":
                before = "delimited" if _delimited(old) else "length-prefixed"
                after = "delimited" if _delimited(new) else "length-prefixed"
            else:
                before, after = type_label(old), type_label(new)
            self.record(type_kind, element, message, before=before, after=after, **where)
        old_repeated = old.label == FDP.LABEL_REPEATED
        new_repeated = new.label == FDP.LABEL_REPEATED
        if old_repeated != new_repeated:
            self.record(
                "field_made_repeated" if new_repeated else "field_made_singular",
                element,
                message,
                before="repeated" if old_repeated else "singular",
                after="repeated" if new_repeated else "singular",
                **where,
            )
        elif is_required(old) != is_required(new):
            self.record(
                "field_required_added" if is_required(new) else "field_required_removed",
                element,
                message,
                aspect="presence",
                before="required" if is_required(old) else "optional",
                after="required" if is_required(new) else "optional",
                **where,
            )
        elif _presence(old) != _presence(new) and not old_repeated:
            self.record(
                "field_presence_changed", element, message,
                before=_presence(old), after=_presence(new), **where,
            )  # fmt: skip
        if old_repeated and new_repeated and _packed(old) != _packed(new):
            self.record(
                "field_packed_changed", element, message,
                before=str(_packed(old)).lower(), after=str(_packed(new)).lower(), **where,
            )  # fmt: skip
        if old.default_value != new.default_value:
            self.record(
                "field_default_changed", element, message,
                before=old.default_value or "(none)", after=new.default_value or "(none)",
                **where,
            )  # fmt: skip
        self._compare_oneof(old_msg.proto, new_msg.proto, old, new, element, where, oneof_renames)

    def _field_enum_closed(self, field: FDP, index: SchemaIndex) -> bool:
        """Whether the enum `field` is of is closed (by the enum's own declaration)."""
        if field.type != FDP.TYPE_ENUM:
            return False
        element = index.elements.get(field.type_name.lstrip("."))
        if element is None or element.kind != "enum":
            return False
        syntaxes = self.syntax_old if index is self.old else self.syntax_new
        files = self.files_old if index is self.old else self.files_new
        return not self._enum_open(element, syntaxes, files)

    def _entry(self, field: FDP, index: SchemaIndex) -> descriptor_pb2.DescriptorProto | None:
        if field.type != FDP.TYPE_MESSAGE or field.label != FDP.LABEL_REPEATED:
            return None
        element = index.elements.get(field.type_name.lstrip("."))
        proto = element.proto if element is not None else None
        return proto if isinstance(proto, descriptor_pb2.DescriptorProto) else None

    def _equivalent_message_kind(self, old: FDP, new: FDP) -> str | None:
        """A message field whose type became another message of the same structure (fields
        by number, type, label and type): the same bytes; the same JSON if the JSON names
        match too. None when the structures differ."""
        if not (_is_message_type(old) and _is_message_type(new)) or old.type != new.type:
            return None
        if _delimited(old) != _delimited(new):
            return None
        old_el = self.old.elements.get(old.type_name.lstrip("."))
        new_el = self.new.elements.get(new.type_name.lstrip("."))
        if old_el is None or new_el is None:
            return None
        old_type, new_type = old_el.proto, new_el.proto
        if not (
            isinstance(old_type, descriptor_pb2.DescriptorProto)
            and isinstance(new_type, descriptor_pb2.DescriptorProto)
        ):
            return None
        if old_type.options.map_entry or new_type.options.map_entry:
            return None
        if _structure(old_type, self.names.current) != _structure(
            new_type, lambda n: n.lstrip(".")
        ):
            return None
        json_names = [
            sorted((f.number, json_name(f)) for f in t.field) for t in (old_type, new_type)
        ]
        same_json = json_names[0] == json_names[1]
        return "field_type_message_equivalent" if same_json else "field_type_message_same_wire"

    def _map_change_kind(self, old: FDP, new: FDP) -> str | None:
        """A map that became a repeated entry message (`key = 1`, `value = 2` of the map's
        types), or the reverse: protobuf's wire form of a map."""
        old_entry, new_entry = self._entry(old, self.old), self._entry(new, self.new)
        if old_entry is None or new_entry is None:
            return None
        if bool(old_entry.options.map_entry) == bool(new_entry.options.map_entry):
            return None

        shape = _entry_fields
        if shape(old_entry, self.names.current) != shape(new_entry, lambda n: n.lstrip(".")):
            return None
        if {f.name for f in old_entry.field} != {"key", "value"}:
            return None
        return "field_map_to_repeated" if old_entry.options.map_entry else "field_repeated_to_map"

    def _compare_oneof(
        self,
        old_msg: descriptor_pb2.DescriptorProto,
        new_msg: descriptor_pb2.DescriptorProto,
        old: FDP,
        new: FDP,
        element: str,
        where: dict[str, str],
        oneof_renames: dict[str, str],
    ) -> None:
        old_oneof, new_oneof = _oneof(old_msg, old), _oneof(new_msg, new)
        translated = oneof_renames.get(old_oneof, old_oneof) if old_oneof else None
        if translated == new_oneof:
            return
        message = element.rpartition(".")[0]
        # Which surviving fields can be set together, before and after: writers of one side
        # may set two fields the other side's oneof holds, and that reader keeps only the last.
        matched = {
            f.name: f.name for f in old_msg.field if f.name in {g.name for g in new_msg.field}
        }
        matched.update(field_renames(old_msg, new_msg))
        old_by_name = {f.name: f for f in old_msg.field}
        new_by_name = {f.name: f for f in new_msg.field}

        def together_in_new(old_name: str) -> bool:
            return (
                new_oneof is not None
                and _oneof(new_msg, new_by_name[matched[old_name]]) == new_oneof
            )

        partners = [n for n in matched if n != old.name]
        # Backward: a pair old writers could both set, now sharing a oneof.
        backward = any(
            together_in_new(n)
            and (old_oneof is None or _oneof(old_msg, old_by_name[n]) != old_oneof)
            for n in partners
        )
        # Forward: a former sibling new writers can now set beside it.
        forward = any(
            old_oneof is not None
            and _oneof(old_msg, old_by_name[n]) == old_oneof
            and not together_in_new(n)
            for n in partners
        )
        kind = {
            (False, False): "field_moved_into_new_oneof",
            (True, False): "field_moved_into_oneof",
            (False, True): "field_moved_out_of_oneof",
            (True, True): "field_oneof_changed",
        }[(backward, forward)]
        self.record(kind, element, message, before=old_oneof, after=new_oneof, **where)

    def diff_reserved(self, old: Element, new: Element) -> None:
        assert isinstance(old.proto, descriptor_pb2.DescriptorProto)
        assert isinstance(new.proto, descriptor_pb2.DescriptorProto)
        where = {"old_name": old.name, "new_name": new.name}
        for kind, before, after in _reserved_changes(
            reserved_ranges(old.proto),
            reserved_ranges(new.proto),
            set(old.proto.reserved_name),
            set(new.proto.reserved_name),
            FIELD_NUMBER_MAX,
        ):
            self.record(kind, old.name, old.name, before=before, after=after, **where)

    # --- enums -----------------------------------------------------------------------------

    def _enum_open(
        self,
        element: Element,
        syntaxes: dict[str, str],
        files: descriptor_pb2.FileDescriptorSet | None = None,
    ) -> bool:
        """Open unless proto2, or editions `enum_type = CLOSED` on the enum or its file."""
        proto = element.proto
        assert isinstance(proto, descriptor_pb2.EnumDescriptorProto)
        if proto.options.features.enum_type:
            return bool(proto.options.features.enum_type == OPEN)
        if files is not None:
            for file_proto in files.file:
                if file_proto.name == element.file and file_proto.options.features.enum_type:
                    return bool(file_proto.options.features.enum_type == OPEN)
        return syntaxes.get(element.file, "proto3") != "proto2"

    def diff_enums(self) -> None:
        old_enums, new_enums = self.of_kind(self.old, "enum"), self.of_kind(self.new, "enum")
        for name in sorted(old_enums.keys() - new_enums.keys()):
            enum = old_enums[name]
            self.record("enum_removed", enum.name, enum.message, old_name=enum.name)
        for name in sorted(new_enums.keys() - old_enums.keys()):
            self.record("enum_added", name, new_enums[name].message, new_name=name)
        for name in sorted(old_enums.keys() & new_enums.keys()):
            self.diff_enum(old_enums[name], new_enums[name])

    def diff_enum(self, old: Element, new: Element) -> None:
        assert isinstance(old.proto, descriptor_pb2.EnumDescriptorProto)
        assert isinstance(new.proto, descriptor_pb2.EnumDescriptorProto)
        old_values = {v.name: v for v in old.proto.value}
        new_values = {v.name: v for v in new.proto.value}
        new_by_number: dict[int, descriptor_pb2.EnumValueDescriptorProto] = {}
        for value in new.proto.value:
            new_by_number.setdefault(value.number, value)
        reserved = enum_reserved_ranges(new.proto)
        reserved_names = set(new.proto.reserved_name)
        is_open = self._enum_open(new, self.syntax_new, self.files_new)
        for name in sorted(old_values.keys() & new_values.keys()):
            before, after = old_values[name].number, new_values[name].number
            if before != after:
                self.record(
                    "enum_value_number_changed", f"{old.name}.{name}", old.message,
                    before=str(before), after=str(after),
                    old_name=f"{old.name}.{name}", new_name=f"{new.name}.{name}",
                )  # fmt: skip
        renamed_to: set[str] = set()
        for name in sorted(old_values.keys() - new_values.keys()):
            value = old_values[name]
            element = f"{old.name}.{name}"
            successor = new_by_number.get(value.number)
            if successor is not None and successor.name not in old_values:
                renamed_to.add(successor.name)
                self.record(
                    "enum_value_renamed", element, old.message,
                    before=name, after=successor.name,
                    old_name=element, new_name=f"{new.name}.{successor.name}",
                )  # fmt: skip
                continue
            if successor is not None:
                continue  # another name of the same number survives (an alias)
            if not in_ranges(reserved, value.number):
                kind = "enum_value_removed"
            elif not is_open:
                kind = "enum_value_removed_closed"
            elif name not in reserved_names:
                kind = "enum_value_removed_number_reserved"
            else:
                kind = "enum_value_removed_reserved"
            self.record(
                kind, element, old.message, before=f"{name} = {value.number}", old_name=element
            )
        old_open = self._enum_open(old, self.syntax_old, self.files_old)
        for name in sorted(new_values.keys() - old_values.keys() - renamed_to):
            value = new_values[name]
            kind = "enum_value_added" if old_open else "enum_value_added_closed"
            self.record(
                kind, f"{old.name}.{name}", old.message,
                after=f"{name} = {value.number}", new_name=f"{new.name}.{name}",
            )  # fmt: skip
        for kind, before, after in _reserved_changes(
            enum_reserved_ranges(old.proto),
            reserved,
            set(old.proto.reserved_name),
            reserved_names,
            ENUM_NUMBER_MAX,
        ):
            self.record(
                kind, old.name, old.message, before=before, after=after,
                old_name=old.name, new_name=new.name,
            )  # fmt: skip

    # --- services --------------------------------------------------------------------------

    def diff_services(self) -> None:
        old_services = self.of_kind(self.old, "service")
        new_services = self.of_kind(self.new, "service")
        for name in sorted(old_services.keys() - new_services.keys()):
            old = old_services[name]
            proto = old.proto
            assert isinstance(proto, descriptor_pb2.ServiceDescriptorProto)
            kind = "service_removed" if proto.method else "service_removed_empty"
            self.record(kind, old.name, None, old_name=old.name)
        for name in sorted(new_services.keys() - old_services.keys()):
            self.record("service_added", name, None, new_name=name)
        old_rpcs, new_rpcs = self.of_kind(self.old, "rpc"), self.of_kind(self.new, "rpc")
        for name in sorted(old_rpcs.keys() - new_rpcs.keys()):
            old = old_rpcs[name]
            if self.names.current(old.parent or "") in new_services:
                self.record("rpc_removed", old.name, None, old_name=old.name)
        for name in sorted(new_rpcs.keys() - old_rpcs.keys()):
            new = new_rpcs[name]
            if new.parent in old_services:
                self.record("rpc_added", name, None, new_name=name)
        for name in sorted(old_rpcs.keys() & new_rpcs.keys()):
            self.diff_rpc(old_rpcs[name], new_rpcs[name])

    def diff_rpc(self, old: Element, new: Element) -> None:
        assert isinstance(old.proto, descriptor_pb2.MethodDescriptorProto)
        assert isinstance(new.proto, descriptor_pb2.MethodDescriptorProto)
        where = {"old_name": old.name, "new_name": new.name}
        for aspect, before, after in (
            ("request", self.names.current(old.proto.input_type), new.proto.input_type.lstrip(".")),
            (
                "response",
                self.names.current(old.proto.output_type),
                new.proto.output_type.lstrip("."),
            ),
        ):
            if before != after:
                self.record(
                    f"rpc_{aspect}_changed", old.name, None, before=before, after=after, **where
                )
        for aspect, old_flag, new_flag in (
            ("client_streaming", old.proto.client_streaming, new.proto.client_streaming),
            ("server_streaming", old.proto.server_streaming, new.proto.server_streaming),
        ):
            if old_flag != new_flag:
                self.record(
                    f"rpc_{aspect}_changed", old.name, None,
                    before=str(old_flag).lower(), after=str(new_flag).lower(), **where,
                )  # fmt: skip

    # --- extensions ------------------------------------------------------------------------

    def diff_extensions(self) -> None:
        old_ext = {self.names.current(k): v for k, v in _extensions(self.files_old).items()}
        new_ext = _extensions(self.files_new)
        for name in sorted(old_ext.keys() - new_ext.keys()):
            self.record("extension_removed", name, None, before=render_field(old_ext[name][1]))
        for name in sorted(new_ext.keys() - old_ext.keys()):
            self.record("extension_added", name, None, after=render_field(new_ext[name][1]))
        for name in sorted(old_ext.keys() & new_ext.keys()):
            (_, old), (_, new) = old_ext[name], new_ext[name]
            if old.number != new.number:
                self.record(
                    "field_number_changed", name, None, before=str(old.number),
                    after=str(new.number),
                )  # fmt: skip
            same_named = type_label(old, self.names) == type_label(new, None)
            closed = (
                self._field_enum_closed(old, self.old),
                self._field_enum_closed(new, self.new),
            )
            type_kind = type_change_kind(old, new, same_named, closed)
            if type_kind is not None:
                self.record(type_kind, name, None, before=type_label(old), after=type_label(new))
            if (old.label == FDP.LABEL_REPEATED) != (new.label == FDP.LABEL_REPEATED):
                repeated = new.label == FDP.LABEL_REPEATED
                self.record(
                    "field_made_repeated" if repeated else "field_made_singular", name, None
                )


UTF8_NONE = 2  # FeatureSet.Utf8Validation


def _utf8_checked(field: FDP, syntax: str) -> bool:
    """Whether a string field's reader rejects bytes that are not UTF-8 (proto3, editions'
    default VERIFY); proto2 and editions `utf8_validation = NONE` take any bytes."""
    features = _features(field)
    if features is not None and features.utf8_validation:
        return bool(features.utf8_validation != UTF8_NONE)
    return syntax != "proto2"


def _entry_fields(
    entry: descriptor_pb2.DescriptorProto, translate: Callable[[str], str]
) -> tuple[object, ...]:
    """A (map) entry message's fields: name, number, type, type name."""
    return tuple(
        sorted(
            (f.name, f.number, f.type, translate(f.type_name) if f.type_name else "")
            for f in entry.field
        )
    )


def _syntaxes(files: descriptor_pb2.FileDescriptorSet | None) -> dict[str, str]:
    if files is None:
        return {}
    return {f.name: f.syntax or "proto2" for f in files.file}


def _extensions(
    files: descriptor_pb2.FileDescriptorSet | None,
) -> dict[str, tuple[str, FDP]]:
    """Full extension name -> (extendee, field) over the schema's own files."""
    found: dict[str, tuple[str, FDP]] = {}
    if files is None:
        return found

    def walk(prefix: str, message: descriptor_pb2.DescriptorProto) -> None:
        name = f"{prefix}.{message.name}" if prefix else message.name
        for ext in message.extension:
            found[f"{name}.{ext.name}"] = (ext.extendee.lstrip("."), ext)
        for nested in message.nested_type:
            walk(name, nested)

    for file_proto in files.file:
        if file_proto.name.startswith(WELL_KNOWN_PREFIX):
            continue
        package = file_proto.package
        for ext in file_proto.extension:
            found[f"{package}.{ext.name}" if package else ext.name] = (
                ext.extendee.lstrip("."),
                ext,
            )
        for message in file_proto.message_type:
            walk(package, message)
    return found


def _same_proto(old: Element, new: Element) -> bool:
    return bool(
        old.proto.SerializeToString(deterministic=True)
        == new.proto.SerializeToString(deterministic=True)
    )


def _is_map_entry(element: Element) -> bool:
    proto = element.proto
    return isinstance(proto, descriptor_pb2.DescriptorProto) and proto.options.map_entry


def _reserved_changes(
    old_numbers: Ranges, new_numbers: Ranges, old_names: set[str], new_names: set[str], top: int
) -> Iterator[tuple[str, str | None, str | None]]:
    gone = subtract_ranges(old_numbers, new_numbers)
    if gone:
        yield "reserved_number_removed", render_ranges(gone, top), None
    fresh = subtract_ranges(new_numbers, old_numbers)
    if fresh:
        yield "reserved_number_added", None, render_ranges(fresh, top)
    if old_names - new_names:
        yield "reserved_name_removed", ",".join(sorted(old_names - new_names)), None
    if new_names - old_names:
        yield "reserved_name_added", None, ",".join(sorted(new_names - old_names))


def field_renames(
    old: descriptor_pb2.DescriptorProto, new: descriptor_pb2.DescriptorProto
) -> dict[str, str]:
    """Old name -> new name for fields that kept number and type but changed name."""
    old_names = {f.name for f in old.field}
    new_names = {f.name for f in new.field}
    new_by_number = {f.number: f for f in new.field if f.name not in old_names}
    old_entries = {m.name: m for m in old.nested_type if m.options.map_entry}
    new_entries = {m.name: m for m in new.nested_type if m.options.map_entry}

    def entry_shape(entries: dict[str, descriptor_pb2.DescriptorProto], f: FDP) -> object:
        entry = entries.get(f.type_name.rpartition(".")[2])
        return None if entry is None else [(g.number, g.type, g.type_name) for g in entry.field]

    renames: dict[str, str] = {}
    for field in old.field:
        if field.name in new_names:
            continue
        candidate = new_by_number.get(field.number)
        if (
            candidate is not None
            and candidate.type == field.type
            and (
                candidate.type_name.rpartition(".")[2] == field.type_name.rpartition(".")[2]
                # a map's entry is named after its field: a renamed map renames it too
                or (
                    entry_shape(old_entries, field) is not None
                    and entry_shape(old_entries, field) == entry_shape(new_entries, candidate)
                )
            )
        ):
            renames[field.name] = candidate.name
    return renames


def _references(index: SchemaIndex, translate: Callable[[str], str]) -> dict[str, set[str]]:
    """Type name -> the fields and RPCs (as `element:aspect`) that refer to it."""
    refs: dict[str, set[str]] = {}
    for element in index.elements.values():
        proto = element.proto
        if isinstance(proto, FDP) and proto.type_name:
            refs.setdefault(translate(proto.type_name), set()).add(translate(element.name))
        elif isinstance(proto, descriptor_pb2.MethodDescriptorProto):
            name = translate(element.name)
            refs.setdefault(translate(proto.input_type), set()).add(f"{name}:request")
            refs.setdefault(translate(proto.output_type), set()).add(f"{name}:response")
    return refs


def schema_names(baseline: SchemaIndex, current: SchemaIndex) -> Names:
    """How baseline names map onto current ones: renamed packages, then renamed messages and
    enums (vanished with an identical one appearing, and every reference following it)."""
    packages = Names(
        tuple(
            sorted(
                {
                    (baseline.packages[f], current.packages[f])
                    for f in baseline.packages.keys() & current.packages.keys()
                    if baseline.packages[f] != current.packages[f]
                }
            )
        )
    )
    types: list[tuple[str, str]] = []
    for kind in ("message", "enum"):
        old = {
            packages.current(e.name): e
            for e in baseline.elements.values()
            if e.kind == kind and not _is_map_entry(e)
        }
        new = {e.name: e for e in current.elements.values() if e.kind == kind}
        gone = sorted(old.keys() - new.keys())
        appeared = sorted(new.keys() - old.keys())
        if not gone or not appeared:
            continue
        old_refs = _references(baseline, packages.current)
        new_refs = _references(current, lambda n: n.lstrip("."))
        taken: set[str] = set()
        by_shape: dict[tuple[object, ...], list[str]] = {}
        for candidate in appeared:
            shape = _structure(new[candidate].proto, lambda n: n.lstrip("."))
            by_shape.setdefault(shape, []).append(candidate)
        for name in gone:
            if any(name.startswith(o + ".") for o, _ in types):
                continue  # nested in a renamed message: follows its parent
            shape = _structure(old[name].proto, packages.current)
            matches = [c for c in by_shape.get(shape, []) if c not in taken]
            if len(matches) != 1:
                continue
            (match,) = matches
            referrers = old_refs.get(name, set())
            follow = Names(packages.packages, ((name, match),))
            moved = {follow.current(r.partition(":")[0]) + r[len(r.partition(":")[0]) :]
                     for r in referrers}  # fmt: skip
            if moved <= new_refs.get(match, set()):
                types.append((name, match))
                taken.add(match)
    return Names(packages.packages, tuple(types))


def diff_schemas(
    baseline: SchemaIndex,
    current: SchemaIndex,
    label: str,
    baseline_files: descriptor_pb2.FileDescriptorSet | None = None,
    current_files: descriptor_pb2.FileDescriptorSet | None = None,
    roots: tuple[Path | None, Path | None] = (None, None),
    names: Names | None = None,
) -> list[Change]:
    """Every change from `baseline` to `current`, ordered as found (files, renames, messages,
    enums, services, extensions). The file sets add syntax (open enums) and extensions; the
    module roots (baseline, current) give each change the source lines of its element;
    `names` is `schema_names(baseline, current)` when the caller has it already."""
    return _Differ(baseline, current, label, baseline_files, current_files, roots, names).run()
