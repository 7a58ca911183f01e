"""The rule table, the type-change rules, reserved ranges and the rollout orders, unit by unit."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pb2 import FieldDescriptorProto as FDP

from tests.conftest import run_cli
from tests.schema.conftest import CASES_ROOT, cli_env, run_case, run_check
from toolkit.contract import HAZARD_SERVERS_FIRST
from toolkit.documents.schema import Change, Encodings
from toolkit.schema import diff as diff_module
from toolkit.schema.diff import (
    Names,
    diff_schemas,
    in_ranges,
    merge_ranges,
    render_ranges,
    subtract_ranges,
    type_change_kind,
)
from toolkit.schema.elements import build_index
from toolkit.schema.kinds import KINDS, change_of_kind
from toolkit.schema.rollout import (
    baseline_compatibility,
    breaks_mode,
    change_subject,
    mode_holds,
    rollout_hazards,
)

C, B = "compatible", "breaking"


def field(type_: int, type_name: str = "") -> FDP:
    return FDP(name="f", number=1, type=type_, type_name=type_name)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        (FDP.TYPE_INT32, FDP.TYPE_INT64, "field_type_widened"),
        (FDP.TYPE_UINT32, FDP.TYPE_UINT64, "field_type_widened"),
        (FDP.TYPE_UINT32, FDP.TYPE_INT64, "field_type_widened"),
        (FDP.TYPE_INT64, FDP.TYPE_INT32, "field_type_narrowed"),
        (FDP.TYPE_INT32, FDP.TYPE_UINT32, "field_type_sign_changed"),
        (FDP.TYPE_INT64, FDP.TYPE_UINT64, "field_type_sign_changed"),
        (FDP.TYPE_SINT32, FDP.TYPE_SINT64, "field_type_widened"),
        (FDP.TYPE_SINT64, FDP.TYPE_SINT32, "field_type_narrowed"),
        (FDP.TYPE_FIXED32, FDP.TYPE_SFIXED32, "field_type_sign_changed"),
        (FDP.TYPE_FIXED64, FDP.TYPE_SFIXED64, "field_type_sign_changed"),
        (FDP.TYPE_INT32, FDP.TYPE_UINT64, "field_type_widened_sign_changed"),
        (FDP.TYPE_UINT64, FDP.TYPE_INT32, "field_type_narrowed_sign_changed"),
        (FDP.TYPE_INT64, FDP.TYPE_UINT32, "field_type_narrowed"),
        (FDP.TYPE_SFIXED32, FDP.TYPE_FIXED32, "field_type_sign_changed"),
        (FDP.TYPE_BOOL, FDP.TYPE_INT32, "field_type_bool_widened"),
        (FDP.TYPE_INT64, FDP.TYPE_BOOL, "field_type_bool_narrowed"),
        (FDP.TYPE_STRING, FDP.TYPE_BYTES, "field_type_string_to_bytes"),
        (FDP.TYPE_BYTES, FDP.TYPE_STRING, "field_type_bytes_to_string"),
        # across wire types
        (FDP.TYPE_INT32, FDP.TYPE_STRING, "field_type_changed"),
        # Across wire encodings: the bytes are misread; JSON carries the number (its range).
        (FDP.TYPE_INT32, FDP.TYPE_SINT32, "field_type_changed_json_safe"),
        (FDP.TYPE_FIXED32, FDP.TYPE_FIXED64, "field_type_changed_json_widened"),
        (FDP.TYPE_SINT64, FDP.TYPE_INT32, "field_type_changed_json_narrowed"),
        (FDP.TYPE_INT32, FDP.TYPE_DOUBLE, "field_type_changed_json_widened"),
        (FDP.TYPE_INT64, FDP.TYPE_DOUBLE, "field_type_changed"),
        (FDP.TYPE_FLOAT, FDP.TYPE_DOUBLE, "field_type_changed"),
        (FDP.TYPE_INT32, FDP.TYPE_FIXED32, "field_type_changed"),
        (FDP.TYPE_INT32, FDP.TYPE_INT32, None),
    ],
)
def test_scalar_type_changes_follow_protobufs_rules(old: int, new: int, kind: str | None) -> None:
    assert type_change_kind(field(old), field(new), True) == kind


def test_enum_and_message_type_changes() -> None:
    enum, msg = field(FDP.TYPE_ENUM, ".p.E"), field(FDP.TYPE_MESSAGE, ".p.M")
    assert type_change_kind(field(FDP.TYPE_INT32), enum, False) == "field_type_int_to_enum"
    assert type_change_kind(enum, field(FDP.TYPE_INT32), False) == "field_type_enum_to_int"
    uint32, int64, uint64 = field(FDP.TYPE_UINT32), field(FDP.TYPE_INT64), field(FDP.TYPE_UINT64)
    assert type_change_kind(uint32, enum, False) == "field_type_enum_sign_changed"
    assert type_change_kind(enum, uint32, False) == "field_type_enum_sign_changed"
    assert type_change_kind(int64, enum, False) == "field_type_wide_int_to_enum"
    assert type_change_kind(enum, uint64, False) == "field_type_enum_to_wide_int"
    assert type_change_kind(enum, field(FDP.TYPE_ENUM, ".p.F"), False) == "field_type_enum_changed"
    assert type_change_kind(enum, enum, True) is None
    assert type_change_kind(msg, field(FDP.TYPE_MESSAGE, ".p.N"), False) == "field_type_changed"
    assert type_change_kind(msg, field(FDP.TYPE_BYTES), False) == "field_type_message_to_bytes"
    assert type_change_kind(field(FDP.TYPE_BYTES), msg, False) == "field_type_bytes_to_message"
    assert type_change_kind(msg, field(FDP.TYPE_GROUP, ".p.M"), True) == "field_encoding_changed"
    assert type_change_kind(msg, field(FDP.TYPE_STRING), False) == "field_type_changed"


def test_the_rule_table_rates_widening_by_direction() -> None:
    widened, narrowed = KINDS["field_type_widened"], KINDS["field_type_narrowed"]
    assert widened.backward == Encodings(C, C) and widened.forward == Encodings(B, B)
    assert narrowed.backward == Encodings(B, B) and narrowed.forward == Encodings(C, C)
    assert KINDS["field_type_int_to_enum"].backward == Encodings(C, C)
    assert KINDS["field_type_int_to_enum"].forward == Encodings(C, B)
    assert KINDS["field_made_repeated"].backward.wire == C
    # A change of sign or to/from bool is wire-safe both ways; JSON carries the value.
    for sign in ("field_type_sign_changed", "field_type_bool_widened",
                 "field_type_bool_narrowed", "field_type_enum_sign_changed"):  # fmt: skip
        assert KINDS[sign].backward == Encodings(C, B), sign
        assert KINDS[sign].forward == Encodings(C, B), sign
    # The only wire break among integers: a 64-bit writer read by a 32-bit reader.
    assert KINDS["field_type_widened_sign_changed"].backward == Encodings(C, B)
    assert KINDS["field_type_widened_sign_changed"].forward == Encodings(B, B)
    assert KINDS["field_type_narrowed_sign_changed"].backward == Encodings(B, B)
    assert KINDS["field_type_wide_int_to_enum"].backward.wire == B
    assert KINDS["field_type_enum_to_wide_int"].forward.wire == B
    assert KINDS["field_made_repeated"].forward.wire == B
    for safe in ("field_moved_into_new_oneof", "oneof_renamed", "message_renamed",
                 "enum_renamed", "service_removed_empty"):  # fmt: skip
        assert not KINDS[safe].breaking, safe
    assert KINDS["enum_value_renamed"].backward == Encodings(C, B)


def test_every_kind_is_complete_and_its_remedy_names_the_element() -> None:
    for kind in KINDS.values():
        assert kind.purpose and kind.remedy and kind.category and kind.aspect, kind.id
    change = change_of_kind(
        "field_number_changed",
        change_id="p.M.count:number",
        baseline="b",
        element="p.M.count",
        message="p.M",
        file=None,
        line=None,
        before="2",
        after="3",
    )
    assert change.remedy.startswith("restore `count = 2`; or reserve")
    assert (change.backward, change.forward) == (Encodings(B, C), Encodings(B, C))
    assert change.category == "number" and change.breaking and change.wire == B


def test_the_diff_records_no_rating_literals() -> None:
    """Ratings come from the kind table only: diff.py never spells a rating itself."""
    source = Path(diff_module.__file__).read_text()
    assert '"breaking"' not in source and '"compatible"' not in source


def test_reserved_ranges_stay_ranges() -> None:
    top = 536_870_911
    whole = merge_ranges([(10, top + 1), (5, 8), (7, 9)])
    assert whole == ((5, 9), (10, top + 1))
    assert in_ranges(whole, top) and not in_ranges(whole, 9)
    assert subtract_ranges(whole, ((6, 7), (100, top + 1))) == ((5, 6), (7, 9), (10, 100))
    assert render_ranges(((10, top + 1),), top) == "10 to max"
    assert render_ranges(((3, 4), (5, 8)), top) == "3,5 to 7"


def _message_set(reserved: list[tuple[int, int]]) -> descriptor_pb2.FileDescriptorSet:
    files = descriptor_pb2.FileDescriptorSet()
    proto = files.file.add(name="p/v1/p.proto", package="p.v1", syntax="proto3")
    message = proto.message_type.add(name="M")
    message.field.add(name="a", number=1, type=FDP.TYPE_STRING, label=FDP.LABEL_OPTIONAL)
    for start, end in reserved:
        message.reserved_range.add(start=start, end=end)
    enum = proto.enum_type.add(name="E")
    enum.value.add(name="E_UNSPECIFIED", number=0)
    for start, _end in reserved:
        enum.reserved_range.add(start=start, end=2**31 - 1)
    return files


def test_reserved_to_max_is_diffed_in_no_time() -> None:
    """Regression: `reserved 10 to max` was expanded into a set of half a billion numbers."""
    old = _message_set([(10, 536_870_912)])
    new = _message_set([(20, 536_870_912)])
    started = time.perf_counter()
    changes = diff_schemas(build_index(old), build_index(new), "b", old, new)
    assert time.perf_counter() - started < 1.0
    by_id = {c.id: c for c in changes}
    assert by_id["p.v1.M:number_removed"].before == "10 to 19"
    assert by_id["p.v1.E:number_removed"].before == "10 to 19"
    assert by_id["p.v1.M:number_removed"].backward.wire == B


def _change(kind: str, element: str, message: str | None) -> Change:
    return change_of_kind(
        kind, change_id=f"{element}:x", baseline="b", element=element, message=message,
        file=None, line=None,
    )  # fmt: skip


ROLES = {"p.Req": frozenset({"request"}), "p.Resp": frozenset({"response"})}


@pytest.mark.parametrize(
    ("kind", "message", "safe"),
    [
        # widening holds backward only: a request goes servers first, a response clients first
        ("field_type_widened", "p.Req", ("servers_first",)),
        ("field_type_widened", "p.Resp", ("clients_first",)),
        ("field_type_narrowed", "p.Req", ("clients_first",)),
        ("field_type_narrowed", "p.Resp", ("servers_first",)),
        # a message no RPC uses counts as both: one direction only is never enough
        ("field_type_widened", "p.Unused", ()),
        ("field_added", "p.Unused", ("any", "servers_first", "clients_first")),
        ("field_type_changed", "p.Req", ()),
    ],
)
def test_roles_decide_the_rollout(kind: str, message: str, safe: tuple[str, ...]) -> None:
    change = _change(kind, f"{message}.f", message)
    result = baseline_compatibility("b", [change], ROLES, Names(()), wire_only=False)
    assert result.safe_rollouts == safe
    if safe != ("any", "servers_first", "clients_first"):
        assert all(message in block.elements for block in result.blocked)


def test_rpc_level_changes_have_the_requests_role() -> None:
    added = _change("rpc_added", "p.S.Ping", None)
    assert change_subject(added, ROLES, Names(())) == ("p.S.Ping", frozenset({"request"}))
    result = baseline_compatibility("b", [added], ROLES, Names(()), wire_only=False)
    assert result.safe_rollouts == ("servers_first",)
    (hazard,) = rollout_hazards([result], [added], {"b": ROLES}, {"b": Names(())}, False)
    assert (hazard.id, hazard.fields) == (HAZARD_SERVERS_FIRST, ("p.S.Ping",))
    removed = _change("rpc_removed", "p.S.Ping", None)
    result = baseline_compatibility("b", [removed], ROLES, Names(()), wire_only=False)
    assert result.safe_rollouts == ("clients_first",)
    assert rollout_hazards([result], [removed], {"b": ROLES}, {"b": Names(())}, False) == []


@pytest.mark.parametrize(
    ("kinds", "breaking"),
    [
        # one order ruled out is a rollout constraint in rpc mode, not a break
        (("field_type_widened",), (False,)),
        # both orders ruled out by one change: it breaks
        (("field_type_changed",), (True,)),
        # each rules out a different order: together no order is left, both are the break
        (("field_type_widened", "field_type_narrowed"), (True, True)),
    ],
)
def test_breaking_is_relative_to_the_rpc_mode(
    kinds: tuple[str, ...], breaking: tuple[bool, ...]
) -> None:
    changes = [_change(kind, f"p.Req.f{i}", "p.Req") for i, kind in enumerate(kinds)]
    result = baseline_compatibility("b", changes, ROLES, Names(()), wire_only=False)
    marked = tuple(
        breaks_mode(c, result, ROLES, Names(()), "rpc", wire_only=False) for c in changes
    )
    assert marked == breaking
    # backward mode judges each change on its own backward ratings
    assert breaks_mode(changes[0], result, ROLES, Names(()), "backward", False) is (
        kinds[0] != "field_type_widened"
    )


def test_wire_only_and_accepted_changes_and_modes() -> None:
    renamed = _change("enum_value_renamed", "p.E.V", "p.Req")
    strict = baseline_compatibility("b", [renamed], ROLES, Names(()), wire_only=False)
    assert strict.safe_rollouts == ()
    assert not mode_holds(strict, "rpc", False) and not mode_holds(strict, "backward", False)
    loose = baseline_compatibility("b", [renamed], ROLES, Names(()), wire_only=True)
    assert loose.safe_rollouts == ("any", "servers_first", "clients_first")
    assert mode_holds(loose, "full", True)
    widened = _change("field_type_widened", "p.Req.f", "p.Req")
    result = baseline_compatibility("b", [widened], ROLES, Names(()), wire_only=False)
    assert mode_holds(result, "backward", False) and not mode_holds(result, "forward", False)
    assert mode_holds(result, "rpc", False) and not mode_holds(result, "full", False)
    accepted = dataclasses.replace(widened, accepted=object())  # type: ignore[arg-type]
    result = baseline_compatibility("b", [accepted], ROLES, Names(()), wire_only=False)
    assert mode_holds(result, "full", False)


def test_a_buf_yaml_never_changes_the_toolkits_judgement(cache_dir: Path, tmp_path: Path) -> None:
    """The same .proto files judged with and without a user's buf.yaml: same ratings."""
    case = "field_moved_into_new_oneof"
    plain = run_case(cache_dir, case)
    configured = tmp_path / "current"
    shutil.copytree(CASES_ROOT / case / "current", configured)
    (configured / "buf.yaml").write_text(
        "version: v2\nbreaking:\n  use:\n    - FILE\nlint:\n  use:\n    - MINIMAL\n"
    )
    with_yaml = run_check(
        cache_dir, baselines=[str(CASES_ROOT / case / "baseline")], current=str(configured)
    )

    def judged(changes: tuple[Change, ...]) -> list[tuple[str, Encodings, Encodings]]:
        return sorted((c.id, c.backward, c.forward) for c in changes if c.kind != "buf_finding")

    assert judged(with_yaml.changes) == judged(plain.changes)
    assert with_yaml.compatibility[0].compatibility == plain.compatibility[0].compatibility
    assert with_yaml.compatibility[0].safe_rollouts == plain.compatibility[0].safe_rollouts
    assert with_yaml.verdict == plain.verdict == "compatible"
    # buf's own rule did fire (FIELD_SAME_ONEOF) and is listed on the change, not judged by it
    (moved,) = plain.changes
    assert "FIELD_SAME_ONEOF" in moved.buf_rules and not moved.breaking


