"""Small building blocks the suite's checks share: watching a stream, writing, reading back."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import grpc

from toolkit.compat.calls import CallOutcome, LegacyClient, NewClient, _metadata

WAIT_S = 3.0  # events of a working server arrive within milliseconds


class EventWatcher:
    """Consumes a live Stream call on a thread; the events it has seen so far and how it ended."""

    def __init__(self, call: Any, parse: Callable[[Any], Any] = lambda event: event) -> None:
        self.call = call
        self.events: list[Any] = []
        self.code: str | None = None
        self.details = ""
        self._parse = parse
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._consume, daemon=True)
        self._thread.start()

    @classmethod
    def new(cls, client: NewClient, **request: Any) -> EventWatcher:
        watcher = cls(client.stream("Stream", client.request("Stream", **request)))
        watcher.ready()
        return watcher

    @classmethod
    def legacy(cls, client: LegacyClient, wire: bytes) -> EventWatcher:
        method = client.method("Stream")
        call = client.channel.unary_stream(method.path)(wire, timeout=120)
        watcher = cls(call, method.response.FromString)
        watcher.ready()
        return watcher

    def ready(self) -> dict[str, str]:
        """Wait for the initial metadata: the server has registered the subscription."""
        return _metadata(self.call.initial_metadata())

    def _consume(self) -> None:
        try:
            for event in self.call:
                with self._changed:
                    self.events.append(self._parse(event))
                    self._changed.notify_all()
            code = "OK"
            details = ""
        except grpc.RpcError as error:
            code, details = error.code().name, error.details() or ""
        with self._changed:
            self.code, self.details = code, details
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = WAIT_S) -> list[Any]:
        """Wait until `count` events arrived (or the stream ended, or `timeout`)."""
        with self._changed:
            self._changed.wait_for(
                lambda: len(self.events) >= count or self.code is not None, timeout
            )
            return list(self.events)

    def wait_until(self, predicate: Callable[[list[Any]], bool], timeout: float = WAIT_S) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.events), timeout)

    def wait_end(self, timeout: float = WAIT_S) -> str | None:
        with self._changed:
            self._changed.wait_for(lambda: self.code is not None, timeout)
            return self.code

    def stop(self) -> None:
        self.call.cancel()
        self._thread.join(5)


def remember(client: NewClient, memory_id: str, content: str = "") -> CallOutcome:
    request = client.request(
        "Remember",
        memory={"id": memory_id, "content": content or f"memory {memory_id}", "confidence": 1.0},
    )
    return client.call("Remember", request)


def recall_ids(client: NewClient, *, memory_id: str = "", content: str = "") -> list[str]:
    """Ids a Recall by id (or content substring) returns; raises when the call fails."""
    cue = {"id": memory_id} if memory_id else {"content_contains": content}
    outcome = client.call("Recall", client.request("Recall", cue=cue, max_results=1000))
    if not outcome.ok:
        raise AssertionError(f"Recall failed: {outcome.code} {outcome.details}")
    return [m.id for m in outcome.response.memories]
