"""Fixtures of the suite's checks (the plugin provides the servers and the evidence)."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from toolkit.compat.calls import ClientMode, NewClient, NewClientFactory
from toolkit.compat.environment import CompatEnv
from toolkit.compat.plugin import SETTINGS_KEY
from toolkit.compat.recordings import recorded_case_ids
from toolkit.compat.servers import ServerUnderTest
from toolkit.compat.settings import CompatSettings


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "recorded_case" in metafunc.fixturenames:
        settings: CompatSettings = metafunc.config.stash[SETTINGS_KEY]
        metafunc.parametrize("recorded_case", recorded_case_ids(settings.recordings))


# STREAM_BACKPRESSURE, the slowest check by far, starts first on a worker of its own; the
# second slowest, STREAM_ISOLATION, starts first on another. pytest-xdist hands each worker two
# tests at the start and one more per test it finishes (`--maxschedchunk 1`, as `engram-compat
# runtime` runs it), and a worker holds its next test before it runs one: so one quick test
# (it runs after STREAM_BACKPRESSURE, at the end of the run) goes between them, and the others
# share everything else. STREAM_BACKPRESSURE measures its rates beside that load: each rate
# with a stalled subscriber is compared with rates measured just before and after it.
ALONE = ("STREAM_BACKPRESSURE",)
SLOW = ("STREAM_ISOLATION",)
QUICK = "ERR_MALFORMED_SPACE"  # a call the server refuses before it looks up any space


def _check_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("compat_check")
    return str(marker.args[0]) if marker else ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    alone = [item for item in items if _check_of(item) in ALONE]
    slow = [item for item in items if _check_of(item) in SLOW]
    rest = [item for item in items if _check_of(item) not in ALONE + SLOW]
    quick = [item for item in rest if _check_of(item) == QUICK]
    behind = (quick or rest)[: len(alone)]
    rest = [item for item in rest if item not in behind]
    items[:] = alone + behind + slow + rest


@pytest.fixture(scope="session")
def server(compat_env: CompatEnv) -> ServerUnderTest:
    return compat_env.server("current")


@pytest.fixture(scope="session")
def scale(compat_env: CompatEnv) -> float:
    return compat_env.settings.scale


@pytest.fixture
def new_client(channel: grpc.Channel) -> NewClientFactory:
    """`new_client(space, mode)`: a current-schema client naming `space` by field or header."""

    def make(space: str | None, mode: ClientMode = "field") -> NewClient:
        return NewClient(channel, space, mode)

    return make


@pytest.fixture
def space(compat_env: CompatEnv) -> str:
    """A fresh space on the server under test."""
    return compat_env.new_space("s")


@pytest.fixture
def other_space(compat_env: CompatEnv) -> str:
    return compat_env.new_space("o")


@pytest.fixture(scope="session")
def default_space(channel: grpc.Channel) -> str:
    """The server's default space, as its Introspect reports it (asked through the header)."""
    client = NewClient(channel, None, "none")
    outcome = client.call("Introspect", client.request("Introspect"))
    if not outcome.ok or not outcome.response.default_memory_space_id:
        raise RuntimeError(f"Introspect gave no default space: {outcome.code} {outcome.details}")
    return str(outcome.response.default_memory_space_id)


@pytest.fixture
def unique(compat_env: CompatEnv, request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Unique memory ids and contents for this test."""

    def make(label: str) -> str:
        return compat_env.space_name(label)

    return make
