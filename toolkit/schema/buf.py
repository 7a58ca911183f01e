"""Run `buf lint` and `buf breaking` and read their JSON findings into records.

buf's exit codes are mapped, not guessed: 0 clean, 100 findings, anything else is a failure
of buf itself, reported with buf's own message. buf runs from inside the module folder.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from toolkit.documents.schema import LintFinding
from toolkit.errors import ToolkitError
from toolkit.tools import BUF_ENV, find_buf

BUF_CLEAN = 0
BUF_FINDINGS = 100
# The category judged when a module has no buf.yaml: wire and JSON, like the repo's own schemas.
DEFAULT_CONFIG = '{"version":"v2","lint":{"use":["STANDARD"]},"breaking":{"use":["WIRE_JSON"]}}'


class BufError(ToolkitError):
    """buf is missing, or failed (not merely found violations)."""


# One line of buf's `--error-format=json` output is a lint finding of schema.json as it is.
BufFinding = LintFinding


def buf_executable() -> str:
    found = find_buf()
    if found is None:
        if os.environ.get(BUF_ENV):
            raise BufError(f"buf not found: ${BUF_ENV} names {os.environ[BUF_ENV]!r}")
        raise BufError(
            "buf not found beside the Python interpreter or on PATH: "
            "install it with `pip install buf-bin`"
        )
    return found


def _config_args(module_root: Path) -> list[str]:
    has_config = any((module_root / name).exists() for name in ("buf.yaml", "buf.yml"))
    return [] if has_config else ["--config", DEFAULT_CONFIG]


def parse_findings(stdout: str) -> list[BufFinding]:
    findings: list[BufFinding] = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BufError(f"buf printed a line that is not JSON: {line[:200]}") from exc
        findings.append(
            BufFinding(
                rule=str(raw.get("type", "")),
                file=str(raw.get("path", "")),
                line=int(raw.get("start_line", 0)),
                column=int(raw.get("start_column", 0)),
                message=str(raw.get("message", "")),
            )
        )
    return findings


@dataclass
class BufRun:
    """A buf command started in the background; `collect` waits for it and reads it."""

    args: tuple[str, ...]
    module_root: Path
    process: subprocess.Popen[str]


def start(args: list[str], module_root: Path, cache_dir: Path) -> BufRun:
    """Start buf now (it runs while the caller works); read it later with `collect`."""
    env = dict(os.environ)
    env.setdefault("BUF_CACHE_DIR", str(cache_dir / "buf"))
    command = [buf_executable(), *args, "--error-format=json", *_config_args(module_root)]
    process = subprocess.Popen(
        command,
        cwd=module_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    return BufRun(tuple(args), module_root, process)


def collect(run: BufRun) -> list[BufFinding]:
    """Wait for a started buf command and read its findings (exit codes mapped, not guessed)."""
    stdout, stderr = run.process.communicate()
    if run.process.returncode == BUF_CLEAN:
        return []
    if run.process.returncode == BUF_FINDINGS:
        return parse_findings(stdout)
    detail = (stderr.strip() or stdout.strip()).splitlines()
    reason = detail[-1] if detail else f"exit status {run.process.returncode}"
    raise BufError(f"buf {run.args[0]} failed in {run.module_root.name}: {reason}")


def stop(run: BufRun) -> None:
    """End a started buf command that was not collected (the check failed meanwhile)."""
    if run.process.returncode is None:
        run.process.kill()
        run.process.communicate()


def start_lint(module_root: Path, cache_dir: Path) -> BufRun:
    return start(["lint"], module_root, cache_dir)


def start_breaking(module_root: Path, against: Path, cache_dir: Path) -> BufRun:
    return start(["breaking", "--against", str(against.resolve())], module_root, cache_dir)


def _run(args: list[str], module_root: Path, cache_dir: Path) -> list[BufFinding]:
    return collect(start(args, module_root, cache_dir))


def lint(module_root: Path, cache_dir: Path) -> list[BufFinding]:
    return collect(start_lint(module_root, cache_dir))


def breaking(module_root: Path, against: Path, cache_dir: Path) -> list[BufFinding]:
    """Findings of `buf breaking` of the module against a folder or image."""
    return collect(start_breaking(module_root, against, cache_dir))
