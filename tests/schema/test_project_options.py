"""`check` as a user outside this repository runs it: paths from the working directory, the
project's [tool.engram-compat] table, `--json -`, and one-line refusals of bad options."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, run_cli
from tests.schema.conftest import CASES_ROOT, cli_env

CASE = "field_added_next_number"


def _user_repo(tmp_path: Path) -> Path:
    """A git repository of the user's own, holding a baseline and a current schema."""
    repo = tmp_path / "repo"
    shutil.copytree(CASES_ROOT / CASE / "baseline", repo / "old")
    shutil.copytree(CASES_ROOT / CASE / "current", repo / "new")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def test_json_dash_writes_the_document_to_stdout_and_the_summary_to_stderr(
    tmp_path: Path,
) -> None:
    repo = _user_repo(tmp_path)
    proc = run_cli(
        ["check", "--baseline", "old", "--current", "new", "--json", "-"],
        cwd=repo,
        env=cli_env(tmp_path / "cache"),
    )
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["verdict"] == "compatible"
    assert document["current"]["source"] == "new"  # relative to the project, no machine path
    assert proc.stderr.startswith("schema check: COMPATIBLE")
    assert not (repo / "-").exists()


def test_paths_are_taken_from_the_working_directory_and_configuration_from_the_root(
    tmp_path: Path,
) -> None:
    repo = _user_repo(tmp_path)
    (repo / "pyproject.toml").write_text(
        '[tool.engram-compat]\nbaseline = "old"\ncurrent = "new"\n', encoding="utf-8"
    )
    inner = repo / "deep" / "inside"
    inner.mkdir(parents=True)
    env = cli_env(tmp_path / "cache")
    configured = run_cli(["check", "--json", "-"], cwd=inner, env=env)
    assert configured.returncode == 0, configured.stderr
    assert json.loads(configured.stdout)["baselines"][0]["source"] == "old"
    # A path on the command line is the user's, relative to where they stand.
    typed = run_cli(
        ["check", "--baseline", "../../old", "--current", "../../new", "--json", "-"],
        cwd=inner,
        env=env,
    )
    assert typed.returncode == 0, typed.stderr
    # The environment overrides the table, and a wrong table is one line, exit 2.
    (repo / "pyproject.toml").write_text("[tool.engram-compat]\nbaseline = 3\n")
    wrong = run_cli(["check", "--json", "-"], cwd=inner, env=env)
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1 and "expected a string" in wrong.stderr


def test_a_named_acceptance_file_must_exist(tmp_path: Path) -> None:
    repo = _user_repo(tmp_path)
    proc = run_cli(
        ["check", "--baseline", "old", "--current", "new", "--accept", "nope.toml"],
        cwd=repo,
        env=cli_env(tmp_path / "cache"),
    )
    assert proc.returncode == 2
    assert "no such acceptance file" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("spec", ["git:--output=evil", "git:HEAD:--output=evil"])
def test_a_git_ref_that_looks_like_an_option_is_refused(tmp_path: Path, spec: str) -> None:
    proc = run_cli(
        ["check", "--baseline", spec, "--json", str(tmp_path / "s.json")],
        env=cli_env(tmp_path / "cache"),
    )
    assert proc.returncode == 2
    assert "may not begin with `-`" in proc.stderr
    assert not (PROJECT_ROOT / "evil").exists()


def test_json_naming_a_folder_is_one_line_exit_2(tmp_path: Path) -> None:
    repo = _user_repo(tmp_path)
    proc = run_cli(
        ["check", "--baseline", "old", "--current", "new", "--json", str(tmp_path)],
        cwd=repo,
        env=cli_env(tmp_path / "cache"),
    )
    assert proc.returncode == 2
    assert "it is a folder" in proc.stderr and "Traceback" not in proc.stderr


def test_annotations_are_printed_inside_github_actions(tmp_path: Path) -> None:
    base = CASES_ROOT / "fields_renumbered_for_new_field_1"
    proc = run_cli(
        [
            "check",
            "--baseline",
            str(base / "baseline"),
            "--current",
            str(base / "current"),
            "--json",
            str(tmp_path / "s.json"),
        ],
        env=cli_env(tmp_path / "cache", GITHUB_ACTIONS="true"),
    )
    assert proc.returncode == 1
    assert any(line.startswith("::error ") for line in proc.stdout.splitlines())


def test_the_compat_mode_comes_from_the_table_unless_given(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    case = CASES_ROOT / "rpc_removed"  # rpc mode holds (clients first), backward does not
    shutil.copytree(case / "baseline", repo / "old")
    shutil.copytree(case / "current", repo / "new")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "pyproject.toml").write_text(
        '[tool.engram-compat]\nbaseline = "old"\ncurrent = "new"\ncompat = "backward"\n'
    )
    env = cli_env(tmp_path / "cache")
    configured = run_cli(["check", "--json", "-"], cwd=repo, env=env)
    assert configured.returncode == 1, configured.stderr
    assert json.loads(configured.stdout)["mode"] == "backward"
    given = run_cli(["check", "--compat", "rpc", "--json", "-"], cwd=repo, env=env)
    assert given.returncode == 0, given.stderr
