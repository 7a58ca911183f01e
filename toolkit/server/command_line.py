"""The command line that runs the reference server in a process of its own (light: no grpc).

Everything in the toolkit that starts `engram-compat serve` (the runtime suite, the rehearsal's
fleet) builds its command here, so they start the same server the same way.
"""

from __future__ import annotations

import sys
from pathlib import Path


def reference_command(
    schema: str, data_dir: Path, port: int = 0, *extra: str, host: str = "127.0.0.1"
) -> list[str]:
    """`engram-compat serve` with this interpreter, on `host:port` (0: a free port), logging
    JSON lines, with `extra` arguments appended."""
    return [
        sys.executable,
        "-m",
        "toolkit",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--schema",
        schema,
        "--log-format",
        "json",
        *extra,
    ]
