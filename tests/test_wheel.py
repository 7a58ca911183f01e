"""The toolkit as a user installs it: the wheel in a fresh venv outside the repository, run
from another folder without activating the venv (so nothing comes from PATH or the checkout)."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

SHOP_V1 = """syntax = "proto3";
package acme.shop.v1;

message Order {
  string id = 1;
  int32 quantity = 2;
}
"""
SHOP_V2 = SHOP_V1.replace("int32 quantity = 2;", "int32 quantity = 2;\n  string note = 3;")
SHOP_BROKEN = SHOP_V1.replace("int32 quantity = 2;", "string quantity = 2;")


def _uv() -> list[str] | None:
    found = shutil.which("uv")
    if found:
        return [found]
    probe = subprocess.run(
        [sys.executable, "-m", "uv", "--version"], capture_output=True, check=False
    )
    return [sys.executable, "-m", "uv"] if probe.returncode == 0 else None


@dataclass(frozen=True)
class Installed:
    bin: Path
    env: dict[str, str]
    workdir: Path

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "engram-compat"), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (it comes with `pip install 'nox[uv]'`)")
    root = tmp_path_factory.mktemp("wheel")
    env = {
        "PATH": "/usr/bin:/bin",  # no venv, no checkout tools: buf must come from the venv
        "HOME": str(root / "home"),
        "UV_CACHE_DIR": str(root / "uv-cache"),
        # The registry may sit behind a proxy whose CA only the system's store knows.
        "UV_NATIVE_TLS": "1",
        "UV_SYSTEM_CERTS": "1",
        "BUF_CACHE_DIR": str(root / "buf-cache"),
        "ENGRAM_COMPAT_CACHE_DIR": str(root / "compat-cache"),
        "LANG": "C.UTF-8",
    }
    built = subprocess.run(
        [*uv, "build", "--wheel", "-o", str(root / "dist"), str(PROJECT_ROOT)],
        capture_output=True,
        text=True,
        env={**env, "PATH": os.environ.get("PATH", "")},
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("engram_compat-*.whl")
    venv = root / "venv"
    for command in (
        [*uv, "venv", "-q", "-p", sys.executable, str(venv)],
        [*uv, "pip", "install", "-q", "-p", str(venv / "bin" / "python"), str(wheel)],
    ):
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env={**env, "PATH": os.environ.get("PATH", "")},
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    workdir = root / "elsewhere"
    workdir.mkdir()
    yield Installed(venv / "bin", env, workdir)


def _module(folder: Path, text: str) -> Path:
    (folder / "acme" / "shop" / "v1").mkdir(parents=True)
    (folder / "acme" / "shop" / "v1" / "shop.proto").write_text(text)
    return folder


def test_check_judges_two_folders_of_a_foreign_schema(installed: Installed) -> None:
    base = _module(installed.workdir / "v1", SHOP_V1)
    good = _module(installed.workdir / "v2", SHOP_V2)
    bad = _module(installed.workdir / "broken", SHOP_BROKEN)
    ok = installed.run("check", "--baseline", str(base), "--current", str(good), "--json", "-")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["verdict"] == "compatible"
    broken = installed.run("check", "--baseline", str(base), "--current", str(bad))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Traceback" not in broken.stderr


def test_the_runtime_suite_runs_against_a_served_reference_server(installed: Installed) -> None:
    log = installed.workdir / "server.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [str(installed.bin / "engram-compat"), "serve", "--port", "0", "--data-dir", "data"],
            cwd=installed.workdir,
            env=installed.env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 60)
        line = server.stdout.readline() if ready else ""
        assert line.startswith("listening on "), log.read_text()
        address = line.removeprefix("listening on ").strip()
        reports = installed.workdir / "reports"
        suite = installed.run(
            "runtime",
            "--target",
            address,
            "--server-log",
            str(log),
            "--reports",
            str(reports),
            "-n",
            "0",
            "--scale",
            "0.2",
            timeout=600,
        )
        assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-4000:]
        document = json.loads((reports / "compat.json").read_text())
        assert document["verdict"] == "passed"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
