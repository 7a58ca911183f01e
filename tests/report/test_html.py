"""The HTML report is one self-contained, well-formed file that shows every failure at a glance."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.report.html_inspection import inspect
from tests.report.support import CASES, load_document, typed
from toolkit.report.output import render_reports
from toolkit.report.rows import slug

Documents = Callable[[str], dict[str, Any]]


@pytest.mark.parametrize("case", CASES)
def test_html_is_well_formed_and_self_contained(case: str) -> None:
    html = render_reports(typed(load_document(case))).html
    inspection = inspect(html)
    assert inspection.problems == []
    assert inspection.external_urls() == []
    assert inspection.external_resources() == []
    assert "<svg" in html
    assert html.startswith("<!DOCTYPE html>")


def test_the_inspection_catches_external_resources_and_broken_nesting() -> None:
    bad = (
        '<html><head><link rel="stylesheet" href="https://cdn.example.com/x.css">'
        "<style>body { background: url(https://example.com/bg.png) }</style></head>"
        '<body><img src="https://example.com/i.png"><a href="https://keepachangelog.com/en/1.1.0/">'
        "docs</a><div><span></div></body></html>"
    )
    inspection = inspect(bad)
    assert inspection.external_urls() == [
        "https://cdn.example.com/x.css",
        "https://example.com/i.png",
    ]
    assert "<link>" in inspection.external_resources()
    assert "<img>" in inspection.external_resources()
    assert any("url(" in s for s in inspection.external_resources())
    assert inspection.problems


def _failed_check_ids(results: dict[str, Any]) -> list[str]:
    return [c["id"] for c in results["compat"]["checks"] if c["outcome"] == "failed"]


def test_every_failing_check_is_marked_and_listed_at_a_glance() -> None:
    results = load_document("breaking")
    inspection = inspect(render_reports(typed(results)).html)
    failed = _failed_check_ids(results)
    assert failed == ["ROUTE_DEFAULT_LEGACY", "ERR_UNKNOWN_SPACE"]
    for check_id in failed:
        anchor = f"check-{slug(check_id)}"
        assert "failed" in inspection.classes_by_id[anchor]
        assert f"#{anchor}" in inspection.urls
    assert "failing" in inspection.classes_by_id
    for element in ("memory_id", "memory_space_id", "pattern"):
        anchor = f"change-{slug('engram.v1.ForgetRequest.' + element)}"
        assert "row-breaking" in inspection.classes_by_id[anchor]
    assert [g for g in inspection.svg_groups if "failed" in g] == [{"failed"}]


def test_a_check_that_starts_failing_becomes_visible(document: Documents) -> None:
    results = document("rollout")
    before = inspect(render_reports(typed(results)).html)
    assert "failing" not in before.classes_by_id
    assert "failed" not in before.classes_by_id["check-stream-isolation"]

    results["compat"]["checks"][8]["outcome"] = "failed"
    results["compat"]["verdict"] = "failed"
    after = inspect(render_reports(typed(results)).html)
    assert "failed" in after.classes_by_id["check-stream-isolation"]
    assert "#check-stream-isolation" in after.urls
    assert "failing" in after.classes_by_id


def test_html_escapes_what_the_stages_reported(document: Documents) -> None:
    results = document("breaking")
    results["compat"]["checks"][0]["cases"][0]["evidence"]["message"] = "<script>alert(1)</script>"
    html = render_reports(typed(results)).html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
