"""The reference server `engram-compat runtime` starts once for a run and its workers share.

Started by the command before pytest, handed to each pytest-xdist worker (workerinput) as an
address and a log file, discarded once the last worker is done; and the order that starts
STREAM_BACKPRESSURE first on a worker of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest

from tests.conftest import run_cli
from toolkit.compat import started as started_module
from toolkit.compat.calls import NewClient
from toolkit.compat.started import (
    StartedServer,
    StartedServerInfo,
    start_servers,
    worker_started_server,
)
from toolkit.compat.suite.conftest import pytest_collection_modifyitems


def _node() -> Any:
    return SimpleNamespace(workerinput={})


def test_every_worker_is_handed_the_one_server(tmp_path: Path) -> None:
    servers = start_servers(tmp_path)
    try:
        nodes = [_node(), _node()]
        for node in nodes:
            servers.pytest_configure_node(node)
        handed = [worker_started_server(node.workerinput) for node in nodes]
        assert handed[0] == handed[1]
        info = handed[0]
        assert info is not None and info.address and info.error is None
        assert info.log.parent == tmp_path
        channel = grpc.insecure_channel(info.address)
        try:
            legacy = NewClient(channel, None, "none")
            assert legacy.call("Introspect", legacy.request("Introspect")).ok
        finally:
            channel.close()
        # Its log file is what the workers read: the deprecated call above is in it.
        records = [json.loads(line) for line in info.log.read_text().splitlines()]
        assert any(r.get("level") == "WARNING" and r.get("rpc") == "Introspect" for r in records)
        assert servers.current.running
    finally:
        servers.stop()
    assert not servers.current.running


def test_a_server_that_does_not_start_is_reported_with_its_own_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = [sys.executable, "-c", "import sys; sys.stderr.write('port in use\\n'); sys.exit(1)"]
    monkeypatch.setattr(started_module, "serve_command", lambda schema, data_dir: failing)
    server = StartedServer("current", tmp_path)
    try:
        info = server.info()
    finally:
        server.stop()
    assert info.address is None
    assert info.error == "the reference server did not start: port in use"
    assert StartedServerInfo.from_json(info.to_json()) == info


@pytest.mark.skipif(sys.platform != "linux", reason="prctl(PR_SET_PDEATHSIG) is Linux's")
def test_the_server_ends_with_the_command_even_when_that_is_killed(tmp_path: Path) -> None:
    code = (
        "import os, sys; from pathlib import Path; "
        "from toolkit.compat.started import StartedServer; "
        f"server = StartedServer('current', Path({str(tmp_path)!r})); "
        "assert server.info().address; print(server.pid, flush=True); os._exit(9)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    pid = int(result.stdout.strip())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = (
        Path(f"/proc/{pid}/status").exists()
        and "zombie" not in Path(f"/proc/{pid}/status").read_text()
    )
    assert not alive, f"the server {pid} outlived the command that started it"


def test_no_workerinput_means_no_started_server() -> None:
    assert worker_started_server(None) is None
    assert worker_started_server({"workerid": "gw0"}) is None


def _item(check_id: str, name: str) -> Any:
    marker = SimpleNamespace(args=(check_id,))
    return SimpleNamespace(name=name, get_closest_marker=lambda _name: marker)


def test_backpressure_starts_first_alone_and_isolation_first_on_another_worker() -> None:
    items = [
        _item("DEPRECATION_WARNING", "d1"),
        _item("DEPRECATION_WARNING", "d2"),
        _item("STREAM_ISOLATION", "iso"),
        _item("ERR_MALFORMED_SPACE", "m1"),
        _item("ROUTE_HEADER", "r1"),
        _item("STREAM_BACKPRESSURE", "bp"),
    ]
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    # pytest-xdist hands each worker two tests at the start: [bp, m1] and [iso, d1].
    assert [item.name for item in items] == ["bp", "m1", "iso", "d1", "d2", "r1"]


def test_without_a_quick_check_the_next_test_goes_behind_backpressure() -> None:
    items = [_item("ROUTE_HEADER", "r1"), _item("STREAM_BACKPRESSURE", "bp")]
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [item.name for item in items] == ["bp", "r1"]


def test_order_without_the_slow_checks_is_unchanged() -> None:
    items = [_item("ROUTE_HEADER", "r1"), _item("ERR_CONFLICT", "e1")]
    pytest_collection_modifyitems(items)  # type: ignore[arg-type]
    assert [item.name for item in items] == ["r1", "e1"]


@pytest.mark.slow
def test_runtime_with_two_workers_shares_its_server_and_keeps_every_result(
    tmp_path: Path,
) -> None:
    checks = "DEPRECATION_WARNING,ROUTE_DEFAULT_LEGACY,MATRIX,SPACE_LIFECYCLE"
    reports = tmp_path / "r"
    result = run_cli(
        ["runtime", "--reports", str(reports), "--scale", "0.2", "-n", "2", "--checks", checks]
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    document = json.loads((reports / "compat.json").read_text())
    assert document["verdict"] == "passed"
    assert document["started_server"] is True and document["target"] is None
    assert document["cleanup"] is None  # a started server is discarded with its data
    assert {check["id"] for check in document["checks"]} == set(checks.split(","))
    # The workers read the shared server's log file: the legacy calls' WARNING records.
    deprecation = next(c for c in document["checks"] if c["id"] == "DEPRECATION_WARNING")
    legacy = [case for case in deprecation["cases"] if "legacy_call" in case["name"]]
    assert legacy and all(case["evidence"]["log_record"] for case in legacy)
