"""Hold a schema in its own DescriptorPool, so baseline and current live side by side.

Generated stubs of two versions of one proto package cannot share a process (they collide
in the default pool). A `Schema` loads a descriptor set into a private pool and hands out
message classes and generic gRPC callables built from it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, MethodDescriptor
from google.protobuf.descriptor_pb2 import FileDescriptorProto as FDP
from google.protobuf.message import Message

RpcKind = Literal["unary_unary", "unary_stream", "stream_unary", "stream_stream"]
SchemaName = Literal["current", "legacy"]


@dataclass(frozen=True)
class RpcMethod:
    """One RPC of a schema with the message classes of its private pool."""

    service: str
    name: str
    kind: RpcKind
    request: type[Message]
    response: type[Message]

    @property
    def path(self) -> str:
        return f"/{self.service}/{self.name}"


def _kind(method: MethodDescriptor) -> RpcKind:
    client = "stream" if method.client_streaming else "unary"
    server = "stream" if method.server_streaming else "unary"
    return f"{client}_{server}"  # type: ignore[return-value]


def _without_json_names(file_proto: FDP) -> FDP:
    """A copy whose fields' JSON names are their own names: wire-neutral, and accepted by the
    Python runtime where protoc's JSON names (colliding in a oneof, or proto2 defaults) are not."""
    copy = FDP()
    copy.CopyFrom(file_proto)
    pending = list(copy.message_type)
    while pending:
        message = pending.pop()
        for field in message.field:
            field.json_name = field.name
        pending.extend(message.nested_type)
    return copy


def _referenced(message: descriptor_pb2.DescriptorProto) -> set[str]:
    """Type names (with leading dot) the fields of `message` and its nested types use."""
    found: set[str] = set()
    pending = [message]
    while pending:
        current = pending.pop()
        found.update(f.type_name for f in current.field if f.type_name)
        pending.extend(current.nested_type)
    return found


