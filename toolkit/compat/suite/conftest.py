"""Fixtures of the suite's checks (the plugin provides the servers and the evidence)."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from toolkit.compat.calls import ClientMode, NewClient
from toolkit.compat.environment import CompatEnv
from toolkit.compat.plugin import SETTINGS_KEY
from toolkit.compat.recordings import load_recordings
from toolkit.compat.servers import ServerUnderTest
from toolkit.compat.settings import CompatSettings

NewClientFactory = Callable[..., NewClient]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "recorded_case" in metafunc.fixturenames:
        settings: CompatSettings = metafunc.config.stash[SETTINGS_KEY]
        cases = [c.case_id for c in load_recordings(settings.recordings)]
        metafunc.parametrize("recorded_case", cases)


# The slow checks, longest first. pytest-xdist (with `--maxschedchunk 1`, as `engram-compat
# replay` runs it) hands each worker the next two tests to begin with, so a slow test in every
# other place starts on a worker of its own; the short tests fill in behind them.
SLOW_FIRST = ("STREAM_BACKPRESSURE", "STREAM_ISOLATION")


def _check_of(item: pytest.Item) -> str:
    marker = item.get_closest_marker("compat_check")
    return str(marker.args[0]) if marker else ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow = sorted(
        (item for item in items if _check_of(item) in SLOW_FIRST),
        key=lambda item: SLOW_FIRST.index(_check_of(item)),
    )
    short = [item for item in items if _check_of(item) not in SLOW_FIRST]
    ordered: list[pytest.Item] = []
    for item in slow:
        ordered.append(item)
        if short:
            ordered.append(short.pop(0))
    items[:] = ordered + short


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
