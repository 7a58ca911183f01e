"""Descriptor diff: every change between a baseline and a current schema, each classified for
wire, JSON and generated-code (source) compatibility and named by a stable id
(`<element>:<aspect>`, e.g. `engram.v1.ForgetRequest.memory_id:number`).

A change is *breaking* when it breaks clients already in the field: wire or JSON. A change
that only breaks generated code (source) is not, but the version policy asks a major bump.

Fields are matched by name; a field whose name vanished while a new name appeared at the same
number with the same type is a rename. A renamed package maps the old names onto the new ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pb2 import FieldDescriptorProto as FDP

from toolkit.documents.schema import Change, Compat
from toolkit.schema.elements import Element, SchemaIndex

C: Compat = "compatible"
B: Compat = "breaking"

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
    {FDP.TYPE_INT32, FDP.TYPE_INT64, FDP.TYPE_UINT32, FDP.TYPE_UINT64, FDP.TYPE_BOOL},
    {FDP.TYPE_SINT32, FDP.TYPE_SINT64},
    {FDP.TYPE_FIXED32, FDP.TYPE_SFIXED32},
    {FDP.TYPE_FIXED64, FDP.TYPE_SFIXED64},
    {FDP.TYPE_STRING, FDP.TYPE_BYTES},
)


@dataclass(frozen=True)
class Names:
    """Maps baseline full names onto current ones when a file's package was renamed."""

    packages: tuple[tuple[str, str], ...]

    def current(self, name: str) -> str:
        bare = name.lstrip(".")
        for old, new in self.packages:
            if bare == old or bare.startswith(old + "."):
                return new + bare[len(old) :]
        return bare


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def json_name(field: FDP) -> str:
    return field.json_name or _camel(field.name)


def type_label(field: FDP, names: Names | None = None) -> str:
    if field.type in (FDP.TYPE_MESSAGE, FDP.TYPE_ENUM):
        return names.current(field.type_name) if names else field.type_name.lstrip(".")
    return SCALAR_NAMES.get(field.type, "group")


def render_field(field: FDP) -> str:
    label = "repeated " if field.label == FDP.LABEL_REPEATED else ""
    if field.proto3_optional:
        label = "optional "
    return f"{label}{type_label(field)} {field.name} = {field.number}"


def _oneof(message: descriptor_pb2.DescriptorProto, field: FDP) -> str | None:
    if not field.HasField("oneof_index") or field.proto3_optional:
        return None
    name: str = message.oneof_decl[field.oneof_index].name
    return name


def _reserved_numbers(message: descriptor_pb2.DescriptorProto) -> set[int]:
    return {n for r in message.reserved_range for n in range(r.start, r.end)}


def _enum_reserved(enum: descriptor_pb2.EnumDescriptorProto) -> set[int]:
    # Enum reserved ranges are inclusive, message ones exclusive.
    return {n for r in enum.reserved_range for n in range(r.start, r.end + 1)}


