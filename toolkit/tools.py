"""External tools the stages run, found the way an installed toolkit must find them."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

BUF_ENV = "ENGRAM_COMPAT_BUF"


def find_buf() -> str | None:
    """`$ENGRAM_COMPAT_BUF` when set; else buf beside the running interpreter (a venv's bin/,
    where `buf-bin` installs it), else on PATH, so an installed toolkit finds its own buf
    without the venv being activated."""
    named = os.environ.get(BUF_ENV)
    if named:
        return named if Path(named).is_file() and os.access(named, os.X_OK) else None
    beside = Path(sys.executable).parent / ("buf.exe" if os.name == "nt" else "buf")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("buf")
