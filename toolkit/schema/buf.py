"""Run `buf lint` and `buf breaking` and read their JSON findings into records.

buf's exit codes are mapped, not guessed: 0 clean, 100 findings, anything else is a failure
of buf itself, reported with buf's own message. buf runs from inside the module folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import threading
from collections.abc import Sequence
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


def single_module(root: Path) -> bool:
    """Whether buf reads `root` as one module whose image keeps its file paths and whose
    buf.yaml applies to that image as it applies to the folder: no buf.work.yaml, and no
    `modules:` list in buf.yaml (a v2 workspace names files relative to each module, and its
    per-module settings do not apply to an image). Unreadable configuration counts as no."""
    if any((root / name).exists() for name in ("buf.work.yaml", "buf.work.yml")):
        return False
    for name in ("buf.yaml", "buf.yml"):
        config = root / name
        if config.exists():
            try:
                text = config.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return False
            return _MODULES_KEY.search(text) is None
    return True


_MODULES_KEY = re.compile(r"^modules\s*:", re.MULTILINE)


class BufRun:
    """One buf command running in the background; `collect` waits for it and reads it.

    A run may need images built first (`needs`): it starts when they are written and reads
    them instead of compiling the folders again. When a build fails, the run falls back to its
    `fallback` arguments (the folders themselves), so buf's own words about the schema reach
    the user exactly as a plain `buf lint` or `buf breaking` prints them.
    """

    def __init__(
        self,
        args: Sequence[str],
        module_root: Path,
        cache_dir: Path,
        *,
        needs: Sequence[BufRun] = (),
        fallback: Sequence[str] | None = None,
        extra: Sequence[str] = ("--error-format=json",),
    ) -> None:
        self.args = tuple(args)
        self.module_root = module_root
        self._cache_dir = cache_dir
        self._needs = tuple(needs)
        self._fallback = tuple(fallback) if fallback is not None else None
        self._extra = tuple(extra)
        self._lock = threading.Lock()
        self._reading = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._stopped = False
        self._outcome: tuple[int, str, str] | None = None
        self._error: BufError | None = None
        self._done = threading.Event()
        if self._needs:
            threading.Thread(target=self._after_needs, name=f"buf-{args[0]}", daemon=True).start()
            return
        try:  # buf missing or not startable: the caller's error, raised here as before
            self._launch(self.args)
        finally:
            self._done.set()

    def _launch(self, args: Sequence[str]) -> None:
        env = dict(os.environ)
        env.setdefault("BUF_CACHE_DIR", str(self._cache_dir / "buf"))
        command = [buf_executable(), *args, *self._extra, *_config_args(self.module_root)]
        with self._lock:
            if self._stopped:
                return
            self._process = subprocess.Popen(
                command,
                cwd=self.module_root,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
            self.args = tuple(args)

    def _after_needs(self) -> None:
        try:
            built = all(need.succeeded() for need in self._needs)
            args = self.args if built or self._fallback is None else self._fallback
            self._launch(args)
        except BufError as exc:
            self._error = exc
        except OSError as exc:
            self._error = BufError(f"buf {self.args[0]} could not start: {exc.strerror or exc}")
        finally:
            self._done.set()

    def succeeded(self) -> bool:
        """Wait for the command; whether it ended with exit status 0."""
        try:
            return self.outcome()[0] == BUF_CLEAN
        except BufError:
            return False

    def outcome(self) -> tuple[int, str, str]:
        """The command's exit status, stdout and stderr, once it ended (waits)."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        with self._lock:
            process = self._process
        if process is None:
            raise BufError(f"buf {self.args[0]} was stopped before it started")
        # One reader at a time; `stop` may kill the process meanwhile (never under this lock).
        with self._reading:
            if self._outcome is None:
                stdout, stderr = process.communicate()
                self._outcome = (process.returncode, stdout, stderr)
            return self._outcome

    def cancel(self) -> None:
        """Never start this command if it has not started yet."""
        with self._lock:
            self._stopped = True

    def stop(self) -> None:
        """End the command if it still runs (the check failed meanwhile), and what it waits for."""
        with self._lock:
            self._stopped = True
            process = self._process
        if process is not None and process.poll() is None:
            process.kill()
        for need in self._needs:
            need.stop()
        with contextlib.suppress(BufError):
            self.outcome()  # reaps the process