class _Differ:
    def __init__(self, baseline: SchemaIndex, current: SchemaIndex, label: str) -> None:
        self.old, self.new, self.label = baseline, current, label
        renamed = {
            (baseline.packages[f], current.packages[f])
            for f in baseline.packages.keys() & current.packages.keys()
            if baseline.packages[f] != current.packages[f]
        }
        self.names = Names(tuple(sorted(renamed)))
        self.changes: list[Change] = []

    # --- recording -------------------------------------------------------------------------

    def _location(
        self, old_name: str | None, new_name: str | None
    ) -> tuple[str | None, int | None]:
        """Where a change is in the CURRENT schema: the element, or its nearest survivor."""
        candidate = new_name or (self.names.current(old_name) if old_name else None)
        while candidate:
            element = self.new.elements.get(candidate)
            if element is not None:
                return element.file, element.line
            candidate = candidate.rpartition(".")[0]
        if old_name and old_name in self.old.elements:
            file = self.old.elements[old_name].file
            if file in self.new.package_lines:
                return file, self.new.package_lines[file]
        return None, None

    def record(
        self,
        kind: str,
        aspect: str,
        element: str,
        message: str | None,
        wire: Compat,
        json: Compat,
        source: Compat,
        *,
        before: str | None = None,
        after: str | None = None,
        old_name: str | None = None,
        new_name: str | None = None,
    ) -> None:
        file, line = self._location(old_name, new_name)
        self.changes.append(
            Change(
                id=f"{element}:{aspect}",
                baseline=self.label,
                kind=kind,
                element=element,
                message=message,
                file=file,
                line=line,
                wire=wire,
                json=json,
                source=source,
                breaking=B in (wire, json),
                buf_rules=(),
                buf_messages=(),
                before=before,
                after=after,
                accepted=None,
            )
        )

    # --- walking ---------------------------------------------------------------------------

    def of_kind(self, index: SchemaIndex, kind: str) -> dict[str, Element]:
        translate = self.names.current if index is self.old else (lambda n: n)
        return {translate(e.name): e for e in index.elements.values() if e.kind == kind}

    def run(self) -> list[Change]:
        for file, old_package in sorted(self.old.packages.items()):
            new_package = self.new.packages.get(file)
            if new_package is not None and new_package != old_package:
                self.changes.append(self._package_change(file, old_package, new_package))
        old_messages = self.of_kind(self.old, "message")
        new_messages = self.of_kind(self.new, "message")
        for name in sorted(old_messages.keys() - new_messages.keys()):
            if not _is_map_entry(old_messages[name]):
                old = old_messages[name]
                self.record(
                    "message_removed", "removed", old.name, old.parent, C, C, B, old_name=old.name
                )
        for name in sorted(new_messages.keys() - old_messages.keys()):
            if not _is_map_entry(new_messages[name]):
                new = new_messages[name]
                self.record("message_added", "added", name, new.parent, C, C, C, new_name=name)
        for name in sorted(old_messages.keys() & new_messages.keys()):
            self.diff_message(old_messages[name], new_messages[name])
        self.diff_enums()
        self.diff_services()
        return self.changes

    def _package_change(self, file: str, old: str, new: str) -> Change:
        return Change(
            id=f"{file}:package",
            baseline=self.label,
            kind="package_changed",
            element=file,
            message=None,
            file=file,
            line=self.new.package_lines.get(file),
            wire=B,  # every RPC path and type URL changes
            json=B,
            source=B,
            breaking=True,
            buf_rules=(),
            buf_messages=(),
            before=old,
            after=new,
            accepted=None,
        )

    # --- messages and fields ---------------------------------------------------------------

    def diff_message(self, old: Element, new: Element) -> None:
        assert isinstance(old.proto, descriptor_pb2.DescriptorProto)
        assert isinstance(new.proto, descriptor_pb2.DescriptorProto)
        old_msg, new_msg = old.proto, new.proto
        old_fields = {f.name: f for f in old_msg.field}
        new_fields = {f.name: f for f in new_msg.field}
        renames = field_renames(old_msg, new_msg)
        for name in sorted(old_fields.keys() & new_fields.keys()):
            self.diff_field(old, new, old_fields[name], new_fields[name])
        for old_name, new_name in sorted(renames.items()):
            self.diff_renamed_field(old, new, old_fields[old_name], new_fields[new_name])
        removed = old_fields.keys() - new_fields.keys() - renames.keys()
        added = new_fields.keys() - old_fields.keys() - set(renames.values())
        old_reserved_names = set(old_msg.reserved_name)
        new_reserved, new_reserved_names = _reserved_numbers(new_msg), set(new_msg.reserved_name)
        for name in sorted(removed):
            field = old_fields[name]
            wire = C if field.number in new_reserved else B
            json = C if name in new_reserved_names else B
            self.record(
                "field_removed",
                "removed",
                f"{old.name}.{name}",
                old.name,
                wire,
                json,
                B,
                before=render_field(field),
                old_name=f"{old.name}.{name}",
            )
        old_by_number = {f.number: f for f in old_msg.field}
        old_json = {json_name(f): f for f in old_msg.field}
        old_reserved = _reserved_numbers(old_msg)
        for name in sorted(added):
            field = new_fields[name]
            previous = old_by_number.get(field.number)
            json_clash = old_json.get(json_name(field))
            wire = B if previous is not None or field.number in old_reserved else C
            json = B if json_clash is not None or name in old_reserved_names else C
            self.record(
                "field_added",
                "added",
                f"{old.name}.{name}",
                old.name,
                wire,
                json,
                C,
                before=render_field(previous) if previous is not None else None,
                after=render_field(field),
                new_name=f"{new.name}.{name}",
            )
        self.diff_reserved(old, new)

    def diff_field(self, old_msg: Element, new_msg: Element, old: FDP, new: FDP) -> None:
        assert isinstance(old_msg.proto, descriptor_pb2.DescriptorProto)
        assert isinstance(new_msg.proto, descriptor_pb2.DescriptorProto)
        element = f"{old_msg.name}.{old.name}"
        where = {"old_name": element, "new_name": f"{new_msg.name}.{new.name}"}
        if old.number != new.number:
            self.record(
                "field_number_changed",
                "number",
                element,
                old_msg.name,
                B,
                C,
                C,
                before=str(old.number),
                after=str(new.number),
                **where,
            )
        self._compare_field_shape(old_msg, new_msg, old, new, element, where)
        if json_name(old) != json_name(new):
            self.record(
                "field_json_name_changed",
                "json_name",
                element,
                old_msg.name,
                C,
                B,
                C,
                before=json_name(old),
                after=json_name(new),
                **where,
            )

    def diff_renamed_field(self, old_msg: Element, new_msg: Element, old: FDP, new: FDP) -> None:
        element = f"{old_msg.name}.{old.name}"
        where = {"old_name": element, "new_name": f"{new_msg.name}.{new.name}"}
        json: Compat = C if json_name(old) == json_name(new) else B
        self.record(
            "field_renamed",
            "name",
            element,
            old_msg.name,
            C,
            json,
            B,
            before=old.name,
            after=new.name,
            **where,
        )
        self._compare_field_shape(old_msg, new_msg, old, new, element, where)

    def _compare_field_shape(
        self,
        old_msg: Element,
        new_msg: Element,
        old: FDP,
        new: FDP,
        element: str,
        where: dict[str, str],
    ) -> None:
        assert isinstance(old_msg.proto, descriptor_pb2.DescriptorProto)
        assert isinstance(new_msg.proto, descriptor_pb2.DescriptorProto)
        old_type, new_type = type_label(old, self.names), type_label(new, None)
        if old.type != new.type or old_type != new_type:
            same_group = any(old.type in g and new.type in g for g in WIRE_GROUPS)
            self.record(
                "field_type_changed",
                "type",
                element,
                old_msg.name,
                C if same_group else B,
                B,
                B,
                before=type_label(old),
                after=type_label(new),
                **where,
            )
        old_repeated = old.label == FDP.LABEL_REPEATED
        new_repeated = new.label == FDP.LABEL_REPEATED
        if old_repeated != new_repeated:
            self.record(
                "field_cardinality_changed",
                "cardinality",
                element,
                old_msg.name,
                B,
                B,
                B,
                before="repeated" if old_repeated else "singular",
                after="repeated" if new_repeated else "singular",
                **where,
            )
        elif old.proto3_optional != new.proto3_optional:
            self.record(
                "field_presence_changed",
                "presence",
                element,
                old_msg.name,
                C,
                C,
                B,
                before="optional" if old.proto3_optional else "implicit",
                after="optional" if new.proto3_optional else "implicit",
                **where,
            )
        old_oneof, new_oneof = _oneof(old_msg.proto, old), _oneof(new_msg.proto, new)
        if old_oneof != new_oneof:
            self.record(
                "field_oneof_changed",
                "oneof",
                element,
                old_msg.name,
                B,
                B,
                B,
                before=old_oneof,
                after=new_oneof,
                **where,
            )

    def diff_reserved(self, old: Element, new: Element) -> None:
        assert isinstance(old.proto, descriptor_pb2.DescriptorProto)
        assert isinstance(new.proto, descriptor_pb2.DescriptorProto)
        where = {"old_name": old.name, "new_name": new.name}
        for kind, wire, json, before, after in _reserved_changes(
            _reserved_numbers(old.proto),
            _reserved_numbers(new.proto),
            set(old.proto.reserved_name),
            set(new.proto.reserved_name),
        ):
            self.record(
                kind, kind.removeprefix("reserved_"), old.name, old.name, wire, json, C,
                before=before, after=after, **where,
            )  # fmt: skip

    # --- enums -----------------------------------------------------------------------------

    def diff_enums(self) -> None:
        old_enums, new_enums = self.of_kind(self.old, "enum"), self.of_kind(self.new, "enum")
        for name in sorted(old_enums.keys() - new_enums.keys()):
            enum = old_enums[name]
            self.record("enum_removed", "removed", enum.name, enum.message, C, C, B,
                        old_name=enum.name)  # fmt: skip
        for name in sorted(new_enums.keys() - old_enums.keys()):
            self.record("enum_added", "added", name, new_enums[name].message, C, C, C,
                        new_name=name)  # fmt: skip
        for name in sorted(old_enums.keys() & new_enums.keys()):
            self.diff_enum(old_enums[name], new_enums[name])

    def diff_enum(self, old: Element, new: Element) -> None:
        assert isinstance(old.proto, descriptor_pb2.EnumDescriptorProto)
        assert isinstance(new.proto, descriptor_pb2.EnumDescriptorProto)
        old_values = {v.name: v for v in old.proto.value}
        new_values = {v.name: v for v in new.proto.value}
        new_by_number = {v.number: v for v in new.proto.value}
        reserved, reserved_names = _enum_reserved(new.proto), set(new.proto.reserved_name)
        for name in sorted(old_values.keys() & new_values.keys()):
            before, after = old_values[name].number, new_values[name].number
            if before != after:
                self.record(
                    "enum_value_number_changed", "number", f"{old.name}.{name}", old.message,
                    B, C, C, before=str(before), after=str(after),
                    old_name=f"{old.name}.{name}", new_name=f"{new.name}.{name}",
                )  # fmt: skip
        for name in sorted(old_values.keys() - new_values.keys()):
            value = old_values[name]
            element = f"{old.name}.{name}"
            successor = new_by_number.get(value.number)
            if successor is not None and successor.name not in old_values:
                self.record(
                    "enum_value_renamed", "name", element, old.message, C, B, B,
                    before=name, after=successor.name,
                    old_name=element, new_name=f"{new.name}.{successor.name}",
                )  # fmt: skip
                continue
            wire: Compat = C if value.number in reserved else B
            json: Compat = C if name in reserved_names else B
            self.record(
                "enum_value_removed", "removed", element, old.message, wire, json, B,
                before=f"{name} = {value.number}", old_name=element,
            )  # fmt: skip
        renamed_to = {
            new_by_number[v.number].name
            for n, v in old_values.items()
            if n not in new_values and v.number in new_by_number
        }
        for name in sorted(new_values.keys() - old_values.keys() - renamed_to):
            value = new_values[name]
            self.record(
                "enum_value_added", "added", f"{old.name}.{name}", old.message, C, C, C,
                after=f"{name} = {value.number}", new_name=f"{new.name}.{name}",
            )  # fmt: skip

    # --- services --------------------------------------------------------------------------

    def diff_services(self) -> None:
        old_services = self.of_kind(self.old, "service")
        new_services = self.of_kind(self.new, "service")
        for name in sorted(old_services.keys() - new_services.keys()):
            old = old_services[name]
            self.record("service_removed", "removed", old.name, None, B, B, B, old_name=old.name)
        for name in sorted(new_services.keys() - old_services.keys()):
            self.record("service_added", "added", name, None, C, C, C, new_name=name)
        old_rpcs, new_rpcs = self.of_kind(self.old, "rpc"), self.of_kind(self.new, "rpc")
        for name in sorted(old_rpcs.keys() - new_rpcs.keys()):
            old = old_rpcs[name]
            if self.names.current(old.parent or "") in new_services:
                self.record("rpc_removed", "removed", old.name, None, B, B, B, old_name=old.name)
        for name in sorted(new_rpcs.keys() - old_rpcs.keys()):
            new = new_rpcs[name]
            if new.parent in old_services:
                self.record("rpc_added", "added", name, None, C, C, C, new_name=name)
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
                    f"rpc_{aspect}_changed", aspect, old.name, None, B, B, B,
                    before=before, after=after, **where,
                )  # fmt: skip
        for aspect, old_flag, new_flag in (
            ("client_streaming", old.proto.client_streaming, new.proto.client_streaming),
            ("server_streaming", old.proto.server_streaming, new.proto.server_streaming),
        ):
            if old_flag != new_flag:
                self.record(
                    f"rpc_{aspect}_changed", aspect, old.name, None, B, B, B,
                    before=str(old_flag).lower(), after=str(new_flag).lower(), **where,
                )  # fmt: skip


