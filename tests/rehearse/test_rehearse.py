"""Short rehearsals on real processes: the safe order holds, the hazard shows, a broken
server is caught, a rollback shows its count, and rehearsal.json matches its schema."""

from __future__ import annotations

import sys
from pathlib import Path

import jsonschema
import pytest

from tests.rehearse import broken_server, restart_hook
from toolkit.contract import HAZARD_SERVERS_FIRST
from toolkit.documents.rehearsal import RehearsalDocument, json_schema
from toolkit.errors import EXIT_FAILED, EXIT_OK
from toolkit.rehearse.fleet import free_port
from toolkit.rehearse.runner import RehearsalOptions, run_rehearsal

SHORT = 0.6  # seconds of workload per rehearsal


def rehearse(tmp_path: Path, **options: object) -> RehearsalDocument:
    lines: list[str] = []
    document = run_rehearsal(
        RehearsalOptions(duration_s=SHORT, seed_writes=8, work_dir=tmp_path, **options),  # type: ignore[arg-type]
        announce=lines.append,
    )
    assert lines[0].startswith("rehearsal plan:")  # the plan is printed before the run
    data = document.to_dict()
    jsonschema.validate(data, json_schema())
    assert RehearsalDocument.from_dict(data) == document
    return document


def test_servers_first_with_a_rollback_is_safe_and_counts_what_the_old_server_lost_sight_of(
    tmp_path: Path,
) -> None:
    document = rehearse(tmp_path, servers=1, rollback=True)
    (run,) = document.runs
    assert run.totals.acknowledged > 0
    assert run.totals.misplaced == 0 and run.totals.lost == 0
    assert run.seed_written == 8
    assert run.observed_safe and document.exit_code == EXIT_OK
    assert document.observed_safe_orders == ("servers-first",)
    assert run.rollback is not None and run.rollback.unsafe == run.totals.rollback_unsafe > 0
    assert "copy" in run.rollback.remedy
    assert [s.number for s in run.steps] == list(range(len(run.plan) + 1))
    assert sum(s.writes.acknowledged for s in run.steps) == run.totals.acknowledged
    assert all(server.adopted for server in run.servers)


def test_clients_first_misplaces_new_clients_writes_into_the_default_space(
    tmp_path: Path,
) -> None:
    document = rehearse(tmp_path, servers=1, orders=("clients-first",))
    (run,) = document.runs
    assert run.totals.misplaced > 0 and run.totals.lost == 0
    assert run.hazard == HAZARD_SERVERS_FIRST and not run.observed_safe
    assert document.exit_code == EXIT_OK  # the predicted hazard, observed: not a failure


def test_a_server_that_puts_every_new_client_in_the_default_space_is_caught(
    tmp_path: Path,
) -> None:
    document = rehearse(tmp_path, servers=1, command=broken_server.command)
    (run,) = document.runs
    assert run.totals.misplaced > 0
    assert not run.observed_safe and document.exit_code == EXIT_FAILED


def test_an_external_fleet_is_upgraded_and_rolled_back_by_hooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "hook-state"
    state.mkdir()
    monkeypatch.setenv(restart_hook.STATE_ENV, str(state))
    port = free_port()
    first = restart_hook.start(state, port, "legacy")
    hook = f"{sys.executable} {restart_hook.__file__}"
    try:
        document = rehearse(
            tmp_path,
            external=(("127.0.0.1", port),),
            upgrade_hook=hook,
            rollback_hook=hook,
            rollback=True,
        )
    finally:
        restart_hook.stop(state, port)
        first.wait(10)
    (run,) = document.runs
    assert [s.starts for s in run.servers] == [2]  # one upgrade, one rollback, both by hook
    assert run.totals.misplaced == 0 and run.totals.lost == 0
    assert run.rollback is not None and run.rollback.unsafe > 0
    assert document.exit_code == EXIT_OK
    assert (state / f"{port}.data" / "spaces").is_dir()  # the hook's server adopted the store
