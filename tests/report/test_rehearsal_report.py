"""The rehearsal joins the results when it ran, is `not_run` (and harmless) when it did not, and is
judged: an invariant it saw broken is BREAKING; an order it observed differently from the schema
check's prediction is a finding of its own."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.report.html_inspection import inspect
from tests.report.support import typed, write_stage_documents
from toolkit.contract import HAZARD_SERVERS_FIRST
from toolkit.report.output import render_reports
from toolkit.report.results import read_parts
from toolkit.report.verdict import Parts, judge, judge_parts, parts_of, stage_statuses

Documents = Callable[[str], dict[str, Any]]


def _run(results: dict[str, Any], order: str) -> dict[str, Any]:
    (run,) = [r for r in results["rehearsal"]["runs"] if r["order"] == order]
    return run


def _status(results: dict[str, Any], stage: str) -> str:
    (status,) = [s.status for s in stage_statuses(_parts(results)) if s.stage == stage]
    return status


def _parts(results: dict[str, Any]) -> Parts:
    return parts_of(typed(results))


def test_the_rehearsal_as_rehearsed_agrees_with_the_prediction(document: Documents) -> None:
    results = document("rollout")
    verdict = judge(typed(results))
    assert (verdict.code, verdict.exit_code) == ("SAFE_WITH_ROLLOUT_ORDER", 0)
    assert _status(results, "rehearsal") == "passed"
    assert _run(results, "clients-first")["totals"]["misplaced"] > 0  # the predicted hazard


def test_without_a_rehearsal_it_is_not_run_and_changes_nothing(document: Documents) -> None:
    results = document("rollout")
    results["rehearsal"] = None
    verdict = judge(typed(results))
    assert (verdict.code, verdict.exit_code) == ("SAFE_WITH_ROLLOUT_ORDER", 0)
    assert _status(results, "rehearsal") == "not_run"
    html = render_reports(typed(results)).html
    assert 'id="stage-rehearsal"' in html and "not run" in html
    assert "timeline-" not in html


def test_the_merge_reads_rehearsal_json_when_present(tmp_path: Path, document: Documents) -> None:
    results = document("rollout")
    reports = write_stage_documents(tmp_path / "reports", results)
    parts = read_parts(reports)
    assert parts.rehearsal is not None and parts.rehearsal.seed == results["rehearsal"]["seed"]
    (reports / "rehearsal.json").unlink()
    absent = read_parts(reports)
    assert absent.rehearsal is None
    assert judge_parts(absent).code == "SAFE_WITH_ROLLOUT_ORDER"


@pytest.mark.parametrize(
    ("order", "field", "value"),
    [
        ("servers-first", "lost", 3),  # an acknowledged write lost
        ("clients-first", "lost", 1),  # lost is never acceptable, whatever the order
        ("servers-first", "misplaced", 5),  # misplaced where the schema check predicts safe
    ],
)
def test_a_broken_invariant_is_breaking(
    document: Documents, order: str, field: str, value: int
) -> None:
    results = document("rollout")
    _run(results, order)["totals"][field] = value
    verdict = judge(typed(results))
    assert (verdict.code, verdict.exit_code) == ("BREAKING", 1)
    (reason,) = [r for r in verdict.reasons if r.kind == "rehearsal_broken"]
    assert order in reason.items
    assert _status(results, "rehearsal") == "failed"
    html = render_reports(typed(results))
    assert "broke an invariant" in html.html and "broke an invariant" in html.markdown


def test_unreadable_seed_data_without_a_rollback_is_breaking(document: Documents) -> None:
    results = document("rollout")
    run = _run(results, "servers-first")
    run["rollback"] = None
    run["seed_readable"] = run["seed_written"] - 1
    assert judge(typed(results)).code == "BREAKING"


def test_an_observation_that_disagrees_with_the_prediction_is_a_finding(
    document: Documents,
) -> None:
    results = document("rollout")
    # clients first is predicted unsafe (the servers-first hazard), but observed safe
    results["rehearsal"]["observed_safe_orders"].append("clients-first")
    verdict = judge(typed(results))
    assert (verdict.code, verdict.exit_code) == ("INCOMPLETE", 1)
    assert [r.items for r in verdict.reasons if r.kind == "rehearsal_disagrees"] == [
        ("clients-first",)
    ]
    assert _status(results, "rehearsal") == "partial"
    rendered = render_reports(typed(results))
    assert "disagrees with the predicted safe orders" in rendered.markdown
    assert "glance-" in rendered.html


def test_a_random_order_is_no_claim_of_the_schema_check(document: Documents) -> None:
    results = document("rollout")
    results["rehearsal"]["observed_safe_orders"].remove("random")
    assert judge(typed(results)).code == "SAFE_WITH_ROLLOUT_ORDER"


def test_the_report_shows_each_orders_timeline_and_the_rollback_remedy(
    document: Documents,
) -> None:
    results = document("rollout")
    rendered = render_reports(typed(results))
    inspection = inspect(rendered.html)
    assert inspection.problems == []
    for run in results["rehearsal"]["runs"]:
        assert f"timeline-{run['order']}" in inspection.classes_by_id
    assert "What the operator would have to do" in rendered.html
    assert "## 6. Rolling-upgrade rehearsal" in rendered.markdown
    assert f"`{HAZARD_SERVERS_FIRST}`" in rendered.markdown
