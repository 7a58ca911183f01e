"""Run `buf lint` and `buf breaking` and read their JSON findings into records.

buf's exit codes are mapped, not guessed: 0 clean, 100 findings, anything else is a failure
of buf itself, reported with buf's own message. buf runs from inside the module folder.
"""

from __future__ import annotations

import json
import os
import subprocess
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


def _run(args: list[str], module_root: Path, cache_dir: Path) -> list[BufFinding]:
    env = dict(os.environ)
    env.setdefault("BUF_CACHE_DIR", str(cache_dir / "buf"))
    command = [buf_executable(), *args, "--error-format=json", *_config_args(module_root)]
    proc = subprocess.run(
        command, cwd=module_root, env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode == BUF_CLEAN:
        return []
    if proc.returncode == BUF_FINDINGS:
        return parse_findings(proc.stdout)
    detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    reason = detail[-1] if detail else f"exit status {proc.returncode}"
    raise BufError(f"buf {args[0]} failed in {module_root.name}: {reason}")


def lint(module_root: Path, cache_dir: Path) -> list[BufFinding]:
    return _run(["lint"], module_root, cache_dir)


def breaking(module_root: Path, against: Path, cache_dir: Path) -> list[BufFinding]:
    """Findings of `buf breaking` of the module against a folder or image."""
    return _run(["breaking", "--against", str(against.resolve())], module_root, cache_dir)
