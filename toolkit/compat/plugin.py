"""The pytest plugin that runs the compat suite against a server and records its evidence.

Loaded with `-p toolkit.compat.plugin` (see `engram-compat runtime`). Each suite test is a case
of one check (`@check("ID")`); its outcome, duration and evidence travel to the controller in
the report's user_properties (so they survive pytest-xdist), and the controller writes
compat.json at the end of the session. The process that runs tests starts its server when its
session starts, so the server boots while the suite is collected; the xdist controller runs no
test and imports nothing of gRPC, so the workers start sooner.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from toolkit.compat.checks import CHECKS, MARKER
from toolkit.compat.evidence import Evidence
from toolkit.compat.results import CaseEntry, CaseResult, build_results, write_results
from toolkit.compat.settings import CompatSettings, default_recordings_dir

if TYPE_CHECKING:
    import grpc

    from toolkit.compat.calls import LegacyClient
    from toolkit.compat.environment import CompatEnv

CASE_PROPERTY = "compat_case"
EVIDENCE_KEY = pytest.StashKey[Evidence]()
SETTINGS_KEY = pytest.StashKey[CompatSettings]()
OBSERVED_LIMIT = 600


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("engram-compat", "runtime compatibility suite")
    group.addoption("--compat-target", default=None, help="HOST:PORT of the server to check")
    group.addoption("--compat-legacy-target", default=None, help="HOST:PORT of a 1.0.0 server")
    group.addoption("--compat-recordings", default=None, help="legacy recordings folder")
    group.addoption("--compat-json", default=None, help="where to write compat.json")
    group.addoption("--compat-checks", default="", help="comma-separated check IDs to run")
    group.addoption("--compat-scale", type=float, default=1.0, help="size of the stream checks")
    group.addoption(
        "--compat-server-factory", default=None, help="module:function starting the server"
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _is_controller(config: pytest.Config) -> bool:
    """The pytest-xdist controller: it hands tests to workers and runs none itself."""
    return not _is_worker(config) and config.getoption("dist", "no") != "no"


def check_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker(MARKER)
    return str(marker.args[0]) if marker is not None else None


class CompatPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.cases: dict[str, CaseResult] = {}
        recordings = config.getoption("--compat-recordings")
        self.settings = CompatSettings(
            target=config.getoption("--compat-target"),
            legacy_target=config.getoption("--compat-legacy-target"),
            recordings=Path(recordings) if recordings else default_recordings_dir(),
            scale=config.getoption("--compat-scale"),
            server_factory=config.getoption("--compat-server-factory"),
        )
        config.stash[SETTINGS_KEY] = self.settings
        self._env: CompatEnv | None = None
        wanted = config.getoption("--compat-checks")
        self.only = {c.strip() for c in wanted.split(",") if c.strip()}
        unknown = self.only - set(CHECKS)
        if unknown:
            raise pytest.UsageError(f"unknown compat checks: {', '.join(sorted(unknown))}")

    # --- the servers of this process --------------------------------------------------------

    def environment(self) -> CompatEnv:
        if self._env is None:
            from toolkit.compat.environment import CompatEnv

            factory: pytest.TempPathFactory = self.config._tmp_path_factory  # type: ignore[attr-defined]
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            self._env = CompatEnv(self.settings, factory.mktemp("compat"), worker)
        return self._env

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not _is_controller(self.config):
            self.environment().start("current")

    # --- collection ------------------------------------------------------------------------

    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not self.only:
            return
        keep = [item for item in items if check_of(item) in self.only]
        dropped = [item for item in items if check_of(item) not in self.only]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        items[:] = keep

    # --- the case record of each test ----------------------------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Iterator[None]:
        result = yield
        report: pytest.TestReport = result.get_result()  # type: ignore[attr-defined]
        check_id = check_of(item)
        if check_id is None or not (report.when == "call" or report.failed):
            return
        evidence = item.stash.get(EVIDENCE_KEY, None) or Evidence()
        observed = evidence.observed
        if report.failed and call.excinfo is not None and observed is None:
            observed = call.excinfo.exconly()[:OBSERVED_LIMIT]
        case = CaseResult(
            check_id,
            CaseEntry(
                name=item.name,
                outcome="failed" if report.failed else "passed",
                duration_s=round(report.duration, 4),
                expected=evidence.expected,
                observed=observed,
                evidence=evidence.facts,
            ),
        )
        report.user_properties.append((CASE_PROPERTY, json.dumps(dataclasses.asdict(case))))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if _is_worker(self.config):
            return
        for name, value in report.user_properties:
            if name != CASE_PROPERTY:
                continue
            case = CaseResult.from_json(str(value))
            earlier = self.cases.get(report.nodeid)
            if earlier is None or case.entry.outcome == "failed":
                self.cases[report.nodeid] = case

    # --- the end of the run ----------------------------------------------------------------

    @pytest.hookimpl(trylast=True)  # after the session fixtures that use the servers are done
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self._env is not None:
            self._env.close()
        path = self.config.getoption("--compat-json")
        if _is_worker(self.config) or not path:
            return
        results = build_results(
            list(self.cases.values()),
            duration_s=time.monotonic() - self.started,
            target=self.settings.target,
            started_server=self.settings.target is None,
        )
        write_results(results, Path(path))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if _is_worker(self.config) or not self.cases:
            return
        results = build_results(
            list(self.cases.values()), duration_s=0.0, target=None, started_server=False
        )
        terminalreporter.section("engram-compat checks")
        for check in results.checks:
            failed = [c for c in check.cases if c.outcome == "failed"]
            terminalreporter.write_line(
                f"{check.outcome.upper():6} {check.id}  ({len(check.cases)} cases)"
            )
            for case in failed:
                terminalreporter.write_line(f"    {case.name}")
                terminalreporter.write_line(f"      expected: {case.expected}")
                terminalreporter.write_line(f"      seen:     {case.observed}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(id): the compat check a suite test belongs to")
    config.pluginmanager.register(CompatPlugin(config), "engram-compat-plugin")


# --- fixtures --------------------------------------------------------------------------------


def _plugin(config: pytest.Config) -> CompatPlugin:
    plugin = config.pluginmanager.get_plugin("engram-compat-plugin")
    assert isinstance(plugin, CompatPlugin)
    return plugin


@pytest.fixture(scope="session")
def compat_env(request: pytest.FixtureRequest) -> CompatEnv:
    """The servers under test for this worker, and the spaces the suite created on them."""
    return _plugin(request.config).environment()


@pytest.fixture(scope="session")
def channel(compat_env: CompatEnv) -> grpc.Channel:
    return compat_env.channel("current")


@pytest.fixture(scope="session")
def legacy(channel: grpc.Channel) -> LegacyClient:
    from toolkit.compat.calls import LegacyClient

    return LegacyClient(channel)


@pytest.fixture(scope="session")
def recordings(compat_env: CompatEnv) -> dict[str, tuple[bytes, ...]]:
    from toolkit.compat.recordings import load_wire

    return load_wire(compat_env.settings.recordings)


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    found = Evidence()
    request.node.stash[EVIDENCE_KEY] = found
    return found
