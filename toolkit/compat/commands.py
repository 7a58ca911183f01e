"""Subcommands of the compat stage."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Add this stage's subcommands to `engram-compat`."""
