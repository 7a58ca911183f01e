"""Space resolution, deprecation, errors: the routing half of the server contract."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.broken_servers import AutoCreatingResolver, HeaderBlindResolver, SilentResolver
from tests.server.calls import invoke, request_for
from tests.server.conftest import SPACE_RPCS, Client, start
from tests.server.ids import HEADER_MALFORMED_IDS, MALFORMED_IDS
from toolkit.contract import DEPRECATION_HEADER, SPACE_HEADER
from toolkit.server.app import RunningServer, ServerOverrides

RPC_NAMES = [rpc for _, rpc in SPACE_RPCS]


def headers(call: grpc.Call) -> dict[str, str]:
    """The call's response metadata: initial and trailing together."""
    initial, trailing = call.initial_metadata() or (), call.trailing_metadata() or ()
    return {key: value for key, value in (*initial, *trailing)}


def initial(call: grpc.Call) -> dict[str, str]:
    return {key: value for key, value in call.initial_metadata() or ()}


def details_of(call: grpc.Call) -> list[object]:
    status = rpc_status.from_call(call)
    found: list[object] = []
    for packed in status.details if status else ():
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.BadRequest):
            if packed.Is(kind.DESCRIPTOR):
                detail = kind()
                packed.Unpack(detail)
                found.append(detail)
    return found


# --- checks, each shown failing against a broken server below ------------------------------


def check_unknown_space_is_not_found(client: Client, data_dir: Path) -> None:
    call = invoke(client, "Remember", request_for(client, "Remember", "ghost-space"))
    assert call.code() == grpc.StatusCode.NOT_FOUND, call.code()
    assert "engram-compat space create ghost-space" in call.details()
    infos = [d for d in details_of(call) if isinstance(d, error_details_pb2.ErrorInfo)]
    assert [i.reason for i in infos] == ["MEMORY_SPACE_NOT_FOUND"]
    assert not (data_dir / "spaces" / "ghost-space").exists()


def check_legacy_call_is_deprecated(client: Client) -> None:
    call = invoke(client, "Remember", request_for(client, "Remember", ""))
    assert call.code() == grpc.StatusCode.OK
    sent = headers(call)
    assert sent.get(SPACE_HEADER) == "default"
    assert "memory_space_id" in sent.get(DEPRECATION_HEADER, "")


def check_header_routes(client: Client) -> None:
    client.create_space("team-a")
    response, call = client.with_call(
        "Introspect", client.msg("IntrospectRequest"), metadata=[(SPACE_HEADER, "team-a")]
    )
    assert response.resolved_memory_space_id == "team-a"
    assert headers(call).get(SPACE_HEADER) == "team-a"
    assert DEPRECATION_HEADER not in headers(call)


def test_the_reference_server_passes_every_routing_check(client: Client, data_dir: Path) -> None:
    check_unknown_space_is_not_found(client, data_dir)
    check_legacy_call_is_deprecated(client)
    check_header_routes(client)


@pytest.fixture
def broken_client(
    request: pytest.FixtureRequest, data_dir: Path
) -> Iterator[tuple[Client, RunningServer]]:
    running = start(data_dir, ServerOverrides(resolver=request.param))
    channel = grpc.insecure_channel(running.address)
    try:
        yield Client(channel), running
    finally:
        channel.close()
        running.stop()


@pytest.mark.parametrize("broken_client", [AutoCreatingResolver], indirect=True)
def test_not_found_check_fails_on_an_auto_creating_server(
    broken_client: tuple[Client, RunningServer], data_dir: Path
) -> None:
    with pytest.raises(AssertionError):
        check_unknown_space_is_not_found(broken_client[0], data_dir)


@pytest.mark.parametrize("broken_client", [SilentResolver], indirect=True)
def test_deprecation_check_fails_on_a_silent_server(
    broken_client: tuple[Client, RunningServer],
) -> None:
    with pytest.raises(AssertionError):
        check_legacy_call_is_deprecated(broken_client[0])


@pytest.mark.parametrize("broken_client", [HeaderBlindResolver], indirect=True)
def test_header_check_fails_on_a_header_blind_server(
    broken_client: tuple[Client, RunningServer],
) -> None:
    with pytest.raises(AssertionError):
        check_header_routes(broken_client[0])


# --- the rest of the contract ------------------------------------------------------------


