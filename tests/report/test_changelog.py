"""The Keep a Changelog entry and its idempotent insertion into CHANGELOG.md."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUESTS, run_cli
from tests.report.support import DOCUMENTS, load_document, typed
from toolkit.cli import main
from toolkit.report.changelog import build_entry
from toolkit.report.changelog_file import PREAMBLE, insert_entry
from toolkit.report.render import render_changelog_entry

Documents = Callable[[str], dict[str, Any]]
OLDER = """# Changelog

Notes for humans.

## [Unreleased]

- something in progress

## [1.0.0] - 2025-01-01

### Added

- The first release.

[Unreleased]: https://example.invalid/compare/v1.0.0...HEAD
[1.0.0]: https://example.invalid/releases/v1.0.0
"""


def _entry(case: str) -> str:
    return render_changelog_entry(build_entry(typed(load_document(case))))


def _sections(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def test_the_entry_names_what_the_migration_changed() -> None:
    entry = _entry("rollout")
    assert entry.startswith("## [1.1.0] - Unreleased\n")
    assert _sections(entry) == [
        "## [1.1.0] - Unreleased",
        "### Added",
        "### Changed",
        "### Deprecated",
        "### Security",
    ]
    added = entry.partition("### Added")[2].partition("###")[0]
    for request in REQUESTS:
        assert f"`engram.v1.{request}`" in added
    assert "`engram.v1.MemorySpaceService`" in added
    changed = entry.partition("### Changed")[2].partition("###")[0]
    assert "default memory space (`default`)" in changed
    assert "upgrade every server to 1.1.0 before clients" in changed
    assert "`x-engram-deprecation`" in entry.partition("### Deprecated")[2]
    assert "[migration report](reports/migration-report.md)" in entry


def test_the_entry_follows_the_results_not_a_fixed_text() -> None:
    entry = _entry("accepted")
    assert entry.startswith("## [1.2.0] - Unreleased\n")
    assert "### Deprecated" not in entry and "### Security" not in entry
    assert "Rollout order" not in entry
    assert "accepted: no JSON or gateway clients in production" in entry
    breaking = _entry("breaking")
    assert "**Not releasable as it stands**" in breaking
    assert "`engram.v1.ForgetRequest.memory_id`: field_number_changed" in breaking
    assert "**incompatible**" in breaking


def test_entry_date_and_link_options() -> None:
    entry = render_changelog_entry(
        build_entry(
            typed(load_document("rollout")), date="2026-03-01", report_link="docs/report.md"
        )
    )
    assert entry.startswith("## [1.1.0] - 2026-03-01\n")
    assert "[migration report](docs/report.md)" in entry


def test_a_missing_changelog_is_created_and_a_second_insert_changes_nothing() -> None:
    entry = _entry("rollout")
    created = insert_entry(None, entry, "1.1.0")
    assert created.action == "created"
    assert created.text == PREAMBLE + entry
    again = insert_entry(created.text, entry, "1.1.0")
    assert (again.action, again.text) == ("unchanged", created.text)


def test_the_entry_goes_below_unreleased_and_above_older_releases() -> None:
    entry = _entry("rollout")
    inserted = insert_entry(OLDER, entry, "1.1.0")
    assert inserted.action == "inserted"
    headings = [line for line in inserted.text.splitlines() if line.startswith("## ")]
    assert headings == ["## [Unreleased]", "## [1.1.0] - Unreleased", "## [1.0.0] - 2025-01-01"]
    assert inserted.text.endswith("[1.0.0]: https://example.invalid/releases/v1.0.0\n")
    assert insert_entry(inserted.text, entry, "1.1.0").action == "unchanged"


def test_an_outdated_section_of_the_version_is_replaced_in_place() -> None:
    stale = OLDER.replace("## [1.0.0]", "## [1.1.0] - Unreleased\n\n- stale text\n\n## [1.0.0]")
    updated = insert_entry(stale, _entry("rollout"), "1.1.0")
    assert updated.action == "updated"
    assert "stale text" not in updated.text
    assert updated.text.count("## [1.1.0]") == 1
    assert "- something in progress" in updated.text and "- The first release." in updated.text
    assert insert_entry(updated.text, _entry("rollout"), "1.1.0").action == "unchanged"


def test_a_last_section_before_link_definitions_keeps_them() -> None:
    only = "# Changelog\n\n## [1.1.0] - Unreleased\n\n- old\n\n[1.1.0]: https://example.invalid/1.1.0\n"
    updated = insert_entry(only, _entry("rollout"), "1.1.0")
    assert updated.text.endswith("\n\n[1.1.0]: https://example.invalid/1.1.0\n")
    assert "- old" not in updated.text


def test_changelog_write_twice_leaves_the_file_as_the_first_run_wrote_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changelog = tmp_path / "CHANGELOG.md"
    results = str(DOCUMENTS / "rollout.json")
    assert main(["changelog", "--results", results, "--write", str(changelog)]) == 0
    first = changelog.read_bytes()
    assert main(["changelog", "--results", results, "--write", str(changelog)]) == 0
    assert changelog.read_bytes() == first
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{changelog}: entry for 1.1.0 created",
        f"{changelog}: entry for 1.1.0 unchanged",
    ]


def test_changelog_prints_the_entry_without_write(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["changelog", "--results", str(DOCUMENTS / "accepted.json")]) == 0
    assert capsys.readouterr().out == _entry("accepted")


def test_changelog_rejects_a_bad_date_and_a_missing_results_document(
    tmp_path: Path, tool_env: dict[str, str]
) -> None:
    completed = run_cli(
        ["changelog", "--results", str(DOCUMENTS / "rollout.json"), "--date", "soon"], env=tool_env
    )
    assert (completed.returncode, completed.stderr) == (
        2,
        "engram-compat changelog: error: --date 'soon' is not a date of the form YYYY-MM-DD\n",
    )
    missing = tmp_path / "results.json"
    assert main(["changelog", "--results", str(missing)]) == 2
