"""What every stage document shares: its JSON Schema, validation, and the typed round trip.

A document is a frozen dataclass whose class names its JSON Schema (`SCHEMA_NAME`, a file of
`toolkit/documents/schemas/`), its `kind` and its `schema_version`. `to_dict` adds `$schema`,
`schema_version` and `kind` to the dataclass's fields; `from_dict` validates against the packaged
JSON Schema first and then builds the nested frozen dataclasses (tuples, never lists).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import types
import typing
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, Union, get_args, get_origin

from toolkit.errors import ToolkitError

if TYPE_CHECKING:  # imported where a document is validated: a tenth of a second to load
    import referencing

SCHEMA_PACKAGE = "toolkit.documents"
SCHEMA_FOLDER = "schemas"
# Every document of the toolkit, by the name `engram-compat schema-doc NAME` prints it under.
DOCUMENT_NAMES = ("results", "schema", "compat", "drift", "lint", "rehearsal")
# Every packaged schema's `$id` begins so (`urn:engram-compat:document:NAME:VERSION`).
URN_PREFIX = "urn:engram-compat:document:"

D = TypeVar("D", bound="Document")


class DocumentWriteError(ToolkitError):
    """A stage document cannot be written where it was asked to go."""


class DocumentError(ToolkitError):
    """A stage or results document is missing, unreadable or breaks its JSON Schema."""


def schema_id(name: str) -> str:
    """The `$id` of a document's JSON Schema, and the `$schema` value the document carries."""
    return str(json_schema(name)["$id"])


@cache
def json_schema_text(name: str) -> str:
    """The packaged JSON Schema of one document, exactly as shipped."""
    if name not in DOCUMENT_NAMES:
        raise DocumentError(f"no such document {name!r}: choose one of {', '.join(DOCUMENT_NAMES)}")
    folder = resources.files(SCHEMA_PACKAGE).joinpath(SCHEMA_FOLDER)
    return folder.joinpath(f"{name}.schema.json").read_text(encoding="utf-8")


def json_schema_bundle(name: str) -> dict[str, Any]:
    """One document's JSON Schema with every schema it refers to embedded under `$defs` (each
    keeps its `$id`: a 2020-12 compound schema), so a validator given only this resolves them."""
    schema = json_schema(name)
    referenced = sorted(_referenced(schema) - {schema["$id"]})
    if not referenced:
        return schema
    embedded = {_name_of(ref): json_schema(_name_of(ref)) for ref in referenced}
    return {**schema, "$defs": {**schema.get("$defs", {}), **embedded}}


def _referenced(schema: Any) -> set[str]:
    """The other packaged documents' `$id`s that `schema` refers to, directly or through them."""
    found: set[str] = set()
    pending = [schema]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(URN_PREFIX) and ref not in found:
                found.add(ref)
                pending.append(json_schema(_name_of(ref)))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found


def _name_of(ref: str) -> str:
    for name in DOCUMENT_NAMES:
        if schema_id(name) == ref:
            return name
    raise DocumentError(f"a packaged schema refers to {ref!r}, which is not packaged")


@cache
def json_schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json_schema_text(name))
    return loaded


@cache
def _registry() -> referencing.Registry[Any]:
    """Every packaged schema under its `$id`, so one document's schema can refer to another's."""
    import referencing

    resources_ = [
        (str(json_schema(name)["$id"]), referencing.Resource.from_contents(json_schema(name)))
        for name in DOCUMENT_NAMES
    ]
    return referencing.Registry().with_resources(resources_)


