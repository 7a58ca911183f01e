"""What the calls of a suite case made the server log, known complete without waiting blindly.

The server logs a legacy call's deprecation WARNING, with the call's peer, before it answers,
and its log lines are written in order. So after the calls under test, one more legacy call
(the sentinel) on the suite's own connection: once the sentinel's record is in the log, every
record of the earlier calls is too, and "no record" is a fact rather than a timeout.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc

from toolkit.compat.calls import LegacyClient
from toolkit.contract import PACKAGE
from toolkit.errors import ToolkitError

LogRecords = list[dict[str, Any]]
SENTINEL_RPC = "Introspect"
# A working server logs within milliseconds; this only bounds a server that never logs.
SENTINEL_TIMEOUT_S = 5.0
POLL_S = 0.002
PEER_ATTEMPTS = 20
PEER_BURSTS = 4  # the calls of one attempt cycle through 1..PEER_BURSTS
PEER_SETTLE_S = 0.05
# Its own subchannel: the sentinel's peer (client address) differs from the suite's other calls.
SENTINEL_CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]


class SentinelNotLogged(AssertionError):
    """The server's log shows no record of the sentinel call, so it cannot be judged."""


# The groups a --server-log-pattern names: a record's level, RPC and peer (and message).
PATTERN_GROUPS = ("level", "rpc", "peer")


class LogFile:
    """The log file an external target writes, read as far as it has been written.

    Lines are JSON objects (the reference server's format) or, with `pattern`, lines matched by
    a regular expression whose named groups `level`, `rpc` and `peer` (and optionally
    `message`) become the record's fields; other lines are ignored.
    """

    def __init__(self, path: Path, pattern: str | None = None) -> None:
        self.path = path
        self._pattern = re.compile(pattern) if pattern else None
        if self._pattern is not None:
            absent = [g for g in PATTERN_GROUPS if g not in self._pattern.groupindex]
            if absent:
                raise ToolkitError(
                    f"--server-log-pattern names no group {', '.join(absent)}: "
                    "use (?P<level>...), (?P<rpc>...) and (?P<peer>...)"
                )
        if not path.is_file():
            raise ToolkitError(f"--server-log {path} is not a readable file")
        self._records: list[dict[str, Any]] = []
        self._offset = 0
        self._partial = b""
        self._lock = threading.Lock()

    def parse(self, line: str) -> dict[str, Any] | None:
        if self._pattern is None:
            try:
                record = json.loads(line)
            except ValueError:
                return None
            return record if isinstance(record, dict) else None
        match = self._pattern.search(line)
        if match is None:
            return None
        return {k: v for k, v in match.groupdict().items() if v is not None}

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
            self._offset += len(data)
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            for raw in lines:
                record = self.parse(raw.decode("utf-8", "replace"))
                if record is not None:
                    self._records.append(record)
            return list(self._records)


def is_deprecation_record(rpc: str) -> Callable[[dict[str, Any]], bool]:
    def matches(record: dict[str, Any]) -> bool:
        level = str(record.get("level", record.get("levelname", ""))).upper()
        return level in ("WARNING", "WARN") and (
            record.get("rpc") == rpc or rpc in str(record.get("message"))
        )

    return matches


