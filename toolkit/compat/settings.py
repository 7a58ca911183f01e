"""What the compat suite is told on its command line (light: the xdist controller imports it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolkit.data import legacy_requests_dir


def default_recordings_dir() -> Path:
    """The recordings the toolkit ships (package data in a wheel, fixtures/ in a checkout),
    found the same from any working directory."""
    return legacy_requests_dir()


@dataclass(frozen=True)
class CompatSettings:
    target: str | None
    legacy_target: str | None
    recordings: Path
    scale: float
    server_factory: str | None
    # A log file the external target writes, and the pattern of its lines (None: JSON lines).
    server_log: Path | None = None
    server_log_pattern: str | None = None
    allow_partial: bool = False