def start(args: list[str], module_root: Path, cache_dir: Path) -> BufRun:
    """Start buf now (it runs while the caller works); read it later with `collect`."""
    return BufRun(args, module_root, cache_dir)


def collect(run: BufRun) -> list[BufFinding]:
    """Wait for a started buf command and read its findings (exit codes mapped, not guessed)."""
    returncode, stdout, stderr = run.outcome()
    if returncode == BUF_CLEAN:
        return []
    if returncode == BUF_FINDINGS:
        return parse_findings(stdout)
    detail = (stderr.strip() or stdout.strip()).splitlines()
    reason = detail[-1] if detail else f"exit status {returncode}"
    raise BufError(f"buf {run.args[0]} failed in {run.module_root.name}: {reason}")


def stop(run: BufRun) -> None:
    """End a started buf command that was not collected (the check failed meanwhile)."""
    run.stop()


def start_build(root: Path, out: Path, cache_dir: Path) -> BufRun:
    """`buf build` of the folder `root` into the image `out` (source info kept: lint and
    breaking findings need their lines)."""
    return BufRun(["build", "-o", str(out)], root, cache_dir, extra=())


@dataclass
class BufPlan:
    """buf's commands for one check: `lint` of the current module and one `breaking` per
    baseline, all started at once. Each folder is compiled once (`buf build`) and lint and
    breaking read the images, instead of compiling the current module three times (lint,
    breaking's input, and again per baseline); where an image would not keep buf's view of a
    module (a workspace), that command reads the folders as a user's `buf` would."""

    lint: BufRun
    breaking: tuple[BufRun, ...]
    builds: tuple[BufRun, ...]

    def stop(self) -> None:
        runs = (self.lint, *self.breaking, *self.builds)
        for run in runs:  # first, so no command waiting on a build starts its fallback
            run.cancel()
        for run in runs:
            run.stop()


def start_plan(
    module_root: Path,
    baselines: Sequence[tuple[Path, bool]],
    cache_dir: Path,
    workdir: Path,
) -> BufPlan:
    """Start lint and breaking of `module_root` against each baseline (a folder, or an image
    when its flag is set); images are written under `workdir`."""
    builds: list[BufRun] = []
    current: BufRun | None = None
    if single_module(module_root):
        current = start_build(module_root, workdir / "buf-current.binpb", cache_dir)
        builds.append(current)
    if current is None:
        lint = start(["lint"], module_root, cache_dir)
    else:
        image = str(workdir / "buf-current.binpb")
        lint = BufRun(["lint", image], module_root, cache_dir, needs=[current], fallback=["lint"])
    breaking = []
    for number, (against, is_image) in enumerate(baselines):
        source_form = ["breaking", "--against", str(against.resolve())]
        if current is None:
            breaking.append(start(source_form, module_root, cache_dir))
            continue
        needs = [current]
        target = str(against.resolve())
        if not is_image:
            if not single_module(against):
                breaking.append(start(source_form, module_root, cache_dir))
                continue
            out = workdir / f"buf-baseline-{number}.binpb"
            baseline_build = start_build(against.resolve(), out, cache_dir)
            builds.append(baseline_build)
            needs.append(baseline_build)
            target = str(out)
        image = str(workdir / "buf-current.binpb")
        breaking.append(
            BufRun(
                ["breaking", image, "--against", target],
                module_root,
                cache_dir,
                needs=needs,
                fallback=source_form,
            )
        )
    return BufPlan(lint, tuple(breaking), tuple(builds))


def start_lint(module_root: Path, cache_dir: Path) -> BufRun:
    return start(["lint"], module_root, cache_dir)


def start_breaking(module_root: Path, against: Path, cache_dir: Path) -> BufRun:
    return start(["breaking", "--against", str(against.resolve())], module_root, cache_dir)


def lint(module_root: Path, cache_dir: Path) -> list[BufFinding]:
    return collect(start_lint(module_root, cache_dir))


def breaking(module_root: Path, against: Path, cache_dir: Path) -> list[BufFinding]:
    """Findings of `buf breaking` of the module against a folder or image."""
    return collect(start_breaking(module_root, against, cache_dir))
