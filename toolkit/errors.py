"""Errors the CLI turns into one clear line and a distinct exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the check ran and found a problem (drift, incompatibility, failed check)
EXIT_UNUSABLE = 2  # it could not judge: bad input, missing tool, unreadable file


class ToolkitError(Exception):
    """An expected failure with a message meant for a person; never shown as a traceback."""

    exit_code = EXIT_UNUSABLE
