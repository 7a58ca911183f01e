"""The workload: clients writing without pause through every step of the plan.

Every client starts on the legacy schema (the baseline's own message classes, no space:
its writes belong in the default space). When its cohort moves it switches to the current
schema and names its own space on every request; the space is created on every server that
offers MemorySpaceService. All clients share one channel balanced by `round_robin` over the
fleet's addresses, so consecutive calls land on different servers.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from toolkit.contract import (
    DEFAULT_SPACE,
    ENGRAM_SERVICE_NAME,
    PACKAGE,
    SPACE_FIELD,
    SPACE_SERVICE,
    SPACE_SERVICE_NAME,
)
from toolkit.schema.pool import Schema, load_schema

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 3.0
PAUSE_S = 0.005  # between one client's writes: keeps two shared cores usable for the fleet
FAILED_PAUSE_S = 0.05  # after a failed write (e.g. no server up): a client backs off
CONTENT_PREFIX = "rehearsal"
CLIENTS_PER_COHORT = 2
SEED_CLIENT = "seed"  # the legacy client that writes the seed data before any step
CHANNEL_OPTIONS: tuple[tuple[str, Any], ...] = (
    ("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 300),
)


@dataclass(frozen=True)
class Write:
    """An acknowledged write: which client, the space it was addressed to, and when."""

    id: str
    client: str
    space: str
    legacy: bool
    step: int
    acked_s: float


@dataclass(frozen=True)
class FailedWrite:
    client: str
    step: int
    code: str


def balanced_channel(addresses: Sequence[str]) -> grpc.Channel:
    """One channel over every address, `round_robin` across them."""
    return grpc.insecure_channel("ipv4:" + ",".join(addresses), options=CHANNEL_OPTIONS)


def client_space(client: str) -> str:
    return f"tenant-{client}"


class Schemas:
    """Request builders and callables of both schemas (each in its own descriptor pool)."""

    def __init__(self) -> None:
        self.legacy: Schema = load_schema("legacy")
        self.current: Schema = load_schema("current")

    def remember_request(self, schema: Schema, memory_id: str, content: str) -> Any:
        request = schema.message(f"{PACKAGE}.RememberRequest")()
        request.memory.id = memory_id
        request.memory.content = content
        request.memory.confidence = 0.9
        return request

    def remember(self, channel: grpc.Channel, schema: Schema) -> Any:
        return schema.callable(channel, schema.method(ENGRAM_SERVICE_NAME, "Remember"))


def offers_spaces(channel: grpc.Channel) -> bool:
    """Whether the server behind a direct channel serves MemorySpaceService."""
    stub = health_pb2_grpc.HealthStub(channel)
    try:
        answer = stub.Check(health_pb2.HealthCheckRequest(service=SPACE_SERVICE), timeout=2.0)
    except grpc.RpcError:
        return False
    return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)


class Provisioner:
    """Creates the new clients' spaces on every server that offers MemorySpaceService."""

    def __init__(self, addresses: Sequence[str], schemas: Schemas) -> None:
        self.addresses = list(addresses)
        self.schemas = schemas
        self._lock = threading.Lock()
        self._spaces: set[str] = set()

    def add(self, space: str) -> None:
        with self._lock:
            self._spaces.add(space)
        self.provision()

    def provision(self) -> None:
        with self._lock:
            spaces = sorted(self._spaces)
        if not spaces:
            return
        schema = self.schemas.current
        method = schema.method(SPACE_SERVICE_NAME, "CreateSpace")
        request_class = schema.message(f"{PACKAGE}.CreateSpaceRequest")
        for address in self.addresses:
            with grpc.insecure_channel(address) as channel:
                if not offers_spaces(channel):
                    continue
                create = schema.callable(channel, method)
                for space in spaces:
                    try:
                        create(request_class(**{SPACE_FIELD: space}), timeout=CALL_TIMEOUT_S)
                    except grpc.RpcError as exc:
                        log.info("cannot create space %s on %s: %s", space, address, exc.code())


class Workload:
    """Client threads writing until `stop()`; the current step is set by the runner."""

    def __init__(self, addresses: Sequence[str], cohorts: int, *, legacy_only: int = 1) -> None:
        self.schemas = Schemas()
        self.channel = balanced_channel(addresses)
        self._remember = {
            schema: self.schemas.remember(self.channel, schema)
            for schema in (self.schemas.legacy, self.schemas.current)
        }
        self.provisioner = Provisioner(addresses, self.schemas)
        self.step = 0
        self.writes: list[Write] = []
        self.failures: list[FailedWrite] = []
        self._moved: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._began = time.monotonic()
        # (client name, cohort or None for a client that never moves)
        self.clients: list[tuple[str, int | None]] = [
            (f"c{c + 1}{chr(ord('a') + k)}", c)
            for c in range(cohorts)
            for k in range(CLIENTS_PER_COHORT)
        ] + [(f"legacy{k + 1}", None) for k in range(legacy_only)]
        self._threads: list[threading.Thread] = []

    # --- what the runner calls -------------------------------------------------------------

    def move(self, cohort: int, *, to_current: bool) -> None:
        """Switch a cohort's clients; a moving client's space is created before it writes."""
        if to_current:
            for name, client_cohort in self.clients:
                if client_cohort == cohort:
                    self.provisioner.add(client_space(name))
        with self._lock:
            if to_current:
                self._moved.add(cohort)
            else:
                self._moved.discard(cohort)

    def seed(self, count: int) -> None:
        """Legacy clients write `count` memories before any step (step 0)."""
        for n in range(count):
            self._write_once(SEED_CLIENT, None, n)

    def start(self) -> None:
        for name, cohort in self.clients:
            thread = threading.Thread(target=self._run, args=(name, cohort), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(CALL_TIMEOUT_S + 2)
        self.channel.close()

    def acknowledged(self) -> list[Write]:
        with self._lock:
            return list(self.writes)

    def failed(self) -> list[FailedWrite]:
        with self._lock:
            return list(self.failures)

    # --- the clients -----------------------------------------------------------------------

    def _run(self, name: str, cohort: int | None) -> None:
        n = 0
        while not self._stop.is_set():
            acknowledged = self._write_once(name, cohort, n)
            n += 1
            self._stop.wait(PAUSE_S if acknowledged else FAILED_PAUSE_S)

    def elapsed(self) -> float:
        """Seconds since the workload was made: the clock of `Write.acked_s`."""
        return time.monotonic() - self._began

    def _write_once(self, name: str, cohort: int | None, n: int) -> bool:
        with self._lock:
            current = cohort is not None and cohort in self._moved
            step = self.step
        memory_id = f"{name}-{n:06d}"
        content = f"{CONTENT_PREFIX} {name} {n}"
        schema = self.schemas.current if current else self.schemas.legacy
        request = self.schemas.remember_request(schema, memory_id, content)
        space = DEFAULT_SPACE
        if current:
            space = client_space(name)
            setattr(request, SPACE_FIELD, space)
        try:
            self._remember[schema](request, timeout=CALL_TIMEOUT_S)
        except grpc.RpcError as exc:
            code = exc.code()
            with self._lock:
                self.failures.append(FailedWrite(name, step, code.name if code else "UNKNOWN"))
            if code == grpc.StatusCode.NOT_FOUND and current:
                self.provisioner.provision()
            return False
        acked = self.elapsed()
        with self._lock:
            self.writes.append(Write(memory_id, name, space, not current, step, acked))
        return True
