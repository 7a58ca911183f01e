"""An upgrade/rollback hook for `rehearse --fleet`: restarts a local reference server.

    python restart_hook.py ADDRESS upgrade|rollback STEP

The servers' state (pid, data dir, output) lives in `$REHEARSE_HOOK_STATE/<port>.*`;
`start` and `stop` are what the test uses to run the fleet in the first place.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

STATE_ENV = "REHEARSE_HOOK_STATE"
LISTENING_PREFIX = "listening on "  # what `serve` prints once ready (kept import-free: fast)
TIMEOUT_S = 30.0


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As gRPC binds: connections in TIME_WAIT do not keep the port from a new server.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def serve_command(schema: str, data_dir: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "toolkit",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--schema",
        schema,
    ]


def start(state: Path, port: int, schema: str) -> subprocess.Popen[bytes]:
    """Start the reference server on `port` (its data dir in `state`) and wait until it serves."""
    out = state / f"{port}.out"
    out.write_text("")
    with out.open("wb") as stdout, (state / f"{port}.log").open("ab") as stderr:
        process = subprocess.Popen(
            serve_command(schema, state / f"{port}.data", port), stdout=stdout, stderr=stderr
        )
    (state / f"{port}.pid").write_text(str(process.pid))
    deadline = time.monotonic() + TIMEOUT_S
    while LISTENING_PREFIX not in out.read_text():
        if time.monotonic() > deadline or process.poll() is not None:
            raise SystemExit(f"server on port {port} did not start")
        time.sleep(0.05)
    return process


def stop(state: Path, port: int) -> None:
    """SIGTERM the server on `port` and wait until the port is free."""
    pid = int((state / f"{port}.pid").read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + TIMEOUT_S
    while not _free(port) and time.monotonic() < deadline:
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    address, action, _step = argv
    state = Path(os.environ[STATE_ENV])
    port = int(address.rpartition(":")[2])
    stop(state, port)
    start(state, port, "current" if action == "upgrade" else "legacy")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
