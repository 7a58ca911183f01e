"""Where a run's project is, and how it is configured when no argument says otherwise.

The project root is the git repository that contains the working directory (git's own
discovery), else the nearest folder above it with a `pyproject.toml`, else the working
directory; `--project-root` overrides it. Options come, lowest first, from the defaults, the
`[tool.engram-compat]` table of the root's `pyproject.toml`, `ENGRAM_COMPAT_*` environment
variables, and the command line.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from toolkit.errors import ToolkitError

CONFIG_TABLE = "engram-compat"


class ProjectConfigError(ToolkitError):
    """pyproject.toml's [tool.engram-compat] table or an ENGRAM_COMPAT_* variable is wrong."""


@dataclass(frozen=True)
class ProjectConfig:
    """The options a run takes from the project instead of the command line."""

    baselines: tuple[str, ...] = ()  # schema check baselines (default: the shipped release)
    current: str | None = None  # the current schema's folder (default: proto)
    accept: str | None = None  # acceptance file (default: fixtures/accepted-changes.toml)
    compat: str | None = None  # rpc | backward | forward | full
    target: str | None = None  # HOST:PORT the runtime suite checks (default: start a server)
    server_log: str | None = None  # the target's log file, for DEPRECATION_WARNING
    fail_on: str | None = None  # breaking | rollout


# Environment variable -> option; a list option takes comma-separated values.
ENVIRONMENT = {
    "ENGRAM_COMPAT_BASELINE": "baselines",
    "ENGRAM_COMPAT_CURRENT": "current",
    "ENGRAM_COMPAT_ACCEPT": "accept",
    "ENGRAM_COMPAT_MODE": "compat",
    "ENGRAM_COMPAT_TARGET": "target",
    "ENGRAM_COMPAT_SERVER_LOG": "server_log",
    "ENGRAM_COMPAT_FAIL_ON": "fail_on",
}
# Keys of the TOML table, as a user writes them.
TOML_KEYS = {f.name.replace("_", "-"): f.name for f in fields(ProjectConfig)} | {
    "baseline": "baselines"
}


def find_project_root(explicit: Path | None = None, cwd: Path | None = None) -> Path:
    """`explicit`, else the git work tree holding `cwd`, else the nearest pyproject.toml's
    folder, else `cwd`."""
    here = (cwd or Path.cwd()).resolve()
    if explicit is not None:
        root = explicit if explicit.is_absolute() else here / explicit
        if not root.is_dir():
            raise ProjectConfigError(f"--project-root {explicit}: no such folder")
        return root.resolve()
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=here,
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        proc = None
    if proc is not None and proc.returncode == 0 and proc.stdout.strip():
        return Path(proc.stdout.strip()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here


def _table(root: Path) -> Mapping[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectConfigError(f"{path}: cannot be read: {exc}") from exc
    table = document.get("tool", {}).get(CONFIG_TABLE, {})
    if not isinstance(table, dict):
        raise ProjectConfigError(f"{path}: [tool.{CONFIG_TABLE}] must be a table")
    return table


def _as_option(name: str, value: Any, where: str) -> Any:
    if name == "baselines":
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise ProjectConfigError(f"{where}: expected a string or a list of strings")
        return tuple(items)
    if not isinstance(value, str) or not value:
        raise ProjectConfigError(f"{where}: expected a non-empty string")
    return value


def load_config(root: Path, environ: Mapping[str, str] | None = None) -> ProjectConfig:
    """The project's configuration: pyproject.toml's table, then the environment on top."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for key, value in _table(root).items():
        name = TOML_KEYS.get(key)
        if name is None:
            known = ", ".join(sorted(TOML_KEYS))
            raise ProjectConfigError(
                f"pyproject.toml [tool.{CONFIG_TABLE}]: unknown key {key!r} (known: {known})"
            )
        values[name] = _as_option(name, value, f"pyproject.toml [tool.{CONFIG_TABLE}] {key}")
    for variable, name in ENVIRONMENT.items():
        raw = environ.get(variable)
        if raw:
            value = [p.strip() for p in raw.split(",") if p.strip()] if name == "baselines" else raw
            values[name] = _as_option(name, value, variable)
    return ProjectConfig(**values)
