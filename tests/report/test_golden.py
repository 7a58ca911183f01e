"""The fixed results documents render exactly to the committed golden files."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.report.support import CASES, GOLDEN, check_golden, load_document, typed
from toolkit.report.output import render_reports
from toolkit.report.results import validate_results


@pytest.mark.parametrize("case", CASES)
def test_fixed_documents_follow_the_results_contract(case: str) -> None:
    validate_results(load_document(case), case)


@pytest.mark.parametrize("case", CASES)
def test_rendering_matches_the_golden_files(case: str) -> None:
    rendered = render_reports(typed(load_document(case)))
    check_golden(GOLDEN / case / "migration-report.md", rendered.markdown)
    check_golden(GOLDEN / case / "migration-report.html", rendered.html)
    check_golden(GOLDEN / case / "CHANGELOG-entry.md", rendered.changelog_entry)


def test_golden_comparison_fails_on_a_changed_rendering(
    document: Callable[[str], dict[str, Any]],
) -> None:
    changed = document("rollout")
    changed["compat"]["checks"][0]["purpose"] = "a purpose nobody wrote"
    rendered = render_reports(typed(changed))
    with pytest.raises(AssertionError, match="differs from the golden file"):
        check_golden(GOLDEN / "rollout" / "migration-report.md", rendered.markdown, update=False)


@pytest.mark.parametrize(
    ("case", "first_line"),
    [
        ("rollout", "# ⚠️ SAFE WITH ROLLOUT ORDER: old servers ignore the new field"),
        ("breaking", "# ❌ BREAKING: the schema is incompatible with the baseline"),
        ("accepted", "# ✅ SAFE: every schema change is compatible"),
    ],
)
def test_the_verdict_and_its_reason_are_on_the_first_line(case: str, first_line: str) -> None:
    markdown = render_reports(typed(load_document(case))).markdown
    assert markdown.splitlines()[0].startswith(first_line)


@pytest.mark.parametrize("case", CASES)
def test_failing_at_a_glance_then_sections_one_to_eight_then_timings(case: str) -> None:
    results = typed(load_document(case))
    markdown = render_reports(results).markdown
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    glance = ["## Failing at a glance"] if results.verdict == "BREAKING" else []
    assert headings == [
        *glance,
        "## 1. Verdict and versions",
        "## 2. Schema changes",
        "## 3. Semantic wire replay",
        "## 4. Compatibility matrix and rollout order",
        "## 5. Runtime checks",
        "## 6. Rolling-upgrade rehearsal",
        "## 7. Migration checklist",
        "## 8. How to reproduce",
        "## Timings",
    ]


def test_markdown_fits_a_pull_request_comment_however_many_cases(
    document: Callable[[str], dict[str, Any]],
) -> None:
    results = document("breaking")
    long_value = "x" * 2_000
    for check in results["compat"]["checks"]:
        template = check["cases"][0]
        check["cases"] = [
            {**template, "name": f"case {n}", "outcome": "failed", "evidence": {"call": long_value}}
            for n in range(100)
        ]
        check["outcome"] = "failed"
    rendered = render_reports(typed(results))
    assert len(rendered.markdown) < 65_536
    assert "… and 90 more failed cases" in rendered.markdown
    assert rendered.html.count(long_value) == 100 * len(results["compat"]["checks"])
