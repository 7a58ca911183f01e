"""The runtime suite against a correct server, many times in a row: every run must be green.

    python -m tests.bench.soak_compat [--runs 50] [--workers 2] [--scale 0.2] [--budget-s 1800]
        [--modes in-process,target] [--keep DIR]

Runs `engram-compat runtime` RUNS times in-process (the reference server the command starts,
shared by its workers) and RUNS times against one `engram-compat serve` as `--target` with
`--workers` workers sharing its default space (with `--server-log`, so DEPRECATION_WARNING is
whole), and prints each run's verdict, and for a run that is not green what its failing cases
saw. `--modes` picks one mode
or both (alternating, so both meet the same load); `--keep DIR` copies the reports of every
run that was not green there. Prints the load average at the start and the end. Stops at the
time budget; exits 1 when any run was not green. Not part of the test suite (it takes minutes);
issue 16 item 6 asks for 50 runs of each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.conftest import PROJECT_ROOT

SERVE = (sys.executable, "-m", "toolkit", "serve", "--port", "0")
MODES = ("in-process", "target")


def _failing_cases(document: dict[str, Any]) -> list[str]:
    lines = []
    for check in document["checks"]:
        for case in check["cases"]:
            if case["outcome"] in ("failed", "partial", "not_run"):
                seen = case.get("observed") or case.get("not_verified") or case.get("cause")
                lines.append(f"    {case['name']}: {case['outcome']}: {seen}")
                lines.append(f"      evidence: {json.dumps(case.get('evidence'))[:1500]}")
    return lines


def run_once(reports: Path, *args: str) -> tuple[int, str, list[str], list[str]]:
    command = [sys.executable, "-m", "toolkit", "runtime", "--reports", str(reports), *args]
    result = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    try:
        document = json.loads((reports / "compat.json").read_text())
    except (OSError, ValueError):
        return result.returncode, "no compat.json", [], [result.stderr[-1500:]]
    bad = [c["id"] for c in document["checks"] if c["outcome"] != "passed"]
    return result.returncode, str(document["verdict"]), bad, _failing_cases(document)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--workers", default="2")
    parser.add_argument("--scale", default="0.2")
    parser.add_argument("--budget-s", type=float, default=1800.0)
    parser.add_argument(
        "--modes", default=",".join(MODES), help="in-process, target, or both (comma-separated)"
    )
    parser.add_argument("--keep", type=Path, help="copy the reports of runs not green here")
    args = parser.parse_args()
    chosen = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
    if not chosen or any(mode not in MODES for mode in chosen):
        parser.error(f"--modes takes {', '.join(MODES)}")
    deadline = time.monotonic() + args.budget_s
    failures = {mode: 0 for mode in chosen}
    done = {mode: 0 for mode in chosen}
    print(f"load average at start: {_load()}", flush=True)
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
                    for mode in chosen:
                        if time.monotonic() > deadline:
                            break
                        started = time.monotonic()
                        reports = work / f"{mode}-{index}"
                        code, verdict, bad, details = run_once(reports, *modes[mode])
                        done[mode] += 1
                        green = code == 0 and verdict == "passed"
                        failures[mode] += not green
                        print(
                            f"{mode:10} run {index + 1:2}: {verdict:7} exit {code} "
                            f"{time.monotonic() - started:5.1f} s load {_load()} {' '.join(bad)}",
                            flush=True,
                        )
                        if not green:
                            print("\n".join(details), flush=True)
                            if args.keep is not None and reports.exists():
                                shutil.copytree(reports, args.keep / reports.name)
            finally:
                server.terminate()
                server.wait(timeout=15)
    print(f"load average at end: {_load()}")
    print(
        ", ".join(f"{done[m]} {m} runs ({failures[m]} not green)" for m in chosen),
        flush=True,
    )
    return 1 if any(failures.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