def _is_map_entry(element: Element) -> bool:
    proto = element.proto
    return isinstance(proto, descriptor_pb2.DescriptorProto) and proto.options.map_entry


def _reserved_changes(
    old_numbers: set[int], new_numbers: set[int], old_names: set[str], new_names: set[str]
) -> Iterator[tuple[str, Compat, Compat, str | None, str | None]]:
    if old_numbers - new_numbers:
        gone = ",".join(str(n) for n in sorted(old_numbers - new_numbers))
        yield "reserved_number_removed", B, C, gone, None
    if new_numbers - old_numbers:
        yield (
            "reserved_number_added",
            C,
            C,
            None,
            ",".join(str(n) for n in sorted(new_numbers - old_numbers)),
        )
    if old_names - new_names:
        yield "reserved_name_removed", C, B, ",".join(sorted(old_names - new_names)), None
    if new_names - old_names:
        yield "reserved_name_added", C, C, None, ",".join(sorted(new_names - old_names))


def field_renames(
    old: descriptor_pb2.DescriptorProto, new: descriptor_pb2.DescriptorProto
) -> dict[str, str]:
    """Old name -> new name for fields that kept number and type but changed name."""
    old_names = {f.name for f in old.field}
    new_names = {f.name for f in new.field}
    new_by_number = {f.number: f for f in new.field if f.name not in old_names}
    renames: dict[str, str] = {}
    for field in old.field:
        if field.name in new_names:
            continue
        candidate = new_by_number.get(field.number)
        if (
            candidate is not None
            and candidate.type == field.type
            and (candidate.type_name.rpartition(".")[2] == field.type_name.rpartition(".")[2])
        ):
            renames[field.name] = candidate.name
    return renames


def diff_schemas(baseline: SchemaIndex, current: SchemaIndex, label: str) -> list[Change]:
    """Every change from `baseline` to `current`, ordered as found (files, messages, enums,
    services)."""
    return _Differ(baseline, current, label).run()