class ServerLog:
    """A started server's log records, delimited by sentinel legacy calls."""

    def __init__(
        self,
        read: Callable[[], LogRecords | None],
        address: str,
        calls: grpc.Channel | None = None,
    ) -> None:
        self._read = read
        self._channel = grpc.insecure_channel(address, options=SENTINEL_CHANNEL_OPTIONS)
        self._client = LegacyClient(self._channel)
        self._request = self._client.schema.message(f"{PACKAGE}.{SENTINEL_RPC}Request")()
        self._peer: str | None = None
        # The channel the cases call on: only its records are theirs (other workers, or other
        # clients of a shared target, log deprecated calls of their own meanwhile).
        self._calls = LegacyClient(calls) if calls is not None else None
        self._calls_peer: str | None = None
        # Once the server did not log the sentinel, every later case is told at once.
        self._unlogged: str | None = None

    def mark(self) -> int:
        """The position after the records logged so far."""
        return len(self._read() or [])

    def records_since(self, mark: int) -> LogRecords:
        """Every record logged after `mark` by the calls that have returned so far."""
        if self._unlogged is not None:
            raise SentinelNotLogged(self._unlogged)
        try:
            peer = self._sentinel_peer()
            calls_peer = self._peer_of_calls()
            end = self._sentinel(lambda record: record.get("peer") == peer, after=mark)
        except SentinelNotLogged as exc:
            self._unlogged = str(exc)
            raise
        records = (self._read() or [])[mark:end]
        if calls_peer is None:
            return records
        return [r for r in records if r.get("peer") == calls_peer]

    def _peer_of_calls(self) -> str | None:
        if self._calls is None:
            return None
        if self._calls_peer is None:
            self._calls_peer = self._learn_peer(self._calls)
        return self._calls_peer

    def _learn_peer(self, client: LegacyClient) -> str:
        """The peer the server logs for `client`'s calls. Each attempt makes 1 to 4 legacy
        Introspect calls on `client` (the count changes from attempt to attempt); the peer is
        the one named exactly that many times in the window of every attempt. Other clients
        logging alike meanwhile (other workers' own sentinels, users of a shared target) do
        not match every count, however steadily they call; asked again until one peer is left."""
        is_sentinel = is_deprecation_record(SENTINEL_RPC)
        candidates: set[str] | None = None
        for attempt in range(PEER_ATTEMPTS):
            calls = 1 + attempt % PEER_BURSTS
            mark = self.mark()
            outcomes = [client.call(SENTINEL_RPC, self._request) for _ in range(calls)]
            if not all(outcome.ok for outcome in outcomes):
                break
            deadline = time.monotonic() + SENTINEL_TIMEOUT_S
            while time.monotonic() < deadline:
                found = [r for r in (self._read() or [])[mark:] if is_sentinel(r)]
                if len(found) >= calls:
                    break
                time.sleep(POLL_S)
            else:
                raise SentinelNotLogged(
                    f"the server logged no WARNING record for a legacy {SENTINEL_RPC} call "
                    f"within {SENTINEL_TIMEOUT_S:.0f} s"
                )
            time.sleep(PEER_SETTLE_S)  # a concurrent record logged just after ours shows now
            found = [r for r in (self._read() or [])[mark:] if is_sentinel(r)]
            counts = Counter(
                str(r["peer"]) for r in found if isinstance(r.get("peer"), str) and r["peer"]
            )
            peers = {peer for peer, count in counts.items() if count == calls}
            # An empty intersection: a record of ours came after its window; start again.
            candidates = peers if not candidates else candidates & peers
            if len(candidates) == 1:
                return next(iter(candidates))
        raise SentinelNotLogged(
            f"the server's WARNING records of legacy {SENTINEL_RPC} calls name no peer that "
            "tells this client's calls from other clients'"
        )

    def close(self) -> None:
        self._channel.close()

    def _sentinel_peer(self) -> str:
        """The sentinel connection's peer as the server logs it (learnt from its first call)."""
        if self._peer is None:
            self._peer = self._learn_peer(self._client)
        return self._peer

    def _sentinel(self, matches: Callable[[dict[str, Any]], bool], *, after: int) -> int:
        """Send the sentinel; the index of its WARNING record (the first matching after `after`)."""
        outcome = self._client.call(SENTINEL_RPC, self._request)
        if not outcome.ok:
            raise SentinelNotLogged(
                f"a legacy {SENTINEL_RPC} call (sent to mark the server's log) was answered "
                f"{outcome.code} {outcome.details}"
            )
        is_sentinel = is_deprecation_record(SENTINEL_RPC)
        deadline = time.monotonic() + SENTINEL_TIMEOUT_S
        while True:
            records = self._read() or []
            for index in range(after, len(records)):
                if is_sentinel(records[index]) and matches(records[index]):
                    return index
            if time.monotonic() >= deadline:
                raise SentinelNotLogged(
                    f"the server logged no WARNING record for a legacy {SENTINEL_RPC} call "
                    f"within {SENTINEL_TIMEOUT_S:.0f} s"
                )
            time.sleep(POLL_S)
