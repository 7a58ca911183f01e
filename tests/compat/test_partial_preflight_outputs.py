"""`partial` and `not_run` outcomes, the server log of an external target, the preflight, the
cleanup of a target, and the CI outputs (JUnit, annotations) written from compat.json."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.conftest import PROJECT_ROOT, run_cli
from toolkit.compat.calls import NewClient
from toolkit.compat.checks import CHECKS
from toolkit.compat.ci_outputs import compat_annotations, readable_name
from toolkit.compat.results import CaseEntry, CaseResult, build_results
from toolkit.compat.server_log import LogFile
from toolkit.documents.compat import CompatResults
from toolkit.documents.results import ResultsDocument
from toolkit.report.verdict import INCOMPLETE, SAFE, judge_parts, parts_of
from toolkit.server.app import REFLECTION_V1_SERVICE

DOCUMENTS = PROJECT_ROOT / "tests" / "report" / "documents"
NOT_VERIFIED = "the server's WARNING log record"
SERVE = (sys.executable, "-m", "toolkit", "serve", "--port", "0")


class ServeProcess:
    """`engram-compat serve --port 0` with its log written to a file, as a deployment would."""

    def __init__(self, workdir: Path, *extra: str) -> None:
        self.log = workdir / "server.log"
        self._log_handle = self.log.open("w")
        self.process = subprocess.Popen(
            [*SERVE, "--data-dir", str(workdir / "data"), *extra],
            stdout=subprocess.PIPE,
            stderr=self._log_handle,
            text=True,
            cwd=PROJECT_ROOT,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.startswith("listening on "), line
        self.address = line.removeprefix("listening on ").strip()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log_handle.close()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def runtime(reports: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    result = run_cli(["runtime", "--reports", str(reports), "--scale", "0.2", *args], env=env)
    document = json.loads((reports / "compat.json").read_text())
    return result.returncode, document, result.stdout


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["id"]: check for check in document["checks"]}


# --- against an external target --------------------------------------------------------------


@pytest.mark.slow
def test_target_without_its_log_is_partial_and_left_as_found(
    target: ServeProcess, tmp_path: Path
) -> None:
    checks = "DEPRECATION_WARNING,ROUTE_DEFAULT_LEGACY,ISOLATION_DATA"
    code, document, stdout = runtime(
        tmp_path / "r", "--target", target.address, "--checks", checks, "-n", "0"
    )
    assert code == 1, stdout[-2000:]
    assert document["verdict"] == "partial"
    assert document["allow_partial"] is False
    deprecation = by_id(document)["DEPRECATION_WARNING"]
    assert deprecation["outcome"] == "partial"
    assert any(NOT_VERIFIED in text for text in deprecation["not_verified"])
    assert by_id(document)["ROUTE_DEFAULT_LEGACY"]["outcome"] == "passed"
    # Cleaned up: its spaces deleted, its legacy writes to the default space forgotten by id.
    cleanup = document["cleanup"]
    assert cleanup["spaces_deleted"] and cleanup["memories_forgotten"]
    assert "legacy-forget-001" in cleanup["memories_forgotten"]
    channel = grpc.insecure_channel(target.address)
    try:
        admin = NewClient(channel, None, "none")
        listed = admin.call("ListSpaces", admin.request("ListSpaces"))
        spaces = {s.id: s.memory_count for s in listed.response.spaces}
        assert spaces == {"default": 0}, spaces
    finally:
        channel.close()
    # The JUnit file is written from compat.json: one testsuite per check id.
    junit = ET.parse(tmp_path / "r" / "junit-compat.xml").getroot()
    names = [suite.get("name") for suite in junit.iter("testsuite")]
    assert sorted(names) == sorted(checks.split(","))
    assert all(name in CHECKS for name in names)
    skipped = junit.findall(".//testsuite[@name='DEPRECATION_WARNING']/testcase/skipped")
    assert skipped and NOT_VERIFIED in str(skipped[0].get("message"))


@pytest.mark.slow
def test_allow_partial_passes_and_is_recorded(target: ServeProcess, tmp_path: Path) -> None:
    code, document, _ = runtime(
        tmp_path / "r",
        "--target",
        target.address,
        "--checks",
        "DEPRECATION_WARNING",
        "-n",
        "0",
        "--allow-partial",
    )
    assert code == 0
    assert document["verdict"] == "partial" and document["allow_partial"] is True


@pytest.mark.slow
def test_server_log_makes_deprecation_whole(target: ServeProcess, tmp_path: Path) -> None:
    code, document, stdout = runtime(
        tmp_path / "r",
        "--target",
        target.address,
        "--checks",
        "DEPRECATION_WARNING",
        "-n",
        "0",
        "--server-log",
        str(target.log),
    )
    assert code == 0, stdout[-2000:]
    assert document["verdict"] == "passed"
    assert document["server_log"] == str(target.log.resolve())
    deprecation = by_id(document)["DEPRECATION_WARNING"]
    assert deprecation["outcome"] == "passed"
    legacy_cases = [c for c in deprecation["cases"] if "legacy_call" in c["name"]]
    assert legacy_cases and all(c["evidence"]["log_record"] for c in legacy_cases)


@pytest.mark.slow
def test_silent_target_fails_deprecation_through_its_log(tmp_path: Path) -> None:
    """With --server-log, a target that logs no WARNING fails the check (not partial)."""
    server = ServeProcess(tmp_path)
    try:
        empty_log = tmp_path / "another.log"
        empty_log.write_text("")
        code, document, _ = runtime(
            tmp_path / "r",
            "--target",
            server.address,
            "--checks",
            "DEPRECATION_WARNING",
            "-n",
            "0",
            "--server-log",
            str(empty_log),
        )
    finally:
        server.stop()
    assert code == 1
    assert by_id(document)["DEPRECATION_WARNING"]["outcome"] == "failed"
    observed = [
        c["observed"] for c in by_id(document)["DEPRECATION_WARNING"]["cases"] if c["observed"]
    ]
    assert any("logged no WARNING record" in text for text in observed)
    assert not any("SentinelNotLogged" in text or "Error" in text for text in observed)


def test_server_log_pattern_reads_other_formats(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text(
        "2026-12-01 WARN deprecated call rpc=Remember peer=ipv4:127.0.0.1:5 default=default\n"
        "2026-12-01 INFO started\n"
        "2026-12-01 WARN deprecated call rpc=Intro"
    )
    pattern = r"(?P<level>WARN)\w* deprecated call rpc=(?P<rpc>\w+) peer=(?P<peer>\S+)"
    reader = LogFile(log, pattern)
    assert reader.records() == [{"level": "WARN", "rpc": "Remember", "peer": "ipv4:127.0.0.1:5"}]
    with log.open("a") as handle:
        handle.write("spect peer=ipv4:127.0.0.1:6 default=default\n")
    assert [r["rpc"] for r in reader.records()] == ["Remember", "Introspect"]


def test_server_log_pattern_must_name_its_groups(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("")
    result = run_cli(
        [
            *("runtime", "--target", "127.0.0.1:1", "--server-log", str(log)),
            *("--server-log-pattern", "(?P<level>W", "--reports", str(tmp_path)),
        ]
    )
    assert result.returncode == 2
    assert "not a regular expression" in result.stderr
    assert "Traceback" not in result.stderr


# --- the preflight ---------------------------------------------------------------------------


@pytest.mark.slow
def test_missing_rpc_is_one_cause_not_a_cascade(tmp_path: Path) -> None:
    # Every check but the throughput measurement, which calls no Forget and costs most of a run.
    checks = ",".join(check for check in CHECKS if check != "STREAM_BACKPRESSURE")
    code, document, stdout = runtime(
        tmp_path / "r", "--server-factory", "tests.broken_servers:no_forget", "-n", "0",
        "--checks", checks,
    )  # fmt: skip
    cause = "the target does not implement EngramService/Forget"
    assert document["preflight"]["cause"] == cause
    assert document["preflight"]["missing"] == ["EngramService/Forget"]
    assert document["preflight"]["reflection"] == "grpc.reflection.v1"
    outcomes = {check_id: check["outcome"] for check_id, check in by_id(document).items()}
    assert "failed" not in outcomes.values(), outcomes
    assert outcomes["ISOLATION_DATA"] == "not_run"
    assert outcomes["ROUTE_EXPLICIT"] == "partial"
    assert document["verdict"] == "partial" and code == 1
    assert stdout.count(f"NOT RUN: {cause}") == 1
    forget_cases = [
        case for check in document["checks"] for case in check["cases"] if "[Forget" in case["name"]
    ]
    assert forget_cases and all(c["outcome"] == "not_run" for c in forget_cases)
    assert all(c["cause"] == cause for c in forget_cases)


def test_reference_server_serves_reflection_v1(tmp_path: Path) -> None:
    from toolkit.compat.preflight import reflected_methods
    from toolkit.server.app import ServerConfig, start_server_thread

    with start_server_thread(ServerConfig(data_dir=tmp_path)) as running:
        channel = grpc.insecure_channel(running.address)
        try:
            package, services, methods = reflected_methods(channel)
        finally:
            channel.close()
    assert package == "grpc.reflection.v1"
    assert REFLECTION_V1_SERVICE in services
    assert "Forget" in methods["engram.v1.EngramService"]


# --- outcomes, verdict, outputs (no server) --------------------------------------------------


def case(check_id: str, name: str, outcome: str, **extra: Any) -> CaseResult:
    return CaseResult(
        check_id,
        CaseEntry(
            name=name,
            outcome=outcome,  # type: ignore[arg-type]
            duration_s=0.01,
            expected=extra.get("expected"),
            observed=extra.get("observed"),
            evidence={},
            not_verified=extra.get("not_verified"),
            cause=extra.get("cause"),
        ),
    )


def test_partial_is_not_passed_and_failed_wins() -> None:
    partial = case("DEPRECATION_WARNING", "test_a[x]", "partial", not_verified="the log")
    passed = case("MATRIX", "test_b", "passed")
    results = build_results([partial, passed], duration_s=1, target="t", started_server=False)
    assert results.verdict == "partial"
    assert results.partial_checks == ("DEPRECATION_WARNING",)
    assert results.checks[0].not_verified == ("the log",)
    failed = case("MATRIX", "test_c", "failed", expected="OK", observed="NOT_FOUND")
    worse = build_results([partial, failed], duration_s=1, target="t", started_server=False)
    assert worse.verdict == "failed"
    assert CompatResults.from_dict(json.loads(results.to_json())) == results


def test_compat_documents_of_the_report_fixtures_read() -> None:
    data = json.loads((DOCUMENTS / "rollout.json").read_text())["compat"]
    compat = CompatResults.from_dict(data)
    assert compat.allow_partial is False and compat.preflight is None


def test_partial_compat_stage_is_never_safe_unless_allowed() -> None:
    results = ResultsDocument.read(DOCUMENTS / "accepted.json")
    parts = parts_of(results)
    assert parts.compat is not None and judge_parts(parts).label == SAFE
    partial_compat = dataclasses.replace(parts.compat, verdict="partial")
    verdict = judge_parts(dataclasses.replace(parts, compat=partial_compat))
    assert verdict.label == INCOMPLETE and not verdict.safe and verdict.exit_code == 1
    assert [r.kind for r in verdict.reasons] == ["checks_partial"]
    allowed = dataclasses.replace(partial_compat, allow_partial=True)
    assert judge_parts(dataclasses.replace(parts, compat=allowed)).label == SAFE


def test_annotations_and_readable_names() -> None:
    results = build_results(
        [
            case("MATRIX", "test_m[new-legacy]", "failed", expected="OK", observed="NOT_FOUND"),
            case("DEPRECATION_WARNING", "test_d", "partial", not_verified="the log"),
            case("ROUTE_HEADER", "test_h", "passed"),
        ],
        duration_s=1,
        target=None,
        started_server=True,
    )
    warning, error = [a.render() for a in compat_annotations(results)]  # in check order
    assert error.startswith("::error title=engram-compat MATRIX::MATRIX failed")
    assert "expected OK, observed NOT_FOUND" in error
    assert warning.startswith("::warning") and "not verified: the log" in warning
    assert readable_name("test_field_routes_to_named_space[Forget]") == (
        "field routes to named space (Forget)"
    )


@pytest.mark.slow
def test_github_actions_prints_annotations(tmp_path: Path) -> None:
    env = {**os.environ, "GITHUB_ACTIONS": "true"}
    result = run_cli(
        [
            *("runtime", "--server-factory", "tests.broken_servers:silent_deprecation"),
            *("--checks", "DEPRECATION_WARNING", "--scale", "0.2", "-n", "0"),
            *("--reports", str(tmp_path)),
        ],
        env=env,
    )
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(lines) == 1 and "DEPRECATION_WARNING failed" in lines[0]


def test_probe_tells_implemented_from_unimplemented_without_writing(tmp_path: Path) -> None:
    """Without reflection the preflight probes: a malformed space header writes nothing."""
    from toolkit.compat.preflight import probe_implemented
    from toolkit.contract import ENGRAM_SERVICE
    from toolkit.server.app import ServerConfig, start_server_thread

    with start_server_thread(ServerConfig(data_dir=tmp_path)) as running:
        channel = grpc.insecure_channel(running.address)
        try:
            assert probe_implemented(channel, ENGRAM_SERVICE, "Remember")
            assert probe_implemented(channel, ENGRAM_SERVICE, "MemoryFlow")
            assert not probe_implemented(channel, ENGRAM_SERVICE, "Teleport")
            admin = NewClient(channel, None, "none")
            listed = admin.call("ListSpaces", admin.request("ListSpaces"))
            assert [s.memory_count for s in listed.response.spaces] == [0]
        finally:
            channel.close()
