"""`MemorySpaceService`: create, get, list and delete spaces through the registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from toolkit.contract import QUARANTINE_HEADER, QUARANTINED_COUNT, SPACE_FIELD, SPACE_SERVICE
from toolkit.schema.pool import Schema
from toolkit.server.hub import EventHub
from toolkit.server.messages import Messages
from toolkit.server.registry import (
    LifecycleError,
    MemorySpaceRegistry,
    SpaceHandle,
    SpaceInfo,
    SpaceLimitReached,
    SpaceNotFound,
    SpaceProtected,
)
from toolkit.server.rpc import Context, decoded, failures, method_handlers
from toolkit.server.space_id import InvalidSpaceId, MemorySpaceId
from toolkit.server.status import RpcFailure, failure, invalid_space_id, space_not_found
from toolkit.server.store import StoreClosed

SERVICE = SPACE_SERVICE
Answer = tuple[Any, list[SpaceInfo]]  # the response and the quarantined spaces it shows


class MemorySpaceServicer:
    def __init__(
        self,
        schema: Schema,
        registry: MemorySpaceRegistry,
        hub: EventHub,
        default_space: MemorySpaceId,
    ) -> None:
        self.schema = schema
        self.messages = Messages(schema)
        self.registry = registry
        self.hub = hub
        self.default_space = default_space

    def generic_handler(self) -> grpc.GenericRpcHandler:
        bodies: dict[str, Callable[[Any], Awaitable[Answer]]] = {
            "CreateSpace": self.create_space,
            "GetSpace": self.get_space,
            "ListSpaces": self.list_spaces,
            "DeleteSpace": self.delete_space,
        }
        table = {name: self._unary(name, body) for name, body in bodies.items()}
        return method_handlers(self.schema, SERVICE, table, kinds={})

    def _unary(
        self, rpc: str, body: Callable[[Any], Awaitable[Answer]]
    ) -> Callable[[Any, Context], Awaitable[Any]]:
        async def handle(request: Any, context: Context) -> Any:
            def translate(error: Exception) -> RpcFailure | None:
                if isinstance(error, (SpaceNotFound, StoreClosed)):
                    return self._not_found(request.memory_space_id, deleting=rpc == "DeleteSpace")
                if isinstance(error, SpaceProtected):
                    return failure(grpc.StatusCode.FAILED_PRECONDITION, str(error))
                if isinstance(error, SpaceLimitReached):
                    return failure(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
                if isinstance(error, LifecycleError):
                    return failure(grpc.StatusCode.UNAVAILABLE, str(error))
                return None

            async with failures(context, rpc, translate):
                response, quarantined = await body(decoded(request))
                if quarantined:
                    context.set_trailing_metadata(
                        tuple((QUARANTINE_HEADER, f"{i.id}: {i.quarantine}") for i in quarantined)
                    )
                return response

        return handle

    def _space_id(self, request: Any) -> MemorySpaceId:
        try:
            return MemorySpaceId(request.memory_space_id)
        except InvalidSpaceId as exc:
            raise invalid_space_id(exc, SPACE_FIELD) from exc

    def _not_found(self, raw: str, *, deleting: bool = False) -> RpcFailure:
        space = MemorySpaceId(raw)
        if deleting:  # "create it first" is no advice for a delete
            return space_not_found(space, f"memory space '{space}' does not exist; nothing deleted")
        return space_not_found(space, str(SpaceNotFound(space)))

    def _space(self, info: SpaceInfo) -> Any:
        message = self.messages.new(
            "MemorySpace",
            id=str(info.id),
            persistence_path=str(info.persistence_path),
            memory_count=QUARANTINED_COUNT if info.quarantine is not None else info.memory_count,
        )
        message.created_at.FromNanoseconds(info.created_at_ns)
        return message

    def _one(self, handle: SpaceHandle) -> tuple[Any, list[SpaceInfo]]:
        info = self.registry.info(handle)
        return self._space(info), [info] if info.quarantine is not None else []

    async def create_space(self, request: Any) -> Answer:
        handle, created = self.registry.create_reporting(self._space_id(request))
        space, quarantined = self._one(handle)
        return self.messages.new("CreateSpaceResponse", space=space, created=created), quarantined

    async def get_space(self, request: Any) -> Answer:
        space, quarantined = self._one(self.registry.get(self._space_id(request)))
        return self.messages.new("GetSpaceResponse", space=space), quarantined

    async def list_spaces(self, request: Any) -> Answer:
        infos = self.registry.list()
        spaces = [self._space(info) for info in infos]
        quarantined = [info for info in infos if info.quarantine is not None]
        return self.messages.new("ListSpacesResponse", spaces=spaces), quarantined

    async def delete_space(self, request: Any) -> Answer:
        space = self._space_id(request)
        self.registry.delete(space, protected=self.default_space)
        self.hub.close_space(space)
        return self.messages.new("DeleteSpaceResponse", deleted=True), []
