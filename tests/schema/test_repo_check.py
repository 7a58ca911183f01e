"""`engram-compat check` on this repository's own schemas, and the kinds of baseline it takes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUESTS, run_cli
from tests.schema.conftest import CASES_ROOT, PROJECT_ROOT, cli_env, run_check
from toolkit.documents.base import validate
from toolkit.errors import ToolkitError
from toolkit.schema.buf import buf_executable

# exit code, stdout, parsed schema.json, its text
RepoRun = tuple[int, str, dict[str, Any], str]
TOP_LEVEL_KEYS = {
    "$schema", "schema_version", "kind", "duration_s", "verdict", "current", "baselines",
    "version_policy", "lint", "changes", "replay", "hazards", "acceptances", "mode", "wire_only",
    "compatibility",
}  # fmt: skip
CHANGE_KEYS = {
    "id", "baseline", "kind", "element", "message", "file", "line", "wire", "json", "source",
    "breaking", "buf_rules", "buf_messages", "before", "after", "accepted",
    "category", "backward", "forward", "remedy", "before_source", "after_source",
    "column", "end_line", "end_column",
}  # fmt: skip


@pytest.fixture(scope="module")
def repo_report(tmp_path_factory: pytest.TempPathFactory) -> RepoRun:
    tmp = tmp_path_factory.mktemp("repo-check")
    out = tmp / "schema.json"
    proc = run_cli(["check", "--json", str(out)], env=cli_env(tmp / "cache"))
    return proc.returncode, proc.stdout, json.loads(out.read_text()), out.read_text()


def test_repo_schema_is_compatible_with_its_baseline(repo_report: RepoRun) -> None:
    code, stdout, report, _ = repo_report
    assert code == 0, stdout
    assert stdout.splitlines()[0].startswith("schema check: COMPATIBLE")
    assert report["verdict"] == "compatible"
    assert report["current"] == {"source": "proto", "version": "1.1.0"}
    assert report["baselines"] == [{"source": "fixtures/baseline/proto", "version": "1.0.0"}]
    (policy,) = report["version_policy"]
    assert policy["required_bump"] == "minor"
    assert policy["minimum_version"] == "1.1.0"
    assert policy["satisfied"] is True
    assert report["lint"] == []
    assert not [c for c in report["changes"] if c["breaking"]]


def test_every_request_reads_memory_space_id_as_default(repo_report: RepoRun) -> None:
    _, _, report, _ = repo_report
    old_to_new = {r["message"]: r for r in report["replay"] if r["direction"] == "old_to_new"}
    for name in REQUESTS:
        record = old_to_new[f"engram.v1.{name}"]
        fields = {f["field"]: f["outcome"] for f in record["fields"]}
        assert fields["memory_space_id"] == "NEW_FIELD_DEFAULT", name
        assert record["outcome"] == "NEW_FIELD_DEFAULT", name
    new_to_old = {r["message"]: r for r in report["replay"] if r["direction"] == "new_to_old"}
    for name in REQUESTS:
        assert new_to_old[f"engram.v1.{name}"]["outcome"] == "IGNORED_BY_OLD", name


def test_rollout_hazard_names_every_request_field(repo_report: RepoRun) -> None:
    _, stdout, report, _ = repo_report
    (hazard,) = report["hazards"]
    assert hazard["id"] == "UPGRADE_SERVERS_FIRST"
    assert hazard["fields"] == sorted(f"engram.v1.{n}.memory_space_id" for n in REQUESTS)
    assert "hazard UPGRADE_SERVERS_FIRST" in stdout


def test_schema_json_follows_the_results_contract(repo_report: RepoRun) -> None:
    _, _, report, text = repo_report
    assert set(report) == TOP_LEVEL_KEYS
    assert report["schema_version"] == 1
    assert report["kind"] == "engram-compat/schema"
    assert text == json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    for change in report["changes"]:
        assert set(change) == CHANGE_KEYS
        assert change["id"] == f"{change['element']}:{change['id'].rsplit(':', 1)[1]}"
    added = {c["id"]: c for c in report["changes"]}
    space = added["engram.v1.RememberRequest.memory_space_id:added"]
    assert space["kind"] == "space_field_added"
    assert space["message"] == "engram.v1.RememberRequest"
    # Located at its declaration, with the span of `string memory_space_id = N;`.
    declared = space["after_source"]
    assert (space["line"], space["column"]) == (declared["line"], declared["column"])
    assert space["end_column"] - space["column"] == len(declared["text"])
    # The contract's space field: old clients -> new servers is safe; new clients -> old servers
    # silently lose their space, so clients may not go first (servers first is the rollout).
    assert (space["wire"], space["json"], space["source"]) == ("breaking", "breaking", "compatible")
    assert space["breaking"] is False  # a rollout constraint in rpc mode, not a break
    assert space["category"] == "routing"
    assert space["backward"] == {"wire": "compatible", "json": "compatible"}
    assert space["forward"] == {"wire": "breaking", "json": "breaking"}
    (per_baseline,) = report["compatibility"]
    assert per_baseline["compatibility"] == {
        "backward": {"wire": True, "json": True},
        "forward": {"wire": False, "json": False},
    }
    assert per_baseline["safe_rollouts"] == ["servers_first"]
    assert report["mode"] == "rpc"
    assert space["file"] == "engram/v1/engram.proto"
    assert space["line"] is not None


def test_schema_json_validates_against_its_json_schema(repo_report: RepoRun) -> None:
    _, _, report, _ = repo_report
    validate("schema", report, "schema.json")
    broken = dict(report, compatibility=[{"baseline": "x", "safe_rollouts": ["sideways"]}])
    with pytest.raises(ToolkitError, match="compatibility"):
        validate("schema", broken, "schema.json")


def test_git_ref_and_buf_image_baselines_match_the_folder(
    tmp_path: Path, tool_env: dict[str, str]
) -> None:
    cache = tmp_path / "cache"
    folder = run_check(cache, baselines=["fixtures/baseline/proto"], current="proto")
    git = run_check(cache, baselines=["git:HEAD:fixtures/baseline/proto"], current="proto")
    image = tmp_path / "baseline.binpb"
    subprocess.run(
        [buf_executable(), "build", "-o", str(image)],
        cwd=PROJECT_ROOT / "fixtures" / "baseline" / "proto",
        env=tool_env,
        check=True,
    )
    from_image = run_check(cache, baselines=[str(image)], current="proto")
    ids = sorted(c.id for c in folder.changes)
    for other in (git, from_image):
        assert other.verdict == "compatible"
        assert sorted(c.id for c in other.changes) == ids
        assert other.baselines[0].version == "1.0.0"
        assert [r.outcome for r in other.replay] == [r.outcome for r in folder.replay]


def test_every_baseline_is_checked_not_only_the_last(tmp_path: Path) -> None:
    """Transitive: current equals the newest release but breaks the older one."""
    report = run_check(
        tmp_path,
        baselines=["field_renamed/baseline", "field_renamed/current"],
        current="field_renamed/current",
        project_root=CASES_ROOT,
    )
    assert [b.source for b in report.baselines] == [
        "field_renamed/baseline",
        "field_renamed/current",
    ]
    assert report.verdict == "incompatible"
    by_baseline = {p.baseline: p for p in report.version_policy}
    assert by_baseline["field_renamed/current"].required_bump == "none"
    assert by_baseline["field_renamed/baseline"].required_bump == "major"
    assert {c.baseline for c in report.changes} == {"field_renamed/baseline"}

    newest_only = run_check(
        tmp_path,
        baselines=["field_renamed/current"],
        current="field_renamed/current",
        project_root=CASES_ROOT,
    )
    assert newest_only.verdict == "compatible"
    assert newest_only.changes == ()
