"""The runtime suite against a correct server, many times in a row: every run must be green.

    python -m tests.bench.soak_compat [--runs 50] [--workers 2] [--scale 0.2] [--budget-s 1800]

Runs `engram-compat runtime` RUNS times in-process (one reference server per worker) and RUNS
times against one `engram-compat serve` as `--target` with `--workers` workers sharing its
default space (with `--server-log`, so DEPRECATION_WARNING is whole), and prints each run's
verdict. Stops at the time budget; exits 1 when any run was not green. Not part of the test
suite (it takes minutes); issue 16 item 6 asks for 50 runs of each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.conftest import PROJECT_ROOT

SERVE = (sys.executable, "-m", "toolkit", "serve", "--port", "0")


def run_once(reports: Path, *args: str) -> tuple[int, str, list[str]]:
    command = [sys.executable, "-m", "toolkit", "runtime", "--reports", str(reports), *args]
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    try:
        document = json.loads((reports / "compat.json").read_text())
    except (OSError, ValueError):
        return result.returncode, "no compat.json", [result.stderr[-500:]]
    bad = [c["id"] for c in document["checks"] if c["outcome"] != "passed"]
    return result.returncode, str(document["verdict"]), bad


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--workers", default="2")
    parser.add_argument("--scale", default="0.2")
    parser.add_argument("--budget-s", type=float, default=1800.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.budget_s
    failures = 0
    done = {"in-process": 0, "target": 0}
    with tempfile.TemporaryDirectory(prefix="soak-compat-") as folder:
        work = Path(folder)
        log = work / "server.log"
        with log.open("w") as log_handle:
            server = subprocess.Popen(
                [*SERVE, "--data-dir", str(work / "data")],
                cwd=PROJECT_ROOT,
                stdout=subprocess.PIPE,
                stderr=log_handle,
                text=True,
            )
            try:
                assert server.stdout is not None
                address = server.stdout.readline().removeprefix("listening on ").strip()
                modes = {
                    "in-process": ("-n", args.workers, "--scale", args.scale),
                    "target": (
                        *("--target", address, "--server-log", str(log)),
                        *("-n", args.workers, "--scale", args.scale),
                    ),
                }
                for index in range(args.runs):
                    for mode, extra in modes.items():
                        if time.monotonic() > deadline:
                            break
                        started = time.monotonic()
                        code, verdict, bad = run_once(work / f"{mode}-{index}", *extra)
                        done[mode] += 1
                        green = code == 0 and verdict == "passed"
                        failures += not green
                        print(
                            f"{mode:10} run {index + 1:2}: {verdict:7} exit {code} "
                            f"{time.monotonic() - started:5.1f} s {' '.join(bad)}",
                            flush=True,
                        )
            finally:
                server.terminate()
                server.wait(timeout=15)
    print(f"{done['in-process']} in-process + {done['target']} --target runs, {failures} not green")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
