"""The environment a run happened in: tool versions and the git commit, for reproducing it."""

from __future__ import annotations

import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from toolkit.documents.results import Environment
from toolkit.tools import find_buf

UNAVAILABLE = "unavailable"


def _distribution_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return UNAVAILABLE


def _output(command: list[str], cwd: Path) -> str | None:
    try:
        completed = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if completed.returncode != 0:
        return None
    return completed.stdout.strip() or None


def _buf_version(cwd: Path) -> str:
    buf = find_buf()
    if buf is None:
        return UNAVAILABLE
    return _output([buf, "--version"], cwd) or UNAVAILABLE


def gather_environment(project_root: Path) -> Environment:
    git = shutil.which("git")
    commit = branch = None
    if git is not None:
        commit = _output([git, "rev-parse", "HEAD"], project_root)
        branch = _output([git, "rev-parse", "--abbrev-ref", "HEAD"], project_root)
        if branch == "HEAD":  # detached: there is no branch to name
            branch = None
    return Environment(
        python=platform.python_version(),
        grpcio=_distribution_version("grpcio"),
        protobuf=_distribution_version("protobuf"),
        buf=_buf_version(project_root),
        git_commit=commit,
        git_branch=branch,
    )
