"""Fixtures of the schema-check tests: the change cases, a compile cache per run, helpers."""

from __future__ import annotations

import datetime
import os
import shutil
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from toolkit.documents.schema import CompatMode, SchemaReport
from toolkit.schema.check import CheckOptions, check

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CASES_ROOT = PROJECT_ROOT / "fixtures" / "schema_cases"
CASE_NAMES = sorted(p.name for p in CASES_ROOT.iterdir() if (p / "expected.toml").is_file())
TODAY = datetime.date(2025, 6, 1)


def expected(case: str) -> dict[str, Any]:
    return tomllib.loads((CASES_ROOT / case / "expected.toml").read_text())


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One compile cache per test process, in the run's temporary folder."""
    return tmp_path_factory.mktemp("engram-compat-cache")


@pytest.fixture(scope="session", autouse=True)
def _buf_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    if "BUF_CACHE_DIR" not in os.environ:
        os.environ["BUF_CACHE_DIR"] = str(tmp_path_factory.mktemp("buf-cache"))


def run_check(
    cache_dir: Path,
    *,
    baselines: Sequence[str],
    current: str,
    project_root: Path = PROJECT_ROOT,
    accept: Path | None = None,
    today: datetime.date = TODAY,
    mode: CompatMode = "rpc",
    wire_only: bool = False,
    current_version: Version | None = None,
    baseline_version: Version | None = None,
) -> SchemaReport:
    return check(
        CheckOptions(
            project_root=project_root,
            baselines=tuple(baselines),
            current=current,
            accept=accept,
            cache_dir=cache_dir,
            today=today,
            mode=mode,
            wire_only=wire_only,
            current_version=current_version,
            baseline_version=baseline_version,
        )
    )


def run_case(
    cache_dir: Path,
    case: str,
    accept: Path | None = None,
    mode: CompatMode = "rpc",
    wire_only: bool = False,
) -> SchemaReport:
    return run_check(
        cache_dir,
        baselines=[f"{case}/baseline"],
        current=f"{case}/current",
        project_root=CASES_ROOT,
        accept=accept,
        mode=mode,
        wire_only=wire_only,
    )


@pytest.fixture
def case_copy(tmp_path: Path) -> Any:
    """Copy a case into tmp_path (to break it further) and return the copy's folder."""

    def copy(case: str) -> Path:
        target = tmp_path / case
        shutil.copytree(CASES_ROOT / case, target)
        return target

    return copy


def cli_env(cache_dir: Path, **overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env["ENGRAM_COMPAT_CACHE_DIR"] = str(cache_dir)
    env.update(overrides)
    return env
