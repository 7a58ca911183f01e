"""The gRPC errors the server sends, with their `google.rpc` details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from toolkit.contract import ERROR_DOMAIN, NOT_FOUND_REASON, SPACE_FIELD
from toolkit.server.space_id import SPACE_ID_RULE, InvalidSpaceId, MemorySpaceId


class RpcFailure(Exception):
    """Raised inside a handler; the servicer turns it into the call's status."""

    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status

    @property
    def code(self) -> grpc.StatusCode:
        return _GRPC_CODES[self.status.code]


_GRPC_CODES = {code.value[0]: code for code in grpc.StatusCode}


def failure(code: grpc.StatusCode, message: str, *details: object) -> RpcFailure:
    status = status_pb2.Status(code=code.value[0], message=message)
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return RpcFailure(status)


def invalid_space_id(error: InvalidSpaceId, source: str) -> RpcFailure:
    """INVALID_ARGUMENT for a malformed id from `source` (a field name or a header)."""
    violation = error_details_pb2.BadRequest.FieldViolation(
        field=source, description=f"a memory space id is {SPACE_ID_RULE}"
    )
    return failure(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"{source}: {error}",
        error_details_pb2.BadRequest(field_violations=[violation]),
    )


def space_not_found(space_id: MemorySpaceId, message: str) -> RpcFailure:
    info = error_details_pb2.ErrorInfo(
        reason=NOT_FOUND_REASON, domain=ERROR_DOMAIN, metadata={SPACE_FIELD: space_id}
    )
    return failure(grpc.StatusCode.NOT_FOUND, message, info)


def invalid_argument(message: str, field: str) -> RpcFailure:
    violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=message)
    return failure(
        grpc.StatusCode.INVALID_ARGUMENT,
        message,
        error_details_pb2.BadRequest(field_violations=[violation]),
    )


def space_deleted(space_id: MemorySpaceId) -> RpcFailure:
    """NOT_FOUND for a call (a stream) whose space was deleted while it ran."""
    info = error_details_pb2.ErrorInfo(
        reason=NOT_FOUND_REASON, domain=ERROR_DOMAIN, metadata={SPACE_FIELD: space_id}
    )
    return failure(grpc.StatusCode.NOT_FOUND, f"memory space {space_id} was deleted", info)


def with_note(error: RpcFailure, note: str) -> RpcFailure:
    """`error` with `note` appended to its message (its code and details kept)."""
    status = status_pb2.Status()
    status.CopyFrom(error.status)
    status.message += note
    return RpcFailure(status)
