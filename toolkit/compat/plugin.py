"""The pytest plugin that runs the compat suite against a server and records its evidence.

Loaded with `-p toolkit.compat.plugin` (see `engram-compat runtime`). Each suite test is a case
of one check (`@check("ID")`); its outcome, duration and evidence travel to the controller in
the report's user_properties (so they survive pytest-xdist), and the controller writes
compat.json at the end of the session. The server under test is the one `engram-compat
runtime` started for the run (handed to each worker by the controller, see started.py), a
`--target`, or one a `--server-factory` starts in each process that runs tests; a process that
runs tests resolves it and runs the preflight when its session starts, while the suite is
collected. The xdist controller runs no test and imports nothing of gRPC, so the workers start
sooner.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from toolkit.compat.checks import CHECKS, MARKER
from toolkit.compat.evidence import Evidence
from toolkit.compat.results import (
    CaseEntry,
    CaseResult,
    Outcome,
    build_results,
    write_results,
)
from toolkit.compat.settings import CompatSettings, default_recordings_dir
from toolkit.compat.started import PLUGIN_NAME, StartedServerInfo, worker_started_server
from toolkit.documents.base import build, to_data
from toolkit.documents.compat import Cleanup, Preflight

if TYPE_CHECKING:
    import grpc

    from toolkit.compat.calls import LegacyClient
    from toolkit.compat.environment import CompatEnv

CASE_PROPERTY = "compat_case"
NOT_RUN_KEY = pytest.StashKey[str]()
# What a worker hands the controller at its end (pytest-xdist's workeroutput).
PREFLIGHT_OUTPUT = "engram_compat_preflight"
CLEANUP_OUTPUT = "engram_compat_cleanup"
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
    group.addoption("--compat-server-log", default=None, help="the target's log file")
    group.addoption(
        "--compat-server-log-pattern", default=None, help="regex of the log file's lines"
    )
    group.addoption(
        "--compat-allow-partial",
        action="store_true",
        default=False,
        help="partial checks do not fail the verdict",
    )


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _is_controller(config: pytest.Config) -> bool:
    """The pytest-xdist controller: it hands tests to workers and runs none itself."""
    return not _is_worker(config) and config.getoption("dist", "no") != "no"


def check_of(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker(MARKER)
    return str(marker.args[0]) if marker is not None else None


def rpc_of(item: pytest.Item) -> str | None:
    """The RPC a case is parametrized by (directly, or as the first part of a recorded case)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "rpc" in params:
        return str(params["rpc"])
    if "recorded_case" in params:
        return str(params["recorded_case"]).split("/")[0]
    return None