def test_schema_json_carries_per_change_ratings_and_rollouts(cache_dir: Path) -> None:
    report = json.loads(run_case(cache_dir, "field_type_int32_to_int64").to_json())
    (change,) = report["changes"]
    assert change["category"] == "type"
    assert change["backward"] == {"wire": C, "json": C}
    assert change["forward"] == {"wire": B, "json": B}
    assert "int32" in change["remedy"]
    (per_baseline,) = report["compatibility"]
    assert per_baseline["safe_rollouts"] == ["servers_first"]
    assert per_baseline["blocked"] == [
        {"rollout": "clients_first", "elements": ["cases.v1.CallRequest"]}
    ]
    assert {h["id"] for h in report["hazards"]} == {HAZARD_SERVERS_FIRST}


@pytest.mark.parametrize(
    ("case", "options", "code"),
    [
        # a service-less schema: the message counts as both, widening holds backward only
        ("registry_widening_without_services", [], 1),
        ("registry_widening_without_services", ["--compat", "backward"], 0),
        ("registry_widening_without_services", ["--compat", "forward"], 1),
        ("registry_widening_without_services", ["--compat", "full"], 1),
        # a JSON-only break: fails every mode unless --wire-only
        ("field_json_name_changed", [], 1),
        ("field_json_name_changed", ["--wire-only"], 0),
        ("field_json_name_changed", ["--compat", "full", "--wire-only"], 0),
    ],
)
def test_cli_modes_decide_the_exit_code(
    case: str, options: list[str], code: int, tmp_path: Path
) -> None:
    proc = run_cli(
        [
            "check", "--project-root", str(CASES_ROOT), "--baseline", f"{case}/baseline",
            "--current", f"{case}/current", "--json", str(tmp_path / "s.json"), *options,
        ],
        cwd=CASES_ROOT, env=cli_env(tmp_path / "cache"),
    )  # fmt: skip
    assert proc.returncode == code, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["mode"] == (options[1] if options[:1] == ["--compat"] else "rpc")
    assert report["wire_only"] == ("--wire-only" in options)