class Schema:
    """A compiled schema loaded into its own DescriptorPool.

    A file the Python runtime refuses (protoc accepted it) is added without its JSON names,
    else without the messages it refuses; those are listed in `refused` with the reason, so
    the rest of the schema is still replayed.
    """

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.files = files
        self.pool = descriptor_pool.DescriptorPool()
        self.refused: dict[str, str] = {}  # message full name -> why the runtime refuses it
        self._added: dict[str, FDP] = {}
        known = {f.name for f in files.file}
        for file_proto in files.file:
            missing = [d for d in file_proto.dependency if d not in known]
            if missing:
                raise TypeError(f"{file_proto.name} imports {missing[0]}, which is not included")
            self._add(file_proto)

    def _add(self, file_proto: FDP) -> None:
        try:
            self.pool.Add(file_proto)
            self._added[file_proto.name] = file_proto
            return
        except TypeError as exc:
            first_error = exc
        plain = _without_json_names(file_proto)
        try:
            self.pool.Add(plain)
            self._added[file_proto.name] = plain
            return
        except TypeError:
            pass
        self._add_reduced(plain, first_error)

    def _trial_pool(self, file_proto: FDP) -> descriptor_pool.DescriptorPool:
        trial = descriptor_pool.DescriptorPool()
        order: list[str] = []
        pending = list(file_proto.dependency)
        while pending:
            name = pending.pop()
            if name in order or name not in self._added:
                continue
            order.append(name)
            pending.extend(self._added[name].dependency)
        for name in reversed(order):
            with contextlib.suppress(TypeError):
                trial.Add(self._added[name])
        return trial

    def _add_reduced(self, file_proto: FDP, error: TypeError) -> None:
        """Add `file_proto` without the top-level messages the runtime refuses on their own,
        and without what uses them."""
        prefix = f".{file_proto.package}." if file_proto.package else "."
        own = {f"{prefix}{m.name}": m for m in file_proto.message_type}

        def closure(name: str) -> set[str]:
            seen, pending = {name}, [name]
            while pending:
                for ref in _referenced(own[pending.pop()]):
                    top = next((o for o in own if ref == o or ref.startswith(o + ".")), None)
                    if top is not None and top not in seen:
                        seen.add(top)
                        pending.append(top)
            return seen

        def trimmed(keep: set[str]) -> FDP:
            copy = FDP()
            copy.CopyFrom(file_proto)
            del copy.message_type[:]
            copy.message_type.extend(m for n, m in own.items() if n in keep)
            del copy.service[:]
            copy.service.extend(
                s
                for s in file_proto.service
                if all(
                    t not in own or t in keep
                    for m in s.method
                    for t in (m.input_type, m.output_type)
                )
            )
            del copy.extension[:]
            copy.extension.extend(
                e for e in file_proto.extension if e.extendee not in own or e.extendee in keep
            )
            return copy

        reasons: dict[str, str] = {}
        for name in own:
            try:
                self._trial_pool(file_proto).Add(trimmed(closure(name)))
            except TypeError as exc:
                reasons[name] = str(exc)
        bad = set(reasons)
        keep = {n for n in own if not (closure(n) & bad)}
        for name in own.keys() - keep:
            why = reasons.get(name) or "uses a message the Python runtime refuses"
            self.refused[name.lstrip(".")] = why
        try:
            reduced = trimmed(keep)
            self.pool.Add(reduced)
            self._added[file_proto.name] = reduced
        except TypeError:
            for name in keep:
                self.refused[name.lstrip(".")] = str(error)

    @classmethod
    def from_path(cls, path: Path) -> Schema:
        files = descriptor_pb2.FileDescriptorSet()
        files.ParseFromString(path.read_bytes())
        return cls(files)

    def descriptor(self, full_name: str) -> Descriptor:
        return self.pool.FindMessageTypeByName(full_name)

    def message(self, full_name: str) -> type[Message]:
        """The message class for `full_name` (e.g. `engram.v1.RememberRequest`)."""
        cls: type[Message] = message_factory.GetMessageClass(self.descriptor(full_name))
        return cls

    def methods(self) -> list[RpcMethod]:
        """Every RPC of every service the schema's own files define."""
        found: list[RpcMethod] = []
        for file_proto in self.files.file:
            if file_proto.name.startswith("google/"):
                continue
            file_desc = self.pool.FindFileByName(file_proto.name)
            for service in file_desc.services_by_name.values():
                for method in service.methods:
                    found.append(
                        RpcMethod(
                            service=service.full_name,
                            name=method.name,
                            kind=_kind(method),
                            request=message_factory.GetMessageClass(method.input_type),
                            response=message_factory.GetMessageClass(method.output_type),
                        )
                    )
        return found

    def method(self, service: str, name: str) -> RpcMethod:
        for method in self.methods():
            if method.name == name and service in (method.service, method.service.split(".")[-1]):
                return method
        raise KeyError(f"no RPC {service}/{name} in this schema")

    def callable(self, channel: grpc.Channel, method: RpcMethod) -> Callable[..., Any]:
        """A generic gRPC multi-callable for `method` on `channel`, using this schema's classes."""
        factory = getattr(channel, method.kind)
        return factory(  # type: ignore[no-any-return]
            method.path,
            request_serializer=method.request.SerializeToString,
            response_deserializer=method.response.FromString,
        )


def packaged_descriptor_set(name: SchemaName) -> Path:
    """Path of the descriptor set the stubs stage wrote for `current` or `legacy`."""
    ref = resources.files("toolkit.generated").joinpath(name, "descriptor_set.binpb")
    return Path(str(ref))


@functools.cache
def load_schema(name: SchemaName) -> Schema:
    """The packaged `current` (proto/) or `legacy` (baseline) schema, loaded once per process."""
    return Schema.from_path(packaged_descriptor_set(name))
