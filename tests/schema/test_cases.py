"""The check judges every schema-change case in fixtures/schema_cases/ as its expected.toml says."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.schema.conftest import CASE_NAMES, CASES_ROOT, expected, run_case, run_check
from toolkit.schema.buf import buf_executable, parse_findings

REQUIRED_KINDS = {
    "field_added_next_number",
    "fields_renumbered_for_new_field_1",
    "string_number_taken_over",
    "int32_to_string",
    "field_removed_unreserved",
    "field_removed_reserved",
    "field_renamed",
    "field_moved_into_oneof",
    "enum_value_removed",
    "rpc_removed",
    "rpc_streaming_changed",
    "package_renamed",
    "message_added",
    "comments_only",
}


def test_the_cases_cover_every_required_kind_of_change() -> None:
    assert set(CASE_NAMES) >= REQUIRED_KINDS
    verdicts = {expected(case)["verdict"] for case in CASE_NAMES}
    assert verdicts == {"compatible", "incompatible"}


@pytest.mark.parametrize("case", CASE_NAMES)
def test_case_is_judged_as_expected(case: str, cache_dir: Path) -> None:
    want = expected(case)
    report = run_case(cache_dir, case)

    assert report.verdict == want["verdict"]
    (policy,) = report.version_policy
    assert policy.required_bump == want["required_bump"]
    assert sorted(c.id for c in report.changes) == want["changes"]
    if "breaking" in want:
        assert sorted(c.id for c in report.changes if c.breaking) == want["breaking"]
    if "buf_rules" in want:
        assert sorted({r for c in report.changes for r in c.buf_rules}) == want["buf_rules"]
    if "replay" in want:  # the replay helper's outcomes; the rule-table cases leave it out
        for direction in ("old_to_new", "new_to_old"):
            outcomes = {r.message: r.outcome for r in report.replay if r.direction == direction}
            assert outcomes, direction
            not_identical = {m: o for m, o in outcomes.items() if o != "IDENTICAL"}
            assert not_identical == want["replay"][direction], direction
    if "compat" in want:
        (result,) = report.compatibility
        compat = want["compat"]
        for direction in ("backward", "forward"):
            got = getattr(result.compatibility, direction)
            assert {"wire": got.wire, "json": got.json} == compat[direction], direction
        assert list(result.safe_rollouts) == compat["safe_rollouts"]
        if "kinds" in compat:
            assert sorted(c.kind for c in report.changes) == compat["kinds"]


@pytest.mark.parametrize("case", CASE_NAMES)
def test_buf_findings_are_explained_by_the_diff(case: str, cache_dir: Path) -> None:
    """Every rule buf fires lands on a change of the toolkit's own (the toolkit caught it too);
    buf's findings never rate a change: the ratings come from the rule table."""
    report = run_case(cache_dir, case)
    for change in report.changes:
        if change.buf_rules:
            assert change.kind != "buf_finding", f"buf finding not explained by the diff: {change}"


# One case per shape of result: both directions hold on the wire only; backward only; forward only.
MODE_CASES = [
    "field_json_name_changed",
    "field_type_int32_to_int64",
    "field_required_added",
]


@pytest.mark.parametrize("case", MODE_CASES)
def test_every_mode_follows_the_per_direction_results(case: str, cache_dir: Path) -> None:
    """`--compat` and `--wire-only` decide from the same per-direction results."""
    want = expected(case)
    compat = want["compat"]
    (policy,) = run_case(cache_dir, case).version_policy
    for mode, wire_only in [(m, w) for m in ("rpc", "backward", "forward", "full") for w in (0, 1)]:
        report = run_case(cache_dir, case, mode=mode, wire_only=bool(wire_only))  # type: ignore[arg-type]
        back = compat["backward"]["wire"] and (wire_only or compat["backward"]["json"])
        fwd = compat["forward"]["wire"] and (wire_only or compat["forward"]["json"])
        holds = {
            "rpc": bool(report.compatibility[0].safe_rollouts),
            "backward": back,
            "forward": fwd,
            "full": back and fwd,
        }[mode]
        assert report.verdict == ("compatible" if holds and policy.satisfied else "incompatible")