def _editions_set(presence: int | None, delimited: bool) -> descriptor_pb2.FileDescriptorSet:
    files = descriptor_pb2.FileDescriptorSet()
    proto = files.file.add(name="e/v1/e.proto", package="e.v1", syntax="editions")
    inner = proto.message_type.add(name="Inner")
    inner.field.add(name="x", number=1, type=FDP.TYPE_INT32, label=FDP.LABEL_OPTIONAL)
    outer = proto.message_type.add(name="Outer")
    a = outer.field.add(name="a", number=1, type=FDP.TYPE_STRING, label=FDP.LABEL_OPTIONAL)
    if presence is not None:
        a.options.features.field_presence = presence  # type: ignore[assignment]
    b = outer.field.add(
        name="b", number=2, type=FDP.TYPE_MESSAGE, type_name=".e.v1.Inner",
        label=FDP.LABEL_OPTIONAL,
    )  # fmt: skip
    if delimited:
        b.options.features.message_encoding = 2  # type: ignore[assignment]
    return files


def test_editions_features_are_modelled() -> None:
    """LEGACY_REQUIRED is `required`; DELIMITED message encoding is a group on the wire."""
    old, new = _editions_set(None, False), _editions_set(3, True)
    kinds = {c.id: c.kind for c in diff_schemas(build_index(old), build_index(new), "b", old, new)}
    assert kinds == {
        "e.v1.Outer.a:presence": "field_required_added",
        "e.v1.Outer.b:encoding": "field_encoding_changed",
    }
    back = {c.id: c.kind for c in diff_schemas(build_index(new), build_index(old), "b", new, old)}
    assert back["e.v1.Outer.a:presence"] == "field_required_removed"
    explicit, implicit = _editions_set(1, False), _editions_set(2, False)
    (change,) = diff_schemas(build_index(explicit), build_index(implicit), "b", explicit, implicit)
    assert change.kind == "field_presence_changed" and not change.breaking


