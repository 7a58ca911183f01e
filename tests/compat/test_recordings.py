"""The recorded legacy traffic: complete, baseline-only, and bytes always agree with text."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli
from toolkit.cli import build_parser
from toolkit.compat.recordings import (
    RecordingError,
    load_recordings,
    load_wire,
    recorded_case_ids,
)
from toolkit.contract import SPACE_FIELD
from toolkit.schema.pool import load_schema


@pytest.fixture
def recordings(project_root: Path) -> Path:
    return project_root / "fixtures" / "legacy_requests"


@pytest.fixture
def recordings_copy(recordings: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "legacy_requests"
    shutil.copytree(recordings, copy)
    return copy


def test_every_baseline_rpc_has_two_recorded_cases(recordings: Path) -> None:
    legacy = load_schema("legacy")
    counts: dict[str, int] = {}
    for case in load_recordings(recordings):
        counts[case.rpc] = counts.get(case.rpc, 0) + 1
    expected = {m.name for m in legacy.methods()}
    assert set(counts) == expected
    assert min(counts.values()) >= 2


def test_case_ids_from_the_folders_are_those_loading_gives(recordings: Path) -> None:
    """The suite parametrizes by the folder names; they are the loaded cases' ids, in order."""
    assert recorded_case_ids(recordings) == [c.case_id for c in load_recordings(recordings)]


def test_streaming_cases_are_ordered_sequences(recordings: Path) -> None:
    lengths = {c.case_id: len(c.messages) for c in load_recordings(recordings)}
    assert lengths["StreamingRemember/three_memories"] == 3
    assert lengths["MemoryFlow/two_remembers_recall"] == 3


def test_recorded_bytes_parse_cleanly_with_the_baseline_only(recordings: Path) -> None:
    legacy = load_schema("legacy")
    methods = {m.name: m for m in legacy.methods()}
    for case_id, requests in load_wire(recordings).items():
        for wire in requests:
            message = methods[case_id.split("/")[0]].request.FromString(wire)
            assert message.SerializeToString(deterministic=True) == wire
            assert SPACE_FIELD not in message.DESCRIPTOR.fields_by_name


def test_committed_bytes_agree_with_text(recordings: Path) -> None:
    result = run_cli(["record", "--check", "--recordings", str(recordings)])
    assert result.returncode == 0, result.stderr
    assert "16 recorded cases" in result.stdout


def test_check_fails_when_bytes_and_text_disagree(recordings_copy: Path) -> None:
    wire = recordings_copy / "Remember" / "memory" / "01.binpb"
    wire.write_bytes(wire.read_bytes() + b"\x18\x00")
    text = recordings_copy / "Recall" / "by_id" / "01.txtpb"
    text.write_text(text.read_text().replace("max_results: 10", "max_results: 11"))

    result = run_cli(["record", "--check", "--recordings", str(recordings_copy)])
    assert result.returncode == 1
    assert f"differs: {wire}" in result.stderr
    assert f"differs: {text.with_suffix('.binpb')}" in result.stderr
    with pytest.raises(RecordingError, match="wire bytes differs"):
        load_wire(recordings_copy)

    fixed = run_cli(["record", "--recordings", str(recordings_copy)])
    assert fixed.returncode == 0
    assert run_cli(["record", "--check", "--recordings", str(recordings_copy)]).returncode == 0


def test_missing_bytes_are_reported(recordings_copy: Path) -> None:
    (recordings_copy / "Stream" / "all_events" / "01.binpb").unlink()
    result = run_cli(["record", "--check", "--recordings", str(recordings_copy)])
    assert result.returncode == 1
    assert "missing:" in result.stderr


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        ("Remember/memory/01.txtpb", 'memory { memory_space_id: "x" }\n', "has no field"),
        ("Recall/by_id/01.txtpb", "# proto-message: engram.v1.ForgetRequest\n", "declares"),
        ("Nonsense/case/01.txtpb", "", "the baseline has no RPC 'Nonsense'"),
        ("Introspect/plain/02.txtpb", "", "takes one request"),
    ],
)
def test_bad_recordings_give_one_line_and_exit_2(
    recordings_copy: Path, path: str, text: str, message: str
) -> None:
    target = recordings_copy / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    result = run_cli(["record", "--recordings", str(recordings_copy)])
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_runtime_without_recordings_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run_cli(["runtime", "--recordings", str(missing), "--reports", str(tmp_path)])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"engram-compat runtime: error: no legacy recordings at {missing}: run from the project "
        "root or pass --recordings DIR"
    ]


def test_replay_is_a_deprecated_alias_of_runtime(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = run_cli(["replay", "--recordings", str(missing), "--reports", str(tmp_path)])
    assert result.returncode == 2
    note, error = result.stderr.strip().splitlines()
    assert note.startswith("engram-compat replay: deprecated, use `engram-compat runtime`")
    assert error.startswith("engram-compat replay: error: no legacy recordings at")
    helps = {a.dest: a.help for a in _subcommands(build_parser())}
    assert "runtime compatibility suite" in str(helps["runtime"])
    assert str(helps["replay"]).startswith("deprecated: the old name of `runtime`")


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return list(action._choices_actions)


def test_runtime_finds_the_recordings_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from toolkit.compat.settings import default_recordings_dir

    monkeypatch.chdir(tmp_path)
    assert (default_recordings_dir() / "Remember").is_dir()
