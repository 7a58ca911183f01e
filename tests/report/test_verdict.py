"""The verdict rule: each reason alone decides the verdict and the exit code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.report.support import typed
from toolkit.report.verdict import BREAKING, INCOMPLETE, SAFE, SAFE_WITH_ROLLOUT_ORDER, judge

Documents = Callable[[str], dict[str, Any]]


def _safe(document: Documents) -> dict[str, Any]:
    """The accepted-changes document: compatible, every check passed, no rollout order."""
    return document("accepted")


def test_a_clean_document_is_safe(document: Documents) -> None:
    verdict = judge(typed(_safe(document)))
    assert (verdict.label, verdict.exit_code, verdict.reasons) == (SAFE, 0, ())


def test_a_schema_hazard_alone_asks_for_a_rollout_order(document: Documents) -> None:
    results = _safe(document)
    results["schema"]["hazards"] = [{"id": "ROLLOUT_SERVERS_FIRST", "fields": ["a.B.c"]}]
    verdict = judge(typed(results))
    assert (verdict.label, verdict.exit_code) == (SAFE_WITH_ROLLOUT_ORDER, 0)
    assert [r.kind for r in verdict.reasons] == ["rollout_hazard"]


def test_a_compat_rollout_rule_alone_asks_for_a_rollout_order(document: Documents) -> None:
    results = _safe(document)
    results["compat"]["rollout"] = [{"id": "UPGRADE_SERVERS_FIRST", "reason_check": "MATRIX"}]
    verdict = judge(typed(results))
    assert (verdict.label, [r.kind for r in verdict.reasons]) == (
        SAFE_WITH_ROLLOUT_ORDER,
        ["rollout_rule"],
    )


def _incompatible(results: dict[str, Any]) -> None:
    results["schema"]["verdict"] = "incompatible"
    results["schema"]["changes"][0]["accepted"] = None


def _version_too_low(results: dict[str, Any]) -> None:
    results["schema"]["version_policy"][0]["satisfied"] = False


def _check_failed(results: dict[str, Any]) -> None:
    results["compat"]["checks"][3]["outcome"] = "failed"
    results["compat"]["verdict"] = "failed"


def _matrix_cell_failed(results: dict[str, Any]) -> None:
    results["compat"]["matrix"][1]["passed"] = False


@pytest.mark.parametrize(
    ("breakage", "kind"),
    [
        (_incompatible, "schema_incompatible"),
        (_version_too_low, "version_too_low"),
        (_check_failed, "checks_failed"),
        (_matrix_cell_failed, "matrix_failed"),
    ],
)
def test_each_problem_alone_is_breaking_with_exit_1(
    document: Documents, breakage: Callable[[dict[str, Any]], None], kind: str
) -> None:
    results = _safe(document)
    breakage(results)
    verdict = judge(typed(results))
    assert (verdict.label, verdict.exit_code) == (BREAKING, 1)
    assert [r.kind for r in verdict.reasons] == [kind]


def test_the_incompatible_elements_are_named(document: Documents) -> None:
    verdict = judge(typed(document("breaking")))
    (schema_reason,) = [r for r in verdict.reasons if r.kind == "schema_incompatible"]
    assert schema_reason.items == (
        "engram.v1.ForgetRequest.memory_id",
        "engram.v1.ForgetRequest.memory_space_id",
        "engram.v1.ForgetRequest.pattern",
    )
    (checks,) = [r for r in verdict.reasons if r.kind == "checks_failed"]
    assert checks.items == ("ROUTE_DEFAULT_LEGACY", "ERR_UNKNOWN_SPACE")


@pytest.mark.parametrize("part", ["schema", "compat"])
def test_a_missing_part_is_incomplete_and_exit_2(document: Documents, part: str) -> None:
    results = _safe(document)
    results[part] = None
    verdict = judge(typed(results))
    assert (verdict.label, verdict.exit_code, verdict.missing_parts) == (INCOMPLETE, 2, (part,))


def test_a_missing_part_beside_a_found_problem_exits_1(document: Documents) -> None:
    results = document("breaking")
    results["compat"] = None
    verdict = judge(typed(results))
    assert (verdict.label, verdict.exit_code, verdict.missing_parts) == (BREAKING, 1, ("compat",))
