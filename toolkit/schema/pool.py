"""Hold a schema in its own DescriptorPool, so baseline and current live side by side.

Generated stubs of two versions of one proto package cannot share a process (they collide
in the default pool). A `Schema` loads a descriptor set into a private pool and hands out
message classes and generic gRPC callables built from it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import Descriptor, MethodDescriptor
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


class Schema:
    """A compiled schema loaded into its own DescriptorPool."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.files = files
        self.pool = descriptor_pool.DescriptorPool()
        for file_proto in files.file:
            self.pool.Add(file_proto)

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