def test_string_takeover_is_missed_by_buf_wire_but_caught_by_the_replay(
    cache_dir: Path, tool_env: dict[str, str]
) -> None:
    case = CASES_ROOT / "string_number_taken_over"
    wire_only = subprocess.run(
        [
            buf_executable(),
            "breaking",
            "--against",
            str(case / "baseline"),
            "--error-format=json",
            "--config",
            json.dumps({"version": "v2", "breaking": {"use": ["WIRE"]}}),
        ],
        cwd=case / "current",
        env=tool_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert wire_only.returncode == 0, wire_only.stdout + wire_only.stderr
    assert parse_findings(wire_only.stdout) == []

    report = run_case(cache_dir, "string_number_taken_over")
    (forget,) = [
        r
        for r in report.replay
        if r.message == "engram.v1.ForgetRequest" and r.direction == "old_to_new"
    ]
    fields = {f.field: f for f in forget.fields}
    assert fields["memory_id"].outcome == "MISROUTED"
    assert "memory_space_id" in fields["memory_id"].detail
    assert fields["memory_space_id"].outcome == "MISROUTED"


def test_renumbering_routes_old_memory_bytes_to_a_space(cache_dir: Path) -> None:
    report = run_case(cache_dir, "fields_renumbered_for_new_field_1")
    old_to_new = {r.message: r for r in report.replay if r.direction == "old_to_new"}
    fields = {f.field: f.outcome for f in old_to_new["engram.v1.RememberRequest"].fields}
    assert fields["memory_space_id"] == "MISROUTED"
    # The bool moved to number 3 is read where a Memory message is expected: dropped.
    assert fields["auto_link"] == "LOST"
    new_to_old = {r.message: r for r in report.replay if r.direction == "new_to_old"}
    parse = [
        f for f in new_to_old["engram.v1.RememberRequest"].fields if f.outcome == "PARSE_ERROR"
    ]
    assert parse and all("parsing" in f.detail for f in parse)


def test_buf_rules_are_folded_into_one_change_per_element(cache_dir: Path) -> None:
    report = run_case(cache_dir, "field_removed_unreserved")
    (removed,) = report.changes
    assert removed.element == "engram.v1.RememberRequest.auto_link"
    assert set(removed.buf_rules) == {
        "FIELD_NO_DELETE_UNLESS_NAME_RESERVED",
        "FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED",
    }
    assert len(removed.buf_messages) == 2
    assert (removed.file, removed.line) == ("engram/v1/engram.proto", 28)


def test_change_locations_point_at_the_current_schema(cache_dir: Path) -> None:
    report = run_case(cache_dir, "int32_to_string")
    (change,) = report.changes
    lines = (CASES_ROOT / "int32_to_string/current" / str(change.file)).read_text().splitlines()
    assert change.line is not None
    assert "string memories_affected = 1;" in lines[change.line - 1]
    assert (change.before, change.after) == ("int32", "string")


# --- change kinds written inline (issue 11 item 4): closed enums, maps as repeated entries ---
# Each: (case, proto syntax header, baseline body, current body, expected per direction and
# encoding, safe rollout orders). `Call(CallRequest) returns (CallResponse)` decides the roles.

PROTO2 = 'syntax = "proto2";'
PROTO3 = 'syntax = "proto3";'
EDITIONS = 'edition = "2023";'
SERVICE = "service CaseService {\n  rpc Call(CallRequest) returns (CallResponse);\n}\n"
MOOD = "enum Mood {\n  MOOD_UNSPECIFIED = 0;\n  MOOD_HAPPY = 1;\n}\n"
CLOSED_MOOD = (
    "enum Mood {\n  option features.enum_type = CLOSED;\n  MOOD_UNSPECIFIED = 0;\n"
    "  MOOD_HAPPY = 1;\n}\n"
)
ENTRY = "  message AttrsEntry {\n    string key = 1;\n    int32 value = 2;\n  }\n"


def _compat(bw: bool, bj: bool, fw: bool, fj: bool) -> dict[str, dict[str, bool]]:
    return {"backward": {"wire": bw, "json": bj}, "forward": {"wire": fw, "json": fj}}


INLINE_CASES: list[tuple[str, str, str, str, dict[str, dict[str, bool]], list[str], str]] = [
    (
        # int32 -> closed enum in a request: a new server's closed enum drops old clients'
        # other numbers (wire and JSON); old servers read the enum's numbers but not its names.
        "int32_to_closed_enum_proto2",
        PROTO2,
        "message CallRequest {\n  optional int32 mood = 1;\n}\n",
        "message CallRequest {\n  optional Mood mood = 1;\n}\n",
        _compat(False, False, True, False),
        [],
        "field_type_int_to_closed_enum",
    ),
    (
        # The same with an editions enum declared CLOSED.
        "int32_to_closed_enum_editions",
        EDITIONS,
        "message CallRequest {\n  int32 mood = 1;\n}\n",
        "message CallRequest {\n  Mood mood = 1;\n}\n",
        _compat(False, False, True, False),
        [],
        "field_type_int_to_closed_enum",
    ),
    (
        # The open-enum counterpart stays wire-safe both ways (the control).
        "int32_to_open_enum_proto3",
        PROTO3,
        "message CallRequest {\n  int32 mood = 1;\n}\n",
        "message CallRequest {\n  Mood mood = 1;\n}\n",
        _compat(True, True, True, False),
        ["servers_first"],
        "field_type_int_to_enum",
    ),
    (
        # closed enum -> int32 in a response: old clients' closed enum drops new servers'
        # other numbers: clients first on the wire, and JSON names break old-to-new.
        "closed_enum_to_int32_proto2",
        PROTO2,
        "message CallResponse {\n  optional Mood mood = 1;\n}\n",
        "message CallResponse {\n  optional int32 mood = 1;\n}\n",
        _compat(True, False, False, False),
        [],
        "field_type_closed_enum_to_int",
    ),
    (
        # map -> repeated entry message in a request: the same bytes both ways (protobuf's
        # map rule); JSON object against array breaks both ways: no order is safe for JSON.
        "map_to_repeated_entry",
        PROTO3,
        "message CallRequest {\n  map<string, int32> attrs = 1;\n}\n",
        f"message CallRequest {{\n{ENTRY}  repeated AttrsEntry attrs = 1;\n}}\n",
        _compat(True, False, True, False),
        [],
        "field_map_to_repeated",
    ),
    (
        # repeated entry message -> map in a response: the same bytes both ways; JSON array
        # against object breaks both ways.
        "repeated_entry_to_map",
        PROTO3,
        f"message CallResponse {{\n{ENTRY}  repeated AttrsEntry attrs = 1;\n}}\n",
        "message CallResponse {\n  map<string, int32> attrs = 1;\n}\n",
        _compat(True, False, True, False),
        [],
        "field_repeated_to_map",
    ),
    (
        # A map's value type follows the scalar rules: int32 -> int64 widens (servers first).
        "map_value_widened",
        PROTO3,
        "message CallRequest {\n  map<string, int32> attrs = 1;\n}\n",
        "message CallRequest {\n  map<string, int64> attrs = 1;\n}\n",
        _compat(True, True, False, False),
        ["servers_first"],
        "field_type_widened",
    ),
    (
        # A map's value string -> bytes (proto3): bytes values need not be UTF-8.
        "map_value_string_to_bytes",
        PROTO3,
        "message CallResponse {\n  map<string, string> attrs = 1;\n}\n",
        "message CallResponse {\n  map<string, bytes> attrs = 1;\n}\n",
        _compat(True, False, False, False),
        [],
        "field_type_string_to_bytes",
    ),
    (
        # int32 -> sint32: the bytes are misread, JSON carries the same numbers.
        "int32_to_sint32",
        PROTO3,
        "message CallRequest {\n  int32 count = 1;\n}\n",
        "message CallRequest {\n  sint32 count = 1;\n}\n",
        _compat(False, True, False, True),
        [],
        "field_type_changed_json_safe",
    ),
    (
        # A message field retyped to another message of the same structure: the same bytes;
        # JSON readers do not know the other field names.
        "message_retyped_same_structure",
        PROTO3,
        "message A {\n  string s = 1;\n}\nmessage B {\n  string t = 1;\n}\n"
        "message CallRequest {\n  A inner = 1;\n}\n",
        "message A {\n  string s = 1;\n}\nmessage B {\n  string t = 1;\n}\n"
        "message CallRequest {\n  B inner = 1;\n}\n",
        _compat(True, False, True, False),
        [],
        "field_type_message_same_wire",
    ),
    (
        # A JSON name set where the default was the proto name (a request): parsers accept the
        # proto name too, so new servers read old clients' JSON; old servers do not read
        # "max" from new clients: servers first.
        "json_name_from_proto_name",
        PROTO3,
        'message CallRequest {\n  int32 limit = 1 [json_name = "limit"];\n}\n',
        'message CallRequest {\n  int32 limit = 1 [json_name = "max"];\n}\n',
        _compat(True, True, True, False),
        ["servers_first"],
        "field_json_name_changed_old_accepted",
    ),
    (
        # The JSON name set back to the proto name (a request): old servers accept the proto
        # name; new servers no longer read old clients' "max": clients first.
        "json_name_to_proto_name",
        PROTO3,
        'message CallRequest {\n  int32 limit = 1 [json_name = "max"];\n}\n',
        'message CallRequest {\n  int32 limit = 1 [json_name = "limit"];\n}\n',
        _compat(True, False, True, True),
        ["clients_first"],
        "field_json_name_changed_new_accepted",
    ),
    (
        # An enum value added, read by an old JSON client (a response): the name is unknown to
        # it, and ignored as a newer field is.
        "enum_value_added_json",
        PROTO3,
        "message CallResponse {\n  Mood mood = 1;\n}\n",
        "message CallResponse {\n  Mood mood = 1;\n}\n",
        _compat(True, True, True, True),
        ["any", "servers_first", "clients_first"],
        "enum_value_added",
    ),
]


def _write_case(root: Path, case: str, header: str, body: str, current: bool) -> None:
    target = root / case / ("current" if current else "baseline") / "cases" / "v1"
    target.mkdir(parents=True)
    messages = body
    for name in ("CallRequest", "CallResponse"):
        if f"message {name} " not in messages:
            messages += f"message {name} {{\n}}\n"
    enum = MOOD
    if header == EDITIONS:
        enum = CLOSED_MOOD
    elif case == "enum_value_added_json" and current:
        enum = MOOD.replace("}", "  MOOD_SAD = 2;\n}")
    text = f"{header}\n\npackage cases.v1;\n\n{messages}\n{enum}\n{SERVICE}"
    (target / "cases.proto").write_text(text)


@pytest.mark.parametrize(
    ("case", "header", "old", "new", "want", "rollouts", "kind"),
    [pytest.param(*c, id=c[0]) for c in INLINE_CASES],
)
def test_inline_case_is_rated_per_direction_and_encoding(
    case: str,
    header: str,
    old: str,
    new: str,
    want: dict[str, dict[str, bool]],
    rollouts: list[str],
    kind: str,
    cache_dir: Path,
    tmp_path: Path,
) -> None:
    _write_case(tmp_path, case, header, old, current=False)
    _write_case(tmp_path, case, header, new, current=True)
    report = run_check(
        cache_dir,
        baselines=[f"{case}/baseline"],
        current=f"{case}/current",
        project_root=tmp_path,
    )
    assert [c.kind for c in report.changes] == [kind]
    (result,) = report.compatibility
    for direction in ("backward", "forward"):
        got = getattr(result.compatibility, direction)
        assert {"wire": got.wire, "json": got.json} == want[direction], direction
    assert list(result.safe_rollouts) == rollouts
    holds = bool(rollouts)
    assert report.verdict == ("compatible" if holds else "incompatible")