@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_every_rpc_without_a_space_is_routed_to_default_and_deprecated(
    client: Client, rpc: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="toolkit.server"):
        call = invoke(client, rpc, request_for(client, rpc, ""))
    assert call.code() in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED)
    assert headers(call)[SPACE_HEADER] == "default"
    assert "default" in initial(call)[DEPRECATION_HEADER]
    records = [r for r in caplog.records if getattr(r, "event", None) == "deprecated_request"]
    assert len(records) == 1
    record = records[0]
    assert record.levelno == logging.WARNING
    assert (record.rpc, record.default_space) == (rpc, "default")  # type: ignore[attr-defined]
    assert record.peer  # type: ignore[attr-defined]


@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_every_rpc_naming_a_space_is_routed_there_without_deprecation(
    client: Client, rpc: str, caplog: pytest.LogCaptureFixture
) -> None:
    client.create_space("team-a")
    with caplog.at_level(logging.WARNING, logger="toolkit.server"):
        call = invoke(client, rpc, request_for(client, rpc, "team-a"))
    assert call.code() in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED)
    assert headers(call)[SPACE_HEADER] == "team-a"
    assert DEPRECATION_HEADER not in headers(call)
    assert not [r for r in caplog.records if getattr(r, "event", None) == "deprecated_request"]


@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_the_space_is_named_in_trailing_metadata_and_early_only_before_streamed_answers(
    client: Client, rpc: str
) -> None:
    """Initial metadata sent by hand costs a write of its own, so a unary answer names its
    space only in trailing metadata; a streamed answer names it before the first message."""
    client.create_space("team-a")
    call = invoke(client, rpc, request_for(client, rpc, "team-a"))
    if rpc in ("Stream", "MemoryFlow"):
        assert initial(call)[SPACE_HEADER] == "team-a"
    else:
        assert SPACE_HEADER not in initial(call)
    if rpc != "Stream":  # the test cancels its Stream, which ends it without trailers
        assert dict(call.trailing_metadata())[SPACE_HEADER] == "team-a"


def test_an_error_after_the_space_was_resolved_still_names_it(client: Client) -> None:
    client.create_space("team-a")
    request = client.msg("RememberRequest", memory_space_id="team-a")  # no memory, no episode
    call = invoke(client, "Remember", request)
    assert call.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(call.trailing_metadata())[SPACE_HEADER] == "team-a"
    bad = [d for d in details_of(call) if isinstance(d, error_details_pb2.BadRequest)]
    assert [v.field for v in bad[0].field_violations] == ["memory_type"]


@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_every_rpc_refuses_an_unknown_space(client: Client, rpc: str, data_dir: Path) -> None:
    client.create_space("tenant-secret")
    call = invoke(client, rpc, request_for(client, rpc, "ghost-space"))
    assert call.code() == grpc.StatusCode.NOT_FOUND
    assert "tenant-secret" not in call.details()
    assert "default" not in call.details()
    assert not (data_dir / "spaces" / "ghost-space").exists()


@pytest.mark.parametrize("rpc", RPC_NAMES)
def test_field_and_header_naming_different_spaces_is_invalid(client: Client, rpc: str) -> None:
    client.create_space("team-a")
    client.create_space("team-b")
    call = invoke(
        client, rpc, request_for(client, rpc, "team-a"), metadata=[(SPACE_HEADER, "team-b")]
    )
    assert call.code() == grpc.StatusCode.INVALID_ARGUMENT
    same = invoke(
        client, rpc, request_for(client, rpc, "team-a"), metadata=[(SPACE_HEADER, "team-a")]
    )
    assert same.code() in (grpc.StatusCode.OK, grpc.StatusCode.CANCELLED)


def test_malformed_ids_are_invalid_on_every_rpc_and_create_nothing(
    client: Client, data_dir: Path
) -> None:
    before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    refused = 0
    for space in MALFORMED_IDS:
        for rpc in [*RPC_NAMES, "CreateSpace", "GetSpace", "DeleteSpace"]:
            call = invoke(client, rpc, request_for(client, rpc, space))
            assert call.code() == grpc.StatusCode.INVALID_ARGUMENT, (rpc, space, call.code())
            assert "3-64 characters" in call.details()
            bad = [d for d in details_of(call) if isinstance(d, error_details_pb2.BadRequest)]
            assert bad and bad[0].field_violations
            refused += 1
    for space in HEADER_MALFORMED_IDS:
        for rpc in RPC_NAMES:
            call = invoke(client, rpc, request_for(client, rpc, ""), [(SPACE_HEADER, space)])
            assert call.code() == grpc.StatusCode.INVALID_ARGUMENT, (rpc, space, call.code())
            refused += 1
    assert refused >= 20 * 11
    assert sorted(p.relative_to(data_dir) for p in data_dir.rglob("*")) == before
    assert [p.name for p in (data_dir / "spaces").iterdir()] == ["default"]