def failure_text(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """A case's failure in words: the exception's message, never its class name."""
    text = str(excinfo.value).strip() or "the case stopped without saying why"
    return text[:OBSERVED_LIMIT]


class CompatPlugin:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.cases: dict[str, CaseResult] = {}
        recordings = config.getoption("--compat-recordings")
        server_log = config.getoption("--compat-server-log")
        self.settings = CompatSettings(
            target=config.getoption("--compat-target"),
            legacy_target=config.getoption("--compat-legacy-target"),
            recordings=Path(recordings) if recordings else default_recordings_dir(),
            scale=config.getoption("--compat-scale"),
            server_factory=config.getoption("--compat-server-factory"),
            server_log=Path(server_log) if server_log else None,
            server_log_pattern=config.getoption("--compat-server-log-pattern"),
            allow_partial=bool(config.getoption("--compat-allow-partial")),
        )
        self.preflight: Preflight | None = None
        self._preflight_lock = threading.Lock()
        self._validator_loaded = False
        self.cleanups: list[Cleanup] = []
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
            self._env = CompatEnv(
                self.settings, factory.mktemp("compat"), worker, self.started_server()
            )
        return self._env

    def started_server(self) -> Callable[[], StartedServerInfo] | None:
        """The server `engram-compat runtime` started for the run: handed to a worker by the
        controller, or in this process's plugin of the command (`-n 0`); None otherwise."""
        if _is_worker(self.config):
            info = worker_started_server(self.config.workerinput)  # type: ignore[attr-defined]
            if info is None:
                return None
            handed: StartedServerInfo = info
            return lambda: handed
        servers = self.config.pluginmanager.get_plugin(PLUGIN_NAME)
        return servers.current.info if servers is not None else None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if not _is_controller(self.config):
            self.environment().start("current")
            # The preflight too, while the suite is collected: every test's setup needs it.
            threading.Thread(target=self._prefetch_preflight, name="preflight", daemon=True).start()

    def _prefetch_preflight(self) -> None:
        with contextlib.suppress(Exception):  # raised again where a test needs the preflight
            self.run_preflight()

    def run_preflight(self) -> Preflight:
        with self._preflight_lock:
            if self.preflight is None:
                self.preflight = self.environment().preflight()
            return self.preflight

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        from toolkit.compat.checks import needs_of
        from toolkit.compat.preflight import missing_for

        check_id = check_of(item)
        if check_id is None:
            return
        preflight = self.run_preflight()
        missing = missing_for(preflight, needs_of(check_id, rpc_of(item)))
        if missing:
            cause = preflight.cause or f"the target does not implement {', '.join(missing)}"
            item.stash[NOT_RUN_KEY] = cause
            pytest.skip(f"not run: {cause}")

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
        cause = item.stash.get(NOT_RUN_KEY, None)
        if check_id is None or not (report.when == "call" or report.failed or cause):
            return
        evidence = item.stash.get(EVIDENCE_KEY, None) or Evidence()
        observed, expected = evidence.observed, evidence.expected
        if report.failed and call.excinfo is not None and observed is None:
            observed = failure_text(call.excinfo)
            # The case stopped before it stated an expectation: the check's promise is it.
            expected = expected or CHECKS[check_id].purpose
        outcome: Outcome = (
            "failed"
            if report.failed
            else "not_run"
            if cause
            else "partial"
            if evidence.not_verified
            else "passed"
        )
        case = CaseResult(
            check_id,
            CaseEntry(
                name=item.name,
                outcome=outcome,
                duration_s=round(report.duration, 4),
                expected=expected,
                observed=observed,
                evidence=evidence.facts,
                not_verified="; ".join(evidence.not_verified) or None,
                cause=cause,
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

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker's preflight and cleanup, handed over at its end (pytest-xdist). When the
        first worker ends, the controller usually waits for the others (the slowest check runs
        on one of its own): it loads the JSON Schema validator compat.json is read back with
        then, not at the end of the run (0.1-0.2 s)."""
        if not self._validator_loaded:
            self._validator_loaded = True
            importlib.import_module("jsonschema")
        output: dict[str, Any] = getattr(node, "workeroutput", {})
        if PREFLIGHT_OUTPUT in output and self.preflight is None:
            self.preflight = build(Preflight, json.loads(output[PREFLIGHT_OUTPUT]))
        if CLEANUP_OUTPUT in output:
            self.cleanups.append(build(Cleanup, json.loads(output[CLEANUP_OUTPUT])))

    @pytest.hookimpl(trylast=True)  # after the session fixtures that use the servers are done
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self._env is not None:
            cleanup = self._env.close()
            if cleanup is not None:
                self.cleanups.append(cleanup)
        if _is_worker(self.config):
            output: dict[str, Any] = self.config.workeroutput  # type: ignore[attr-defined]
            if self.preflight is not None:
                output[PREFLIGHT_OUTPUT] = json.dumps(to_data(self.preflight))
            if self.cleanups:
                output[CLEANUP_OUTPUT] = json.dumps(to_data(self.cleanups[0]))
            return
        path = self.config.getoption("--compat-json")
        if not path:
            return
        results = build_results(
            list(self.cases.values()),
            duration_s=time.monotonic() - self.started,
            target=self.settings.target,
            started_server=self.settings.target is None,
            allow_partial=self.settings.allow_partial,
            preflight=self.preflight,
            cleanup=merge_cleanups(self.cleanups) if self.settings.target else None,
            server_log=str(self.settings.server_log) if self.settings.server_log else None,
        )
        write_results(results, Path(path))
        session.exitstatus = results_exit_status(results, int(session.exitstatus))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if _is_worker(self.config) or not self.cases:
            return
        results = build_results(
            list(self.cases.values()), duration_s=0.0, target=None, started_server=False
        )
        terminalreporter.section("engram-compat checks")
        if self.preflight is not None and self.preflight.cause:
            terminalreporter.write_line(f"NOT RUN: {self.preflight.cause}")
        for check in results.checks:
            failed = [c for c in check.cases if c.outcome == "failed"]
            count = len(check.cases)
            terminalreporter.write_line(
                f"{check.outcome.upper():7} {check.id}  ({count} case{'' if count == 1 else 's'})"
            )
            for case in failed:
                terminalreporter.write_line(f"    {case.name}")
                terminalreporter.write_line(f"      expected: {case.expected}")
                terminalreporter.write_line(f"      seen:     {case.observed}")
            for not_verified in check.not_verified:
                terminalreporter.write_line(f"    not verified: {not_verified}")


def merge_cleanups(cleanups: list[Cleanup]) -> Cleanup:
    return Cleanup(
        spaces_deleted=tuple(sorted({s for c in cleanups for s in c.spaces_deleted})),
        memories_forgotten=tuple(sorted({m for c in cleanups for m in c.memories_forgotten})),
        failures=tuple(f for c in cleanups for f in c.failures),
    )


def results_exit_status(results: Any, exitstatus: int) -> int:
    """pytest's exit status, failed (1) too when a partial check is not allowed to pass."""
    if exitstatus == 0 and results.verdict == "partial" and not results.allow_partial:
        return 1
    return exitstatus


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(id): the compat check a suite test belongs to")
    config.pluginmanager.register(CompatPlugin(config), "engram-compat-plugin")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """A pytest-xdist worker ends its process here, the last thing it does: its results went
    to the controller with its session's end (pytest-xdist's `workerfinished`, which the
    controller waits for, so it ignores the end of the connection after it) and its servers
    are stopped. Ending normally would first wait for the controller's exit message and then
    tear down every module of the interpreter: 0.3-0.5 s a run, which the controller spends
    waiting for its workers' processes to end before it can end the run."""
    if not _is_worker(config):
        return
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


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
