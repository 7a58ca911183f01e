"""Before the checks: what the target implements, against what the schema under test declares.

Asked through server reflection (`grpc.reflection.v1` first, as grpcurl and Node's client do,
then `v1alpha`); a target without reflection is probed instead: each RPC is called once with a
malformed space header, which a server that implements it refuses (INVALID_ARGUMENT) and one
that does not answers UNIMPLEMENTED, so nothing is written. A check whose RPCs are missing is
then `not_run` with one shared cause instead of failing in a cascade.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import grpc
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from toolkit.contract import (
    ENGRAM_RPC_NAMES,
    ENGRAM_SERVICE,
    ENGRAM_SERVICE_NAME,
    SPACE_HEADER,
    SPACE_SERVICE,
    SPACE_SERVICE_NAME,
)
from toolkit.documents.compat import Preflight
from toolkit.schema.pool import Schema

log = logging.getLogger(__name__)

REFLECTION_SERVICES = ("grpc.reflection.v1", "grpc.reflection.v1alpha")
REFLECTION_METHOD = "ServerReflection/ServerReflectionInfo"
# The space service's RPCs the suite itself needs (to make and remove its spaces).
SPACE_RPCS = ("CreateSpace", "DeleteSpace")
TIMEOUT_S = 5.0
MALFORMED_SPACE = "Not A Valid Space!"


def qualified(service: str, rpc: str) -> str:
    """`EngramService/Forget`: how a person names an RPC."""
    return f"{service}/{rpc}"


def wanted_rpcs() -> tuple[tuple[str, str], ...]:
    """(full service name, rpc) of everything the suite calls."""
    return (
        *((ENGRAM_SERVICE, rpc) for rpc in ENGRAM_RPC_NAMES),
        *((SPACE_SERVICE, rpc) for rpc in SPACE_RPCS),
    )


def short(service: str) -> str:
    return {ENGRAM_SERVICE: ENGRAM_SERVICE_NAME, SPACE_SERVICE: SPACE_SERVICE_NAME}.get(
        service, service
    )


def _reflect(
    channel: grpc.Channel, package: str, requests: Sequence[reflection_pb2.ServerReflectionRequest]
) -> list[reflection_pb2.ServerReflectionResponse]:
    call = channel.stream_stream(
        f"/{package}.{REFLECTION_METHOD}",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    return list(call(iter(requests), timeout=TIMEOUT_S))


def reflected_methods(channel: grpc.Channel) -> tuple[str | None, list[str], dict[str, set[str]]]:
    """(reflection package that answered, services listed, methods of the suite's services)."""
    for package in REFLECTION_SERVICES:
        try:
            (listing,) = _reflect(
                channel, package, [reflection_pb2.ServerReflectionRequest(list_services="")]
            )
        except (grpc.RpcError, ValueError):
            continue
        services = [s.name for s in listing.list_services_response.service]
        wanted = [s for s in (ENGRAM_SERVICE, SPACE_SERVICE) if s in services]
        answers = _reflect(
            channel,
            package,
            [reflection_pb2.ServerReflectionRequest(file_containing_symbol=s) for s in wanted],
        )
        methods: dict[str, set[str]] = {s: set() for s in wanted}
        for answer in answers:
            for raw in answer.file_descriptor_response.file_descriptor_proto:
                file = descriptor_pb2.FileDescriptorProto.FromString(raw)
                for service in file.service:
                    full = f"{file.package}.{service.name}" if file.package else service.name
                    if full in methods:
                        methods[full].update(m.name for m in service.method)
        return package, services, methods
    return None, [], {}


def probe_implemented(channel: grpc.Channel, service: str, rpc: str) -> bool:
    """Whether the target implements `rpc`: a call naming a malformed space is not UNIMPLEMENTED.

    The empty message is a valid request of every RPC; the malformed header makes a server
    that implements it refuse before it does anything.
    """
    path = f"/{service}/{rpc}"
    metadata = ((SPACE_HEADER, MALFORMED_SPACE),)
    call = channel.stream_stream(path)(iter([b""]), metadata=metadata, timeout=TIMEOUT_S)
    try:
        for _ in call:  # a server that ignores the header may answer: read it to the end
            pass
    except grpc.RpcError:
        pass
    return bool(call.code() != grpc.StatusCode.UNIMPLEMENTED)


def serving(channel: grpc.Channel) -> bool | None:
    """The health service's answer for the whole server (None: health is not served)."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        answer = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_S)
    except grpc.RpcError:
        return None
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


def declared_by(schema: Schema) -> set[tuple[str, str]]:
    declared: set[tuple[str, str]] = set()
    for file in schema.files.file:
        for service in file.service:
            full = f"{file.package}.{service.name}"
            declared.update((full, m.name) for m in service.method)
    return declared


def cause_of(missing_in_schema: Iterable[str], missing_in_target: Iterable[str]) -> str | None:
    parts = []
    in_schema, in_target = sorted(missing_in_schema), sorted(missing_in_target)
    if in_schema:
        parts.append(f"the schema under test does not declare {', '.join(in_schema)}")
    if in_target:
        parts.append(f"the target does not implement {', '.join(in_target)}")
    return "; ".join(parts) or None


def run_preflight(channel: grpc.Channel, schema: Schema) -> Preflight:
    """Ask the target what it implements and compare with the schema under test."""
    reflection, services, methods = reflected_methods(channel)
    declared = declared_by(schema)
    missing_in_schema = [
        qualified(short(s), rpc) for s, rpc in wanted_rpcs() if (s, rpc) not in declared
    ]
    missing_in_target: list[str] = []
    for service, rpc in wanted_rpcs():
        if (service, rpc) not in declared:
            continue
        if reflection is not None:
            implemented = rpc in methods.get(service, set())
        else:
            implemented = probe_implemented(channel, service, rpc)
        if not implemented:
            missing_in_target.append(qualified(short(service), rpc))
    health = serving(channel)
    if health is False:
        missing_in_target.append("a SERVING health status")
    log.debug("preflight: reflection %s, services %s", reflection, services)
    return Preflight(
        services=tuple(sorted(services)),
        missing=tuple(sorted({*missing_in_schema, *missing_in_target})),
        cause=cause_of(missing_in_schema, missing_in_target),
        reflection=reflection,
    )


def missing_for(preflight: Preflight, needs: Iterable[str]) -> list[str]:
    """Which of `needs` (`Service/Rpc`) the preflight found missing."""
    return [need for need in needs if need in preflight.missing]
