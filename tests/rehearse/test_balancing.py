"""The workload's channel spreads calls over every server of the fleet (round_robin)."""

from __future__ import annotations

from pathlib import Path

from toolkit.rehearse.invariants import read_server
from toolkit.rehearse.workload import Schemas, balanced_channel
from toolkit.server.app import ServerConfig, start_server_thread

CALLS = 40


def test_round_robin_spreads_writes_over_every_server(tmp_path: Path) -> None:
    schemas = Schemas()
    servers = [
        start_server_thread(ServerConfig(data_dir=tmp_path / f"s{i}", schema="legacy"))
        for i in range(2)
    ]
    try:
        channel = balanced_channel([s.address for s in servers])
        remember = schemas.remember(channel, schemas.legacy)
        for n in range(CALLS):
            request = schemas.remember_request(schemas.legacy, f"m-{n}", f"rehearsal {n}")
            remember(request, timeout=10, wait_for_ready=True)
        channel.close()
        held = [set().union(*read_server(s.address, schemas).values()) for s in servers]
    finally:
        for server in servers:
            server.stop()
    assert held[0] and held[1] and not held[0] & held[1]
    assert len(held[0]) + len(held[1]) == CALLS
