"""Project root discovery and [tool.engram-compat] configuration."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from toolkit import data
from toolkit.project import ProjectConfig, ProjectConfigError, find_project_root, load_config


def _git_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    return path


def test_root_is_the_git_work_tree_holding_the_working_directory(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    inner = repo / "a" / "b"
    inner.mkdir(parents=True)
    assert find_project_root(cwd=inner) == repo.resolve()


def test_root_outside_git_is_the_nearest_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git must not find a work tree above tmp_path (the test may run inside one).
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.resolve()))
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    inner = tmp_path / "sub" / "deeper"
    inner.mkdir(parents=True)
    assert find_project_root(cwd=inner) == tmp_path.resolve()


def test_explicit_root_overrides_and_must_exist(tmp_path: Path) -> None:
    repo = _git_repo(tmp_path / "repo")
    other = tmp_path / "other"
    other.mkdir()
    assert find_project_root(other, cwd=repo) == other.resolve()
    with pytest.raises(ProjectConfigError, match="no such folder"):
        find_project_root(tmp_path / "missing", cwd=repo)


def test_config_reads_the_table_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.engram-compat]\nbaseline = ["git:v1.0.0", "old/proto"]\ncompat = "full"\n'
        'server-log = "logs/server.jsonl"\n'
    )
    config = load_config(tmp_path, environ={})
    assert config == ProjectConfig(
        baselines=("git:v1.0.0", "old/proto"), compat="full", server_log="logs/server.jsonl"
    )
    overridden = load_config(
        tmp_path, environ={"ENGRAM_COMPAT_BASELINE": "git:main, x", "ENGRAM_COMPAT_MODE": "rpc"}
    )
    assert overridden.baselines == ("git:main", "x")
    assert overridden.compat == "rpc"
    assert overridden.server_log == "logs/server.jsonl"


def test_no_pyproject_is_the_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path, environ={}) == ProjectConfig()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('baselines = "x"\nfrobnicate = 1\n', "unknown key 'frobnicate'"),
        ("compat = 3\n", "expected a non-empty string"),
        ("baseline = [1]\n", "expected a string or a list of strings"),
    ],
)
def test_a_wrong_table_is_one_clear_error(tmp_path: Path, table: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.engram-compat]\n" + table)
    with pytest.raises(ProjectConfigError, match=message):
        load_config(tmp_path, environ={})


def test_unreadable_pyproject_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.engram-compat\n")
    with pytest.raises(ProjectConfigError, match="cannot be read"):
        load_config(tmp_path, environ={})


def test_shipped_data_is_found_from_a_source_checkout() -> None:
    assert (data.baseline_proto_dir() / "buf.yaml").is_file()
    assert any(data.legacy_requests_dir().glob("*/*/*.txtpb"))