def test_closed_enums_and_unchecked_strings() -> None:
    enum, int32 = field(FDP.TYPE_ENUM, ".p.E"), field(FDP.TYPE_INT32)
    closed_new, closed_old = (False, True), (True, False)
    assert type_change_kind(int32, enum, False, closed_new) == "field_type_int_to_closed_enum"
    assert type_change_kind(enum, int32, False, closed_old) == "field_type_closed_enum_to_int"
    bool_, uint64 = field(FDP.TYPE_BOOL), field(FDP.TYPE_UINT64)
    assert type_change_kind(bool_, enum, False, closed_new) == "field_type_int_to_closed_enum"
    assert type_change_kind(enum, uint64, False, closed_old) == "field_type_closed_enum_to_int"
    # the open counterparts (the control)
    assert type_change_kind(int32, enum, False) == "field_type_int_to_enum"
    # across wire encodings, a closed enum reader keeps only its own numbers in JSON too
    sint32 = field(FDP.TYPE_SINT32)
    assert type_change_kind(sint32, enum, False, closed_new) == "field_type_changed"
    assert type_change_kind(sint32, enum, False) == "field_type_changed_json_widened"
    string, bytes_ = field(FDP.TYPE_STRING), field(FDP.TYPE_BYTES)
    unchecked = (True, False)  # the new side (the string reader) is proto2
    assert type_change_kind(bytes_, string, False, utf8_checked=unchecked) == (
        "field_type_string_bytes_unchecked"
    )
    assert type_change_kind(bytes_, string, False) == "field_type_bytes_to_string"
