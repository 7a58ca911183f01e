"""Shared fixtures: project locations and an environment that keeps tools out of $HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from toolkit.contract import ENGRAM_RPC_NAMES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Every request message of the Engram service (`<Rpc>Request`): each gains the space field in
# 1.1.0. Derived from the contract's one list of RPCs.
REQUESTS = tuple(f"{name}Request" for name in ENGRAM_RPC_NAMES)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def tool_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for subprocesses: buf's cache inside this run's temporary folder."""
    env = dict(os.environ)
    env["BUF_CACHE_DIR"] = str(tmp_path_factory.mktemp("buf-cache"))
    return env


def run_cli(
    args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `engram-compat ARGS` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        cwd=cwd or PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
