"""Every odd input of `check` is one line and exit 2, never a traceback or a hang (issue 13
item 8, the schema side): a dangling `.proto` link, a folder named `x.proto`, a `.proto` whose
read fails, `--cache-dir` naming a file, `--json` naming a folder, a path under a file or an
unwritable place; a FIFO named `x.proto` is skipped with a message, never waited on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.schema.conftest import CASES_ROOT, PROJECT_ROOT, cli_env

CASE = CASES_ROOT / "field_type_int32_to_uint32"
ONE_LINE = "engram-compat check: error: "


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """A baseline and a current folder of one .proto file each."""
    base, cur = tmp_path / "base", tmp_path / "cur"
    for side, folder in (("baseline", base), ("current", cur)):
        folder.mkdir()
        shutil.copy(CASE / side / "cases" / "v1" / "cases.proto", folder / "cases.proto")
    return base, cur


def check(
    tmp_path: Path, base: Path, cur: Path, *extra: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    args = ["check", "--baseline", str(base), "--current", str(cur), "--current-version", "2.0.0"]
    if "--json" not in extra:
        args += ["--json", str(tmp_path / "schema.json")]
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args, *extra],
        cwd=PROJECT_ROOT,
        env=cli_env(tmp_path / "cache"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(ONE_LINE), lines[0]
    assert "internal error" not in lines[0], lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_the_pair_itself_is_judged(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    """The control: the same pair without the odd input is judged (exit 0 or 1)."""
    proc = check(tmp_path, *pair)
    assert proc.returncode in (0, 1), proc.stderr
    assert (tmp_path / "schema.json").is_file()


def test_a_dangling_proto_link_is_one_line(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    (pair[1] / "gone.proto").symlink_to(tmp_path / "nowhere.proto")
    assert_one_line(check(tmp_path, *pair), "gone.proto", "symbolic link to nothing")


def test_a_folder_named_proto_is_one_line(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    (pair[1] / "x.proto").mkdir()
    assert_one_line(check(tmp_path, *pair), "x.proto", "a folder")


def _unreadable(path: Path) -> Callable[[], None] | None:
    """Make `path` a .proto whose read fails; None when this machine cannot."""
    if os.geteuid() != 0:
        path.write_text('syntax = "proto3";\n')
        path.chmod(0)
        return lambda: path.chmod(0o600)
    # As root permissions do not stop a read: /proc/self/mem fails at offset 0 (EIO).
    mem = Path("/proc/self/mem")
    if not mem.exists():
        return None
    path.symlink_to(mem)
    return lambda: None


def test_an_unreadable_proto_is_one_line(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    restore = _unreadable(pair[1] / "locked.proto")
    if restore is None:
        pytest.skip("running as root without /proc/self/mem: no file whose read fails")
    try:
        assert_one_line(check(tmp_path, *pair), "locked.proto", "cannot read it")
    finally:
        restore()


def test_a_fifo_named_proto_is_skipped_not_waited_on(
    tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    fifo = pair[1] / "x.proto"
    os.mkfifo(fifo)
    proc = check(tmp_path, *pair, timeout=120)  # a read of the FIFO would block forever
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    skipped = [line for line in proc.stderr.splitlines() if "x.proto" in line]
    assert len(skipped) == 1 and "skipped" in skipped[0], proc.stderr


def test_cache_dir_naming_a_file_is_one_line(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    afile = tmp_path / "cachefile"
    afile.write_text("")
    proc = check(tmp_path, *pair, "--cache-dir", str(afile))
    assert_one_line(proc, "cachefile", "a file, not a folder")


@pytest.mark.parametrize("where", ["folder", "under_a_file", "unwritable"])
def test_json_that_cannot_be_written_is_one_line_before_the_work(
    tmp_path: Path, pair: tuple[Path, Path], where: str
) -> None:
    if where == "folder":
        target = tmp_path / "out"
        target.mkdir()
        needle = "it is a folder"
    elif where == "under_a_file":
        (tmp_path / "afile").write_text("")
        target = tmp_path / "afile" / "schema.json"
        needle = "is a file, not a folder"
    else:
        # Unwritable for anyone, root included: /proc refuses new files.
        target = Path("/proc/engram-compat-test/schema.json")
        if not Path("/proc").is_dir():
            pytest.skip("no /proc on this machine")
        needle = "schema.json"
    proc = check(tmp_path, *pair, "--json", str(target))
    assert_one_line(proc, "--json", needle)
    assert not (tmp_path / "cache" / "descriptors").exists()  # refused before compiling
