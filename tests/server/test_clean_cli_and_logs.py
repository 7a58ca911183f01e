"""Issue 13 item 8 (the server's part): CLI inputs exit 2 with one line; client-caused
problems leave no traceback in the log of a real `serve` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, run_cli
from tests.server import raw_h2
from tests.server.serving import serving
from toolkit.contract import ENGRAM_SERVICE, SPACE_ENV, SPACE_HEADER
from toolkit.server.logs import ClientCausedNoise


@pytest.mark.parametrize(
    "arguments",
    [
        ["--subscriber-buffer", "0"],
        ["--subscriber-buffer", "-1"],
        ["--port", "70000"],
        ["--port", "-1"],
        ["--max-spaces", "0"],
        ["--max-open-spaces", "0"],
    ],
)
def test_out_of_range_serve_options_exit_2_with_one_line(
    tmp_path: Path, arguments: list[str]
) -> None:
    result = run_cli(["serve", "--data-dir", str(tmp_path / "data"), *arguments])
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert arguments[0] in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_space_delete_of_an_empty_id_refuses_even_with_the_env_var_set(tmp_path: Path) -> None:
    with serving(tmp_path / "data", tmp_path / "log") as (served, client):
        client.create_space("team-a")
        env = {**os.environ, SPACE_ENV: "team-a"}
        result = run_cli(["space", "delete", "", "--yes", "--target", served.address], env=env)
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1
        assert "non-empty space id" in result.stderr
        assert client.call(
            "GetSpace", client.msg("GetSpaceRequest", memory_space_id="team-a")
        ).space.id == ("team-a")


def test_space_delete_asks_for_yes_when_not_interactive(tmp_path: Path) -> None:
    with serving(tmp_path / "data", tmp_path / "log") as (served, client):
        client.create_space("team-a")
        command = [sys.executable, "-m", "toolkit", "space", "delete", "team-a"]
        result = subprocess.run(
            [*command, "--target", served.address],
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1
        assert "--yes" in result.stderr
        listed = client.call("ListSpaces", client.msg("ListSpacesRequest"))
        assert "team-a" in [s.id for s in listed.spaces]


def test_client_caused_problems_leave_no_traceback(tmp_path: Path) -> None:
    path = f"/{ENGRAM_SERVICE}/Introspect"
    with serving(tmp_path / "data", tmp_path / "log") as (served, client):
        not_utf8 = [(SPACE_HEADER.encode(), b"\xff\xfe"), (b"x-other", b"\xc3\x28")]
        assert raw_h2.call(served.address, path, not_utf8)  # answered, not dropped
        for rpc in ("Introspect", "StreamingRemember", "MemoryFlow", "Stream"):
            raw_h2.call(served.address, f"/{ENGRAM_SERVICE}/{rpc}", [], cut=True)
        stream = client.subscribe("default")
        stream.cancel()
        time.sleep(0.5)
        assert client.call("Introspect", client.msg("IntrospectRequest")).server_version
    text = served.log_text()
    assert "Traceback" not in text
    assert '"level": "ERROR"' not in text
    assert "client_invalid_metadata" in text  # the one line that is left


def test_the_log_check_can_fail_without_the_filter(tmp_path: Path) -> None:
    """Deliberately broken: the same call logged without `ClientCausedNoise` has a traceback."""
    import logging

    record = logging.LogRecord("grpc._cython.cygrpc", logging.ERROR, "", 0, "bad", None, None)
    try:
        b"\xff".decode()
    except UnicodeDecodeError:
        record.exc_info = sys.exc_info()
    formatted = logging.Formatter().format(record)
    assert "Traceback" in formatted
    ClientCausedNoise().filter(record)
    assert "Traceback" not in logging.Formatter().format(record)
    assert record.levelname == "WARNING"
