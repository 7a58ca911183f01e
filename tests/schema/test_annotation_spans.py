"""GitHub annotations name the exact span of what changed: line, column, end line and end
column as GitHub and buf count them (1-based, the end one past the last character), checked
against the .proto text; an element that is gone points into the baseline file when that file
is part of the checkout; where no span is known no column is printed, never a wrong one."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.schema.conftest import CASES_ROOT, cli_env, run_case, run_check
from toolkit.annotations import Annotation
from toolkit.documents.schema import SchemaReport
from toolkit.schema.diff import with_span
from toolkit.schema.elements import Span, span_of
from toolkit.schema.summary import change_annotation, schema_annotations

# `::error file=F,line=L[,col=C,endLine=EL,endColumn=EC],title=T::message`
ANNOTATION = re.compile(
    r"^::error file=(?P<file>[^,]+)"
    r"(?:,line=(?P<line>\d+))?"
    r"(?:,col=(?P<col>\d+),endLine=(?P<end_line>\d+),endColumn=(?P<end_col>\d+))?"
    r",title=(?P<title>[^:]+)::(?P<text>.+)$"
)
RENUMBERED = "fields_renumbered_for_new_field_1"
REMOVED = "field_removed_unreserved"


def _annotations(stdout: str) -> list[re.Match[str]]:
    found = [ANNOTATION.match(line) for line in stdout.splitlines() if line.startswith("::")]
    assert all(found), stdout
    return [match for match in found if match is not None]


def _spanned(path: Path, match: re.Match[str]) -> str:
    """The text an annotation's span covers in the file (one line)."""
    assert match["col"] is not None, match.string
    line = int(match["line"])
    assert int(match["end_line"]) == line, match.string
    text = path.read_text(encoding="utf-8").splitlines()[line - 1]
    return text[int(match["col"]) - 1 : int(match["end_col"]) - 1]


