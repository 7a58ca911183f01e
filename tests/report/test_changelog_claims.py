"""The changelog entry claims only what a passed check verified, and says each thing once."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.report.support import CASES, load_document, typed
from toolkit.report.output import render_reports

Documents = Callable[[str], dict[str, Any]]
WARNING_CLAIM = "the server logs a WARNING record"
ROUTING_CLAIM = "is routed to the server's default memory space"


def _entry(results: dict[str, Any]) -> str:
    return render_reports(typed(results)).changelog_entry


def _set_outcome(results: dict[str, Any], check_id: str, outcome: str) -> None:
    for check in results["compat"]["checks"]:
        if check["id"] == check_id:
            check["outcome"] = outcome
            for case in check["cases"]:
                case["outcome"] = outcome


def test_a_passed_deprecation_check_backs_the_warning_claim(document: Documents) -> None:
    assert WARNING_CLAIM in _entry(document("rollout"))


def test_a_failed_deprecation_check_removes_the_warning_claim(document: Documents) -> None:
    results = document("rollout")
    _set_outcome(results, "DEPRECATION_WARNING", "failed")
    entry = _entry(results)
    assert WARNING_CLAIM not in entry
    assert "### Deprecated" in entry  # still deprecated, without the unverified promise


def test_a_failed_routing_check_removes_the_default_space_claim(document: Documents) -> None:
    assert ROUTING_CLAIM in _entry(document("rollout"))
    breaking = document("breaking")  # ROUTE_DEFAULT_LEGACY failed there
    assert ROUTING_CLAIM not in _entry(breaking)


@pytest.mark.parametrize("case", CASES)
def test_no_line_of_the_entry_is_repeated(case: str) -> None:
    lines = [line for line in _entry(load_document(case)).splitlines() if line.startswith("- ")]
    assert len(lines) == len(set(lines))


def test_the_same_change_against_two_baselines_is_one_line(document: Documents) -> None:
    results = document("breaking")
    twins = [copy.deepcopy(c) for c in results["schema"]["changes"] if c["breaking"]]
    for twin in twins:
        twin["baseline"] = "git:v0.9.0"
    results["schema"]["changes"] += twins
    lines = [line for line in _entry(results).splitlines() if line.startswith("- ")]
    assert len(lines) == len(set(lines))
    assert sum("ForgetRequest.memory_id`: field_number_changed" in line for line in lines) == 1
