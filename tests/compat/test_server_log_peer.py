"""The suite learns which peer the server logs for its own calls while other clients of the same
server log deprecated calls of their own (other workers, other users of a shared target)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from toolkit.compat import server_log
from toolkit.compat.server_log import SENTINEL_RPC, SentinelNotLogged, ServerLog

OURS = "ipv4:127.0.0.1:40001"


def _record(peer: str) -> dict[str, Any]:
    return {"level": "WARNING", "rpc": SENTINEL_RPC, "peer": peer, "message": "deprecated"}


class _Outcome:
    ok = True


class _NoisyClient:
    """Each call logs its own record plus the records of `others(n)` (the n-th call's noise)."""

    def __init__(self, records: list[dict[str, Any]], others: Any) -> None:
        self.records = records
        self.others = others
        self.calls = itertools.count()

    def call(self, rpc: str, request: Any) -> _Outcome:
        n = next(self.calls)
        for peer in self.others(n)[:1]:
            self.records.append(_record(peer))
        self.records.append(_record(OURS))
        for peer in self.others(n)[1:]:
            self.records.append(_record(peer))
        return _Outcome()


def _learn(others: Any) -> str:
    records: list[dict[str, Any]] = []
    log = ServerLog(lambda: records, "127.0.0.1:1")
    try:
        return log._learn_peer(_NoisyClient(records, others))  # type: ignore[arg-type]
    finally:
        log.close()


@pytest.fixture(autouse=True)
def _no_settling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_log, "PEER_SETTLE_S", 0.0)


def test_alone_the_first_call_names_the_peer() -> None:
    assert _learn(lambda n: []) == OURS


def test_another_client_in_every_window_is_told_apart() -> None:
    # Another worker logs a legacy call beside each of ours, from a new connection each time:
    # no window holds our record alone, yet only our peer is in all of them.
    assert _learn(lambda n: [f"ipv4:127.0.0.1:{50000 + n}"]) == OURS


def _first_calls_of_attempts() -> set[int]:
    """The index of the first call of each attempt (attempts make 1, 2, 3, 4, 1, ... calls)."""
    starts, at = set(), 0
    for attempt in range(server_log.PEER_ATTEMPTS):
        starts.add(at)
        at += 1 + attempt % server_log.PEER_BURSTS
    return starts


def test_a_steady_neighbour_is_told_apart_by_the_count_of_its_records() -> None:
    # Another worker's sentinel logs once in every window, from the same connection: it is in
    # every window, but not as many times as this client called.
    starts = _first_calls_of_attempts()
    assert _learn(lambda n: ["ipv4:127.0.0.1:50000"] if n in starts else []) == OURS


def test_a_steady_neighbour_is_told_apart_once_it_misses_a_window() -> None:
    assert _learn(lambda n: ["ipv4:127.0.0.1:50000"] if n < 3 else []) == OURS


def test_a_neighbour_that_matches_every_call_leaves_the_peer_unknown() -> None:
    with pytest.raises(SentinelNotLogged, match="name no peer"):
        _learn(lambda n: ["ipv4:127.0.0.1:50000"])


def test_records_without_peers_leave_it_unknown() -> None:
    records: list[dict[str, Any]] = []

    class _Peerless(_NoisyClient):
        def call(self, rpc: str, request: Any) -> _Outcome:
            self.records.append({"level": "WARNING", "rpc": SENTINEL_RPC, "message": "x"})
            return _Outcome()

    log = ServerLog(lambda: records, "127.0.0.1:1")
    try:
        with pytest.raises(SentinelNotLogged):
            log._learn_peer(_Peerless(records, None))  # type: ignore[arg-type]
    finally:
        log.close()
