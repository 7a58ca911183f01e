"""What the compat suite is told on its command line (light: the xdist controller imports it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RECORDINGS = Path("fixtures") / "legacy_requests"
# A source checkout keeps the recordings beside the package; found from any working directory.
SOURCE_TREE_RECORDINGS = Path(__file__).resolve().parents[2] / RECORDINGS


def default_recordings_dir() -> Path:
    """`fixtures/legacy_requests` of the working directory, else of the toolkit's source tree."""
    here = Path.cwd() / RECORDINGS
    if here.is_dir() or not SOURCE_TREE_RECORDINGS.is_dir():
        return here
    return SOURCE_TREE_RECORDINGS


@dataclass(frozen=True)
class CompatSettings:
    target: str | None
    legacy_target: str | None
    recordings: Path
    scale: float
    server_factory: str | None