@cache
def _validator(name: str) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(
        json_schema(name),
        registry=_registry(),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def _json_path(parts: Any) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def validate(name: str, document: Any, label: str) -> None:
    """Raise DocumentError naming the first missing or wrong part of a document."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator(name).iter_errors(document))
    if error is not None:
        raise DocumentError(f"{label}: {_json_path(error.absolute_path)}: {error.message}")


def read_json(path: Path, label: str | None = None) -> Any:
    label = label or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise DocumentError(f"{label} is missing") from exc
    except OSError as exc:
        raise DocumentError(f"{label} cannot be read: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DocumentError(f"{label} is not JSON: line {exc.lineno}: {exc.msg}") from exc


def dump_json(document: Any) -> str:
    """`json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)` and a newline, to
    the byte; written by `_indented` (json's own indenting encoder is pure Python and the
    slowest part of writing a large schema report), falling back to json for anything else."""
    try:
        parts: list[str] = []
        _indented(document, "\n", parts)
    except _NotPlain:
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    parts.append("\n")
    return "".join(parts)


class _NotPlain(Exception):
    """A value `_indented` leaves to json (a non-string key, a float json spells its way)."""


_ENCODE_STRING = json.encoder.encode_basestring  # what json uses with ensure_ascii=False
_INDENT = "  "


def _indented(value: Any, newline: str, out: list[str]) -> None:
    """Append `value` as json.dumps with indent=2 and sorted keys writes it at the nesting
    whose line break plus indentation is `newline`."""
    kind = type(value)
    if kind is str:
        out.append(_ENCODE_STRING(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        if not all(type(key) is str for key in value):
            raise _NotPlain
        inner = newline + _INDENT
        separator = "{" + inner
        for key in sorted(value):
            out.append(separator)
            out.append(_ENCODE_STRING(key))
            out.append(": ")
            _indented(value[key], inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = newline + _INDENT
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _indented(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    elif kind is float and value == value and value not in (float("inf"), float("-inf")):
        out.append(float.__repr__(value))
    else:
        raise _NotPlain


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind))


def to_data(value: Any) -> Any:
    """A record as JSON data: dataclasses become objects, tuples become lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if isinstance(value, Document):
            return value.to_dict()
        return {name: to_data(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, (tuple, list)):
        return [to_data(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_data(item) for key, item in value.items()}
    return value


def _has_default(field: dataclasses.Field[Any]) -> bool:
    return (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )


def build(kind: Any, value: Any) -> Any:
    """Build a value of type `kind` from validated JSON data (dataclasses, tuples, optionals)."""
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        # A field with a default may be absent (a document of an earlier, smaller version).
        return kind(
            **{
                field.name: build(hints[field.name], value[field.name])
                for field in dataclasses.fields(kind)
                if field.init and (field.name in value or not _has_default(field))
            }
        )
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        options = [arg for arg in get_args(kind) if arg is not type(None)]
        return build(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        item = get_args(kind)[0]
        return tuple(build(item, element) for element in value)
    if origin is list:
        item = get_args(kind)[0]
        return [build(item, element) for element in value]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    # Literals, plain values and free-form objects (`dict[str, Any]`) are kept as they are.
    return value


class Document:
    """A stage document; subclasses are frozen dataclasses and set the three class variables."""

    SCHEMA_NAME: ClassVar[str]
    KIND: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int]

    def to_dict(self) -> dict[str, Any]:
        fields = {f.name: to_data(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return {
            "$schema": schema_id(self.SCHEMA_NAME),
            "schema_version": self.SCHEMA_VERSION,
            "kind": self.KIND,
            **fields,
        }

    def to_json(self) -> str:
        return dump_json(self.to_dict())

    def write(self, path: Path) -> Path:
        """Write the document as JSON (`-` writes it to stdout), creating the folder."""
        if str(path) == "-":
            sys.stdout.write(self.to_json())
            return path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self.to_json(), encoding="utf-8")
        except OSError as exc:
            raise DocumentWriteError(
                f"cannot write {path}: {exc.strerror or exc}"
                + (" (it is a folder)" if path.is_dir() else "")
            ) from exc
        return path

    @classmethod
    def from_dict(cls: type[D], data: Any, label: str | None = None) -> D:
        validate(cls.SCHEMA_NAME, data, label or cls.SCHEMA_NAME)
        built: D = build(cls, data)
        return built

    @classmethod
    def read(cls: type[D], path: Path) -> D:
        return cls.from_dict(read_json(path), str(path))
