"""The first screen decides, failing things come first, passing things are folded, pictures are
inline SVG, identifiers wrap only at dots, and the words say what is true."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.report.html_inspection import inspect
from tests.report.support import CASES, load_document, typed
from toolkit.contract import HAZARD_SERVERS_FIRST
from toolkit.report.output import render_reports
from toolkit.report.render import wrap_at_dots

Documents = Callable[[str], dict[str, Any]]


def _order(html: str, *markers: str) -> list[int]:
    return [html.index(marker) for marker in markers]


def test_the_first_screen_is_verdict_strip_rollouts_matrix_then_what_failed() -> None:
    html = render_reports(typed(load_document("breaking"))).html
    positions = _order(
        html,
        'id="verdict"',
        'id="stages"',
        'id="rollouts"',
        'id="matrix-picture"',
        'id="failing"',
        'id="versions"',
    )
    assert positions == sorted(positions)
    strip = re.search(r'<ol class="strip".*?</ol>', html, re.S)
    assert strip is not None
    for stage, state in [
        ("drift", "passed"),
        ("lint", "passed"),
        ("schema", "failed"),
        ("compat", "failed"),
        ("rehearsal", "not_run"),
    ]:
        assert f'class="stage stage-{state}" id="stage-{stage}"' in strip.group(0)
    assert ">runtime<" in strip.group(0)


def test_the_markdown_has_the_same_failing_at_a_glance_list_as_the_html() -> None:
    rendered = render_reports(typed(load_document("breaking")))
    html_items = len(re.findall(r'<li class="failed" id="glance-', rendered.html))
    section = rendered.markdown.split("## Failing at a glance\n")[1].split("\n## ")[0]
    markdown_items = [line for line in section.splitlines() if line.startswith("1. ❌")]
    assert html_items == len(markdown_items) == 8
    assert rendered.markdown.index("## Failing at a glance") < rendered.markdown.index("## 1.")


def test_failing_first_in_the_checks_and_the_schema_changes() -> None:
    context_html = render_reports(typed(load_document("breaking"))).html
    table = context_html[context_html.index('<section id="checks">') :]
    first_rows = re.findall(r'<tr class="row-(\w+)"><td><a href="#check-', table)
    assert first_rows[:2] == ["failed", "failed"]
    assert set(first_rows[2:]) == {"passed"}
    changes = context_html[context_html.index('<section id="changes">') :]
    assert changes.index("row-breaking") < changes.index("row-compatible")


def test_compatible_rows_and_passing_evidence_are_folded() -> None:
    results = load_document("breaking")
    rendered = render_reports(typed(results))
    html = rendered.html
    folded = html[html.index('<details id="compatible-changes">') :]
    folded = folded[: folded.index("</details>")]
    assert "13 compatible elements" in folded
    assert folded.count('class="row-compatible"') == 13
    assert 'id="passing-checks"' in html
    passing = html[html.index('<details id="passing-checks">') :]
    assert "ISOLATION_DATA" in passing[: passing.index("</details>\n")]
    # Markdown: one count line, then only the rows that are not compatible
    assert "13 compatible elements are not listed here" in rendered.markdown
    assert "✅ compatible" not in rendered.markdown
    assert (
        "`engram.v1.RememberRequest.memory_space_id`"
        not in rendered.markdown.split("## 3.")[0].split("## 2.")[1]
    )


def test_the_replay_table_lists_only_what_is_not_identical(document: Documents) -> None:
    results = document("breaking")
    identical = sum(1 for r in results["schema"]["replay"] if r["outcome"] == "IDENTICAL")
    assert identical > 0
    rendered = render_reports(typed(results))
    replay_md = rendered.markdown.split("## 3.")[1].split("## 4.")[0]
    assert "| IDENTICAL |" not in replay_md
    assert f"{identical} other replays were IDENTICAL" in replay_md
    replay_html = rendered.html.split('<section id="replay">')[1].split("</section>")[0]
    assert ">IDENTICAL<" not in replay_html


@pytest.mark.parametrize("case", CASES)
def test_pictures_are_inline_svg(case: str) -> None:
    html = render_reports(typed(load_document(case))).html
    inspection = inspect(html)
    assert inspection.problems == []
    assert "chart-checks" in inspection.classes_by_id
    assert "chart-changes" in inspection.classes_by_id
    assert html.count("<svg") >= 3


def test_each_breaking_element_shows_its_source_lines_from_both_schemas() -> None:
    rendered = render_reports(typed(load_document("breaking")))
    assert "engram/v1/engram.proto:93 (baseline)\nstring memory_id = 1;" in rendered.html
    assert "engram/v1/engram.proto:101 (current)\nstring memory_id = 2;" in rendered.html
    assert "// baseline engram/v1/engram.proto:93\nstring memory_id = 1;" in rendered.markdown


def test_identifiers_wrap_at_dots_never_mid_name() -> None:
    html = render_reports(typed(load_document("breaking"))).html
    assert "<code>engram.<wbr>v1.<wbr>ForgetRequest.<wbr>memory_id</code>" in html
    assert str(wrap_at_dots("a.b<c")) == "a.<wbr>b&lt;c"
    style = html[html.index("<style>") : html.index("</style>")]
    assert "break-all" not in style and "anywhere" not in style


def test_the_verdict_line_names_the_servers_first_hazard_once() -> None:
    markdown = render_reports(typed(load_document("rollout"))).markdown
    first_line = markdown.splitlines()[0]
    assert first_line.count(HAZARD_SERVERS_FIRST) == 1
    assert "the compatibility matrix shows the same order" in first_line


@pytest.mark.parametrize("case", CASES)
def test_no_clumsy_words(case: str) -> None:
    rendered = render_reports(typed(load_document(case)))
    for text in (rendered.markdown, rendered.html, rendered.changelog_entry):
        assert "none bump" not in text
        assert not re.search(r"\b1 (cases|checks|elements|failed cases)\b", text)


def test_one_more_failed_case_is_singular(document: Documents) -> None:
    results = document("breaking")
    check = results["compat"]["checks"][0]
    template = check["cases"][0]
    check["cases"] = [{**template, "name": f"case {n}", "outcome": "failed"} for n in range(11)]
    markdown = render_reports(typed(results)).markdown
    assert "… and 1 more failed case (" in markdown


@pytest.mark.parametrize("bump", ["none", "minor"])
def test_the_check_summary_never_asks_for_a_none_bump(bump: str) -> None:
    import dataclasses

    from toolkit.schema.summary import render_summary

    schema = typed(load_document("accepted")).schema
    assert schema is not None
    policies = tuple(dataclasses.replace(p, required_bump=bump) for p in schema.version_policy)  # type: ignore[arg-type]
    text = render_summary(dataclasses.replace(schema, version_policy=policies))
    assert "none bump" not in text
    assert ("need no version bump" in text) == (bump == "none")
