"""`engram-compat runtime`: run the suite package under pytest with the compat plugin."""

from __future__ import annotations

import gc
import logging
import os
import re
import select
import sys
from dataclasses import dataclass
from pathlib import Path

from toolkit.annotations import in_github_actions
from toolkit.compat.checks import CHECKS
from toolkit.compat.ci_outputs import compat_annotations, write_compat_junit
from toolkit.compat.settings import default_recordings_dir
from toolkit.compat.started import StartedServers
from toolkit.documents.compat import CompatResults
from toolkit.errors import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE, ToolkitError

SUITE_PACKAGE = "toolkit.compat.suite"
# The suite's own configuration (python_files = check_*.py), beside its modules.
SUITE_CONFIG = Path(__file__).resolve().parent / "suite" / "pytest.ini"
COMPAT_JSON = "compat.json"
JUNIT_XML = "junit-compat.xml"
# The suite needs pytest-xdist and its own plugin, nothing else that happens to be installed:
# other plugins (pytest-benchmark, hypothesis, ...) cost ~1 s a process at start and end.
PLUGINS = ("xdist.plugin", "toolkit.compat.plugin")


@dataclass(frozen=True)
class SuiteOptions:
    target: str | None = None
    legacy_target: str | None = None
    reports: Path = Path("reports")
    recordings: Path | None = None
    checks: tuple[str, ...] = ()
    scale: float = 1.0
    workers: str = "auto"
    server_factory: str | None = None
    server_log: Path | None = None
    server_log_pattern: str | None = None
    allow_partial: bool = False
    annotations: bool | None = None  # None: when GITHUB_ACTIONS=true


def pytest_arguments(options: SuiteOptions) -> list[str]:
    """pytest's arguments for the suite (its own package, never the repo's tests/)."""
    unknown = [c for c in options.checks if c not in CHECKS]
    if unknown:
        raise ToolkitError(f"unknown check {unknown[0]!r}; known checks: {', '.join(CHECKS)}")
    if options.scale <= 0:
        raise ToolkitError(f"--scale must be positive, not {options.scale}")
    reports = options.reports.resolve()
    arguments = [
        *(argument for plugin in PLUGINS for argument in ("-p", plugin)),
        "-p",
        "no:cacheprovider",
        # Its full garbage collection at the end of every process (to report exceptions
        # raised in finalizers, which the suite never judges) is on the run's tail.
        "-p",
        "no:unraisableexception",
        "-c",
        str(SUITE_CONFIG),
        # Checks report through Evidence.verify (expected vs seen): rewriting asserts would
        # only cost start-up time in every process.
        "--assert=plain",
        "--pyargs",
        SUITE_PACKAGE,
        "-n",
        options.workers,
        # Hand out tests one at a time: short ones go to whichever worker is free (see the
        # suite's conftest for how the slow ones start on different workers).
        "--maxschedchunk",
        "1",
        "-q",
        "-o",
        "console_output_style=classic",
        f"--compat-json={reports / COMPAT_JSON}",
        f"--compat-scale={options.scale}",
    ]
    if options.target:
        arguments.append(f"--compat-target={options.target}")
    if options.legacy_target:
        arguments.append(f"--compat-legacy-target={options.legacy_target}")
    recordings = options.recordings or default_recordings_dir()
    if not recordings.is_dir():
        raise ToolkitError(
            f"no legacy recordings at {recordings}: run from the project root or pass "
            "--recordings DIR"
        )
    arguments.append(f"--compat-recordings={recordings.resolve()}")
    if options.checks:
        arguments.append(f"--compat-checks={','.join(options.checks)}")
    if options.server_factory:
        arguments.append(f"--compat-server-factory={options.server_factory}")
    if options.server_log is not None:
        if not options.target:
            raise ToolkitError("--server-log reads an external target's log: give --target too")
        if not options.server_log.is_file():
            raise ToolkitError(f"--server-log {options.server_log} is not a readable file")
        arguments.append(f"--compat-server-log={options.server_log.resolve()}")
    if options.server_log_pattern:
        try:
            re.compile(options.server_log_pattern)
        except re.error as exc:
            raise ToolkitError(f"--server-log-pattern is not a regular expression: {exc}") from exc
        arguments.append(f"--compat-server-log-pattern={options.server_log_pattern}")
    if options.allow_partial:
        arguments.append("--compat-allow-partial")
    return arguments


def verdict_exit_code(results: CompatResults) -> int:
    """0 passed (or partial with --allow-partial), 1 failed or partial."""
    if results.verdict == "passed" or (results.verdict == "partial" and results.allow_partial):
        return EXIT_OK
    return EXIT_FAILED


def _run_pytest(arguments: list[str], plugins: list[object]) -> int:
    """pytest's exit code for `arguments`, run in this process: one interpreter start (and one
    import of grpc, protobuf and pytest) fewer on the suite's critical path. Its workers
    (pytest-xdist) are processes of their own and inherit the plugin settings."""
    import pytest

    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    sys.stdout.flush()
    # The suite's records go through pytest's log capture (the evidence of its checks), not
    # through the handler the command line installed for its own messages.
    root = logging.getLogger()
    handlers = root.handlers[:]
    for handler in handlers:
        root.removeHandler(handler)
    try:
        return int(pytest.main(arguments, plugins=plugins))
    finally:
        for handler in handlers:
            root.addHandler(handler)


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe its reader has closed (`runtime | head -1`): poll reports
    POLLERR for it. False for a file, a terminal, or where poll is not available."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def run_suite(options: SuiteOptions, workdir: Path, started: StartedServers | None = None) -> int:
    """Run the suite; 0 when every check passed, 1 when one failed (or is partial and that is
    not allowed), 2 when it could not run. compat.json is the one source of the outcome: the
    JUnit file and the annotations are written from it. `workdir`: a fresh folder for the
    run's throwaway files; `started`: the reference server the command started for the run
    (its workers share it). The caller stops it and removes `workdir`."""
    # pytest's own temporary folders there too: with none given, each run would first
    # remove the oldest runs' folders under the system's shared pytest-of-<user>.
    arguments = [*pytest_arguments(options), f"--basetemp={workdir / 'pytest'}"]
    options.reports.mkdir(parents=True, exist_ok=True)
    compat_json = options.reports / COMPAT_JSON
    compat_json.unlink(missing_ok=True)
    (options.reports / JUNIT_XML).unlink(missing_ok=True)
    returncode = _run_pytest(arguments, [started] if started is not None else [])
    # What pytest leaves (modules, plugins, reports) lives until the process ends: frozen, the
    # interpreter's last collections at exit skip it (0.1-0.2 s of the command's wall time).
    gc.freeze()
    if returncode not in (0, 1) or not compat_json.is_file():
        if stdout_reader_gone():  # pytest stopped at the closed pipe: the entry point's case
            raise BrokenPipeError("stdout was closed by its reader")
        print(
            f"engram-compat runtime: the suite could not run (pytest exit {returncode})",
            file=sys.stderr,
        )
        return EXIT_UNUSABLE
    results = CompatResults.read(compat_json)
    write_compat_junit(results, options.reports / JUNIT_XML)
    annotate = options.annotations if options.annotations is not None else in_github_actions()
    if annotate:
        for annotation in compat_annotations(results):
            print(annotation.render())
    return verdict_exit_code(results)
