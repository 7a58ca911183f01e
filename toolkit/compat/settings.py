"""What the compat suite is told on its command line (light: the xdist controller imports it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def default_recordings_dir() -> Path:
    return Path.cwd() / "fixtures" / "legacy_requests"


@dataclass(frozen=True)
class CompatSettings:
    target: str | None
    legacy_target: str | None
    recordings: Path
    scale: float
    server_factory: str | None
