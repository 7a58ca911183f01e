"""`toolkit.client`: the space client returns records (no printing), the old import still works."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from toolkit.client.commands import print_answer
from toolkit.client.spaces import ServerUnreachable, SpaceRefused, call_space_service, manage_space
from toolkit.contract import DEFAULT_SPACE
from toolkit.server.app import ServerConfig, start_server_thread


@pytest.fixture
def address(tmp_path: Path) -> Iterator[str]:
    running = start_server_thread(ServerConfig(port=0, data_dir=tmp_path / "data"))
    try:
        yield running.address
    finally:
        running.stop()


def test_the_space_client_returns_records_and_prints_nothing(
    address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with grpc.insecure_channel(address) as channel:
        created = call_space_service(channel, "create", "team-a", timeout=10)
        again = call_space_service(channel, "create", "team-a", timeout=10)
        listed = call_space_service(channel, "list", None, timeout=10)
        got = call_space_service(channel, "get", "team-a", timeout=10)
        deleted = call_space_service(channel, "delete", "team-a", timeout=10)
        with pytest.raises(SpaceRefused) as refused:
            call_space_service(channel, "get", "team-a", timeout=10)
    assert capsys.readouterr() == ("", "")
    assert created.created is True and again.created is False
    assert created.spaces[0].id == "team-a" and "team-a" in created.spaces[0].persistence_path
    assert [s.id for s in listed.spaces] == [DEFAULT_SPACE, "team-a"]
    assert got.spaces[0].memory_count == 0 and got.spaces[0].created_at.endswith("Z")
    assert deleted.deleted == "team-a"
    assert refused.value.code == "NOT_FOUND" and "team-a" in refused.value.details
    print_answer(listed)
    assert capsys.readouterr().out.splitlines()[1].startswith("team-a\tmemories=0\t")


def test_no_server_is_server_unreachable() -> None:
    with pytest.raises(ServerUnreachable, match=r"no server at 127\.0\.0\.1:1"):
        manage_space("list", None, "127.0.0.1:1", timeout=2)


def test_the_old_client_module_still_imports_and_warns() -> None:
    sys.modules.pop("toolkit.compat.client", None)
    with pytest.warns(DeprecationWarning, match=r"toolkit\.client"):
        old = importlib.import_module("toolkit.compat.client")
    from toolkit.client import space_channel

    assert old.space_channel is space_channel