def _check(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(
        [
            "check", "--project-root", str(CASES_ROOT), *args,
            "--json", str(tmp_path / "schema.json"), "--annotations", "github",
        ],
        cwd=CASES_ROOT, env=cli_env(tmp_path / "cache"),
    )  # fmt: skip


def test_a_renumbered_field_is_annotated_at_its_exact_columns(tmp_path: Path) -> None:
    proc = _check(
        ["--baseline", f"{RENUMBERED}/baseline", "--current", f"{RENUMBERED}/current"], tmp_path
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    found = {m["text"].partition(":")[0]: m for m in _annotations(proc.stdout)}
    auto_link = found["engram.v1.RememberRequest.auto_link"]
    assert auto_link["title"].startswith("field_number_changed")
    assert auto_link["file"] == f"{RENUMBERED}/current/engram/v1/engram.proto"
    path = CASES_ROOT / auto_link["file"]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[int(auto_link["line"]) - 1] == "  bool auto_link = 3;"
    # The whole declaration, from its type to its semicolon, and nothing more.
    assert (auto_link["col"], auto_link["end_col"]) == ("3", "22")
    assert _spanned(path, auto_link) == "bool auto_link = 3;"
    assert _spanned(path, found["engram.v1.RememberRequest.memory"]) == "Memory memory = 2;"
    taken = found["engram.v1.RememberRequest.memory_space_id"]
    assert _spanned(path, taken) == "string memory_space_id = 1;"


def test_the_report_carries_the_same_spans(cache_dir: Path) -> None:
    report = run_case(cache_dir, RENUMBERED)
    (change,) = [c for c in report.changes if c.id == "engram.v1.RememberRequest.auto_link:number"]
    assert (change.line, change.column, change.end_line, change.end_column) == (31, 3, 31, 22)
    assert change.before_source is not None and change.after_source is not None
    before = change.before_source
    assert (before.line, before.column, before.end_line, before.end_column) == (30, 3, 30, 22)
    after = change.after_source
    assert (after.column, after.end_line, after.end_column) == (3, 31, 22)
    # The document keeps them through its JSON Schema.
    again = SchemaReport.from_dict(report.to_dict())
    assert again.changes == report.changes


def test_a_removed_field_points_into_the_baseline_file_of_the_checkout(tmp_path: Path) -> None:
    proc = _check(
        ["--baseline", f"{REMOVED}/baseline", "--current", f"{REMOVED}/current"], tmp_path
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (removed,) = [m for m in _annotations(proc.stdout) if m["title"].startswith("field_removed")]
    assert removed["file"] == f"{REMOVED}/baseline/engram/v1/engram.proto"
    assert removed["line"] == "30"
    assert _spanned(CASES_ROOT / removed["file"], removed) == "bool auto_link = 2;"


def test_a_removed_field_of_a_baseline_outside_the_checkout_points_at_its_message(
    tmp_path: Path,
) -> None:
    """The baseline's lines mean nothing in the current file: the annotation names the
    enclosing message there (as buf does) and says where the field was declared."""
    outside = tmp_path / "released"
    shutil.copytree(CASES_ROOT / REMOVED / "baseline", outside)
    proc = _check(["--baseline", str(outside), "--current", f"{REMOVED}/current"], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (removed,) = [m for m in _annotations(proc.stdout) if m["title"].startswith("field_removed")]
    current = CASES_ROOT / REMOVED / "current/engram/v1/engram.proto"
    assert removed["file"] == f"{REMOVED}/current/engram/v1/engram.proto"
    assert current.read_text().splitlines()[int(removed["line"]) - 1] == "message RememberRequest {"
    assert removed["col"] == "1" and int(removed["end_line"]) > int(removed["line"])
    assert "it was declared at engram/v1/engram.proto:30 in the baseline" in removed["text"]


def test_the_version_policy_is_annotated_at_the_version_comment(tmp_path: Path) -> None:
    case = "version_not_bumped"
    proc = _check(["--baseline", f"{case}/baseline", "--current", f"{case}/current"], tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (policy,) = [m for m in _annotations(proc.stdout) if m["title"].startswith("version policy")]
    path = CASES_ROOT / policy["file"]
    assert _spanned(path, policy) == "engram-schema-version: 1.0.0"


def test_a_version_given_as_an_option_has_no_location(cache_dir: Path) -> None:
    from packaging.version import Version

    report = run_check(
        cache_dir,
        baselines=["version_not_bumped/baseline"],
        current="version_not_bumped/current",
        project_root=CASES_ROOT,
        current_version=Version("1.0.0"),
    )
    (policy,) = report.version_policy
    assert not policy.satisfied
    assert (policy.line, policy.column, policy.end_line, policy.end_column) == (None,) * 4
    (annotation,) = [a for a in schema_annotations(report, "") if a.title and "version" in a.title]
    assert ",col=" not in annotation.render() and ",line=" not in annotation.render()


def test_an_element_without_a_span_prints_no_column(cache_dir: Path, tmp_path: Path) -> None:
    """A top-level message removed from a file without a `package` statement has no surviving
    declaration: the change is located at the file (line 1) and carries no column."""
    for side, extra in (("baseline", "message Gone {\n  string id = 1;\n}\n"), ("current", "")):
        folder = tmp_path / side
        folder.mkdir()
        (folder / "kept.proto").write_text(
            f'syntax = "proto3";\n\nmessage Kept {{\n  string name = 1;\n}}\n{extra}'
        )
    report = run_check(cache_dir, baselines=["baseline"], current="current", project_root=tmp_path)
    (gone,) = [c for c in report.changes if c.kind == "message_removed"]
    assert (gone.file, gone.line) == ("kept.proto", 1)
    assert (gone.column, gone.end_line, gone.end_column) == (None, None, None)
    rendered = change_annotation(gone, "current").render()
    assert rendered.startswith("::error file=current/kept.proto,line=1,title="), rendered
    assert ",col=" not in rendered and "endLine" not in rendered


def test_a_span_is_only_attached_to_the_line_it_starts_on(cache_dir: Path) -> None:
    report = run_case(cache_dir, RENUMBERED)
    (change,) = [c for c in report.changes if c.id == "engram.v1.RememberRequest.auto_link:number"]
    bare = dataclasses.replace(change, column=None, end_line=None, end_column=None)
    assert with_span(bare, Span(31, 3, 31, 22)) == change
    # A span of another line (or none) is never printed as this change's columns.
    assert with_span(bare, Span(12, 1, 14, 2)) == bare
    assert with_span(bare, None) == bare
    line = change_annotation(bare, "proto").render()
    assert ",line=31," in line and ",col=" not in line


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ((30, 2, 21), Span(31, 3, 31, 22)),  # one line: [line, col, end col]
        ((27, 0, 30, 1), Span(28, 1, 31, 2)),  # several: [line, col, end line, end col]
        ((), None),
        (None, None),
    ],
)
def test_source_code_info_spans_become_one_based(
    raw: tuple[int, ...] | None, expected: Span | None
) -> None:
    assert span_of(raw) == expected


def test_columns_are_printed_only_with_a_line() -> None:
    assert Annotation("error", "x", file="a.proto", column=3, end_column=9).render() == (
        "::error file=a.proto::x"
    )
    assert Annotation("error", "x", file="a.proto", line=2, column=3, end_line=2).render() == (
        "::error file=a.proto,line=2,col=3,endLine=2::x"
    )
