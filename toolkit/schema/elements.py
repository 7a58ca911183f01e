"""Every named element of a schema (messages, fields, enums, values, services, RPCs) with its
source location, indexed by full name. The descriptor diff and buf folding both work on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple, TypeAlias

from google.protobuf import descriptor_pb2

ElementKind = Literal["message", "field", "enum", "enum_value", "service", "rpc"]
Proto: TypeAlias = (
    descriptor_pb2.DescriptorProto
    | descriptor_pb2.FieldDescriptorProto
    | descriptor_pb2.EnumDescriptorProto
    | descriptor_pb2.EnumValueDescriptorProto
    | descriptor_pb2.ServiceDescriptorProto
    | descriptor_pb2.MethodDescriptorProto
)

# Field numbers inside descriptor.proto, as used in SourceCodeInfo paths.
FILE_PACKAGE, FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 2, 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM = 2, 3, 4
ENUM_VALUE = 2
SERVICE_METHOD = 2

WELL_KNOWN_PREFIX = "google/protobuf/"


class Element(NamedTuple):
    """One named element of a schema (immutable; a tuple: a large schema has hundreds of
    thousands, and a tuple is built three times faster than a frozen dataclass)."""

    name: str  # full name, e.g. engram.v1.ForgetRequest.memory_id
    kind: ElementKind
    file: str
    line: int | None  # 1-based
    proto: Proto
    parent: str | None  # the enclosing message, enum or service
    message: str | None  # the message this element is or belongs to
    # The declaration's span as SourceCodeInfo has it (0-based; [line, col, end_col] when on
    # one line, else [line, col, end_line, end_col]); None when the schema has no source info.
    span: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Span:
    """Where a declaration is, as GitHub's annotations and buf's `github-actions` format count:
    1-based lines and columns, `end_column` one past the declaration's last character."""

    line: int
    column: int
    end_line: int
    end_column: int


def span_of(raw: tuple[int, ...] | None) -> Span | None:
    """A SourceCodeInfo span (0-based, 3 or 4 numbers) as a 1-based Span; None when unknown."""
    if raw is None or len(raw) not in (3, 4):
        return None
    line, column, *rest = raw
    end_line, end_column = (line, rest[0]) if len(rest) == 1 else (rest[0], rest[1])
    return Span(line + 1, column + 1, end_line + 1, end_column + 1)


@dataclass
class SchemaIndex:
    elements: dict[str, Element] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)  # file -> package
    package_lines: dict[str, int] = field(default_factory=dict)
    package_spans: dict[str, tuple[int, ...]] = field(default_factory=dict)  # raw, as Element
    # (file, line) -> names of elements starting there, most specific last
    by_line: dict[tuple[str, int], list[str]] = field(default_factory=dict)

    def add(self, element: Element) -> None:
        self.elements[element.name] = element
        if element.line is not None:
            self.by_line.setdefault((element.file, element.line), []).append(element.name)


Spans: TypeAlias = dict[tuple[int, ...], tuple[int, ...]]


def _lines(file_proto: descriptor_pb2.FileDescriptorProto) -> Spans:
    """The span of every element's declaration (raw, 0-based). Element paths are (field, index)
    pairs, so an odd-length path (a name, a type, a number inside a declaration: most locations
    of a large schema) is skipped before it is copied."""
    lines = {}
    for location in file_proto.source_code_info.location:
        path = location.path
        if len(path) % 2 == 0 or len(path) == 1:  # (FILE_PACKAGE,) is the one odd element
            span = location.span
            if span:
                lines[tuple(path)] = tuple(span)
    return lines


def _element(
    name: str,
    kind: ElementKind,
    file_name: str,
    lines: Spans,
    path: tuple[int, ...],
    proto: Proto,
    parent: str | None,
    message: str | None,
) -> Element:
    span = lines.get(path)
    line = span[0] + 1 if span else None
    return Element(name, kind, file_name, line, proto, parent, message, span)


def _index_message(
    index: SchemaIndex,
    file_name: str,
    lines: Spans,
    message: descriptor_pb2.DescriptorProto,
    prefix: str,
    path: tuple[int, ...],
) -> None:
    name = f"{prefix}.{message.name}" if prefix else message.name
    parent = prefix if prefix in index.elements else None
    index.add(_element(name, "message", file_name, lines, path, message, parent, name))
    for i, field_proto in enumerate(message.field):
        index.add(
            _element(
                f"{name}.{field_proto.name}",
                "field",
                file_name,
                lines,
                (*path, MESSAGE_FIELD, i),
                field_proto,
                name,
                name,
            )
        )
    for i, nested in enumerate(message.nested_type):
        _index_message(index, file_name, lines, nested, name, (*path, MESSAGE_NESTED, i))
    for i, enum in enumerate(message.enum_type):
        _index_enum(index, file_name, lines, enum, name, (*path, MESSAGE_ENUM, i), name)


def _index_enum(
    index: SchemaIndex,
    file_name: str,
    lines: Spans,
    enum: descriptor_pb2.EnumDescriptorProto,
    prefix: str,
    path: tuple[int, ...],
    message: str | None,
) -> None:
    name = f"{prefix}.{enum.name}" if prefix else enum.name
    index.add(_element(name, "enum", file_name, lines, path, enum, message, message))
    for i, value in enumerate(enum.value):
        # Enum values are scoped like their enum's siblings in protobuf; keep the enum in the
        # name so a change id says which enum lost the value.
        index.add(
            _element(
                f"{name}.{value.name}",
                "enum_value",
                file_name,
                lines,
                (*path, ENUM_VALUE, i),
                value,
                name,
                message,
            )
        )


def build_index(files: descriptor_pb2.FileDescriptorSet, *, lines: bool = True) -> SchemaIndex:
    """Index the schema's own files (well-known types are not part of any schema change).
    `lines=False` leaves source lines out (changes are located in the current schema; the diff
    indexes a baseline with lines only when a change that may break shows its declaration),
    which saves reading every source location of a large schema."""
    index = SchemaIndex()
    for file_proto in files.file:
        if file_proto.name.startswith(WELL_KNOWN_PREFIX):
            continue
        found = _lines(file_proto) if lines else {}
        name = file_proto.name
        index.packages[name] = file_proto.package
        package_span = found.get((FILE_PACKAGE,))
        index.package_lines[name] = package_span[0] + 1 if package_span else 1
        if package_span:
            index.package_spans[name] = package_span
        package = file_proto.package
        for i, message in enumerate(file_proto.message_type):
            _index_message(index, name, found, message, package, (FILE_MESSAGE, i))
        for i, enum in enumerate(file_proto.enum_type):
            _index_enum(index, name, found, enum, package, (FILE_ENUM, i), None)
        for i, service in enumerate(file_proto.service):
            service_name = f"{package}.{service.name}" if package else service.name
            index.add(
                _element(
                    service_name, "service", name, found, (FILE_SERVICE, i), service, None, None
                )
            )
            for j, method in enumerate(service.method):
                index.add(
                    _element(
                        f"{service_name}.{method.name}",
                        "rpc",
                        name,
                        found,
                        (FILE_SERVICE, i, SERVICE_METHOD, j),
                        method,
                        service_name,
                        None,
                    )
                )
    return index
