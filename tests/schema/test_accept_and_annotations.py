"""Accepted changes, the version policy, the printed summary and GitHub annotations."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from tests.conftest import run_cli
from tests.schema.conftest import CASES_ROOT, cli_env, run_case, run_check
from toolkit.documents.schema import CompatMode
from toolkit.schema.policy import minimum_version
from toolkit.schema.version import version_of_tag

RPC_REMOVED = "engram.v1.EngramService.Forget:removed"
# Removing an RPC breaks old clients (backward) only; clients-first keeps `rpc` mode safe, so
# these tests judge it in the registry's backward mode.
BACKWARD: CompatMode = "backward"
ANNOTATION = re.compile(
    r"^::error file=(?P<file>[^,]+),line=(?P<line>\d+)(?:,col=\d+,endLine=\d+,endColumn=\d+)?"
    r"(?:,title=(?P<title>[^:,]+))?::(?P<text>.+)$"
)


def write_accept(path: Path, change_id: str, expires: str | None) -> Path:
    lines = ["[[accept]]", f'id = "{change_id}"', 'reason = "Forget moved to the admin API"']
    if expires:
        lines.append(f"expires = {expires}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_accepted_change_does_not_fail_the_check(cache_dir: Path, tmp_path: Path) -> None:
    accept = write_accept(tmp_path / "accept.toml", RPC_REMOVED, "2999-12-31")
    report = run_case(cache_dir, "rpc_removed", accept=accept, mode=BACKWARD)
    assert report.verdict == "compatible"
    (change,) = report.changes
    assert change.breaking and change.accepted is not None
    assert change.accepted.reason == "Forget moved to the admin API"
    assert change.accepted.expires == "2999-12-31"
    (use,) = report.acceptances
    assert (use.id, use.status) == (RPC_REMOVED, "used")


def test_an_expired_acceptance_accepts_nothing(cache_dir: Path, tmp_path: Path) -> None:
    accept = write_accept(tmp_path / "accept.toml", RPC_REMOVED, "2001-01-01")
    report = run_case(cache_dir, "rpc_removed", accept=accept, mode=BACKWARD)
    assert report.verdict == "incompatible"
    assert report.changes[0].accepted is None
    assert [u.status for u in report.acceptances] == ["expired"]


def test_an_unused_acceptance_is_reported(cache_dir: Path, tmp_path: Path) -> None:
    accept = write_accept(tmp_path / "accept.toml", "engram.v1.Nothing.here:removed", None)
    report = run_case(cache_dir, "rpc_removed", accept=accept, mode=BACKWARD)
    assert report.verdict == "incompatible"
    assert [(u.status, u.expires) for u in report.acceptances] == [("unused", None)]


def test_cli_exit_codes_follow_the_verdict(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "cache")
    common = ["--project-root", str(CASES_ROOT), "--json", str(tmp_path / "s.json")]
    breaking = run_cli(
        [
            "check",
            "--baseline",
            "rpc_removed/baseline",
            "--current",
            "rpc_removed/current",
            "--compat",
            "backward",
            *common,
        ],
        cwd=CASES_ROOT,
        env=env,
    )
    assert breaking.returncode == 1, breaking.stderr
    assert breaking.stdout.splitlines()[0].startswith("schema check: INCOMPATIBLE")
    accept = write_accept(tmp_path / "accept.toml", RPC_REMOVED, None)
    accepted = run_cli(
        [
            "check", "--baseline", "rpc_removed/baseline", "--current", "rpc_removed/current",
            "--accept", str(accept), "--compat", "backward", *common,
        ],
        cwd=CASES_ROOT, env=env,
    )  # fmt: skip
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert f"acceptance {RPC_REMOVED}: used" in accepted.stdout


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("string_number_taken_over", 2),
        ("field_added_next_number", 0),
    ],
)
def test_github_annotations_only_for_breaking_findings(
    case: str, expected: int, tmp_path: Path
) -> None:
    proc = run_cli(
        [
            "check", "--project-root", str(CASES_ROOT), "--baseline", f"{case}/baseline",
            "--current", f"{case}/current", "--json", str(tmp_path / "s.json"),
            "--annotations", "github",
        ],
        cwd=CASES_ROOT, env=cli_env(tmp_path / "cache"),
    )  # fmt: skip
    annotations = [
        line
        for line in proc.stdout.splitlines()
        if line.startswith("::") and "::version policy:" not in line
    ]
    assert len(annotations) == expected, proc.stdout
    for annotation in annotations:
        match = ANNOTATION.match(annotation)
        assert match, annotation
        assert match["file"] == f"{case}/current/engram/v1/engram.proto"
        source = (CASES_ROOT / match["file"]).read_text().splitlines()
        assert "memory_" in source[int(match["line"]) - 1]
        assert "ForgetRequest.memory_" in match["text"]


def test_annotations_leave_out_accepted_changes(tmp_path: Path) -> None:
    accept = write_accept(tmp_path / "accept.toml", RPC_REMOVED, None)
    proc = run_cli(
        [
            "check", "--project-root", str(CASES_ROOT), "--baseline", "rpc_removed/baseline",
            "--current", "rpc_removed/current", "--json", str(tmp_path / "s.json"),
            "--annotations", "github", "--accept", str(accept),
        ],
        cwd=CASES_ROOT, env=cli_env(tmp_path / "cache"),
    )  # fmt: skip
    assert proc.returncode == 0
    assert not [line for line in proc.stdout.splitlines() if line.startswith("::")]


@pytest.mark.parametrize(
    ("baseline", "bump", "minimum"),
    [
        ("1.0.0", "major", "2.0.0"),
        ("1.4.2", "minor", "1.5.0"),
        ("1.4.2", "patch", "1.4.3"),
        ("1.4.2", "none", "1.4.2"),
        ("2", "minor", "2.1.0"),
    ],
)
def test_minimum_version_per_bump(baseline: str, bump: str, minimum: str) -> None:
    assert minimum_version(Version(baseline), bump) == Version(minimum)  # type: ignore[arg-type]


def test_declared_version_below_the_required_bump_fails(cache_dir: Path) -> None:
    report = run_case(cache_dir, "version_not_bumped")
    (policy,) = report.version_policy
    assert (policy.declared, policy.minimum_version, policy.satisfied) == ("1.0.0", "1.1.0", False)
    assert not [c for c in report.changes if c.breaking]
    assert report.verdict == "incompatible"
    bumped = run_case(cache_dir, "field_added_next_number")
    assert bumped.version_policy[0].satisfied and bumped.verdict == "compatible"


def test_acceptance_dates_are_compared_with_today() -> None:
    from toolkit.schema.accept import AcceptanceEntry

    entry = AcceptanceEntry("x:removed", "reason", datetime.date(2025, 6, 1))
    assert not entry.expired(datetime.date(2025, 6, 1))
    assert entry.expired(datetime.date(2025, 6, 2))


def test_a_version_only_failure_is_described_as_such_with_where_it_is_declared(
    tmp_path: Path,
) -> None:
    proc = run_cli(
        [
            "check", "--project-root", str(CASES_ROOT), "--baseline", "version_not_bumped/baseline",
            "--current", "version_not_bumped/current", "--json", str(tmp_path / "s.json"),
            "--annotations", "github",
        ],
        cwd=CASES_ROOT, env=cli_env(tmp_path / "cache"),
    )  # fmt: skip
    assert proc.returncode == 1
    wanted = "the schema is compatible; its declared version 1.0.0 is below the 1.1.0 this change"
    assert wanted in proc.stdout
    (annotation,) = [line for line in proc.stdout.splitlines() if line.startswith("::")]
    match = ANNOTATION.match(annotation)
    assert match, annotation
    assert match["file"] == "version_not_bumped/current/engram/v1/engram.proto"
    source = (CASES_ROOT / match["file"]).read_text().splitlines()
    assert "engram-schema-version: 1.0.0" in source[int(match["line"]) - 1]
    assert wanted in match["text"]


def test_an_accepted_incompatible_change_still_needs_a_major_bump(
    cache_dir: Path, tmp_path: Path, case_copy: Any
) -> None:
    """An accepted RPC removal cannot ship as a minor (it used to need only a minor bump)."""
    case = case_copy("rpc_removed")
    proto = case / "current" / "engram" / "v1" / "engram.proto"
    proto.write_text(
        proto.read_text().replace("engram-schema-version: 2.0.0", "engram-schema-version: 1.1.0")
    )
    accept = write_accept(tmp_path / "accept.toml", RPC_REMOVED, None)
    report = run_check(
        cache_dir,
        baselines=[str(case / "baseline")],
        current=str(case / "current"),
        accept=accept,
        mode=BACKWARD,
    )
    (policy,) = report.version_policy
    assert (policy.required_bump, policy.satisfied) == ("major", False)
    assert report.verdict == "incompatible"
    assert "below the 2.0.0" in policy.description


def test_no_version_anywhere_is_not_checked_and_does_not_decide(cache_dir: Path) -> None:
    report = run_case(cache_dir, "no_version_declared")
    (policy,) = report.version_policy
    assert not policy.checked and policy.satisfied
    assert "neither schema declares a version" in policy.description
    assert report.verdict == "compatible"
    assert report.current.version == "unversioned"


def test_versions_come_from_options_and_tags(cache_dir: Path, tmp_path: Path) -> None:
    too_low = run_check(
        cache_dir,
        baselines=["no_version_declared/baseline"],
        current="no_version_declared/current",
        project_root=CASES_ROOT,
        baseline_version=Version("1.0.0"),
        current_version=Version("1.0.0"),
    )
    (policy,) = too_low.version_policy
    assert policy.checked and not policy.satisfied
    assert "the schema is compatible; its declared version 1.0.0 is below the 1.1.0" in (
        policy.description
    )
    assert too_low.verdict == "incompatible"
    bumped = run_check(
        cache_dir,
        baselines=["no_version_declared/baseline"],
        current="no_version_declared/current",
        project_root=CASES_ROOT,
        baseline_version=Version("1.0.0"),
        current_version=Version("1.1.0"),
    )
    assert bumped.version_policy[0].satisfied and bumped.verdict == "compatible"
    assert version_of_tag("v1.2.3") == Version("1.2.3")
    assert version_of_tag("refs/tags/v2.0.0") == Version("2.0.0")
    assert version_of_tag("main") is None
    assert version_of_tag("v1.2") is None


def test_only_the_baseline_declaring_a_version_fails_the_policy(cache_dir: Path) -> None:
    report = run_check(
        cache_dir,
        baselines=["no_version_declared/baseline"],
        current="no_version_declared/current",
        project_root=CASES_ROOT,
        baseline_version=Version("1.0.0"),
    )
    (policy,) = report.version_policy
    assert policy.checked and not policy.satisfied
    assert "declares no version" in policy.description
