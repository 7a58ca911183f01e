"""A remedy beside every problem: the change's fix, the server's duty for a check that did not
pass, and a ready `[[accept]]` entry for a breaking change that could be accepted instead."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable
from typing import Any

import pytest

from tests.report.support import load_document, typed
from toolkit.compat.checks import CHECKS
from toolkit.contract import DEFAULT_SPACE, DEPRECATION_HEADER, NOT_FOUND_REASON, SPACE_FIELD
from toolkit.documents.results import ResultsDocument
from toolkit.report.context import build_context
from toolkit.report.output import render_reports
from toolkit.report.remedies import CHECK_REMEDIES, accept_snippet, check_remedy

Documents = Callable[[str], dict[str, Any]]


def test_every_runtime_check_has_a_remedy_in_the_contracts_words() -> None:
    assert set(CHECK_REMEDIES) == set(CHECKS)
    assert SPACE_FIELD in CHECK_REMEDIES["ROUTE_DEFAULT_LEGACY"]
    assert f"`{DEFAULT_SPACE}`" in CHECK_REMEDIES["ROUTE_DEFAULT_LEGACY"]
    assert DEPRECATION_HEADER in CHECK_REMEDIES["DEPRECATION_WARNING"]
    assert NOT_FOUND_REASON in CHECK_REMEDIES["ERR_UNKNOWN_SPACE"]
    assert check_remedy("NO_SUCH_CHECK") is None


def test_a_failed_check_says_what_the_server_must_do() -> None:
    rendered = render_reports(typed(load_document("breaking")))
    for check_id in ("ROUTE_DEFAULT_LEGACY", "ERR_UNKNOWN_SPACE"):
        remedy = CHECK_REMEDIES[check_id]
        assert f"**Fix:** the server must {remedy}." in rendered.markdown
        assert f"the server must {remedy.split('`')[0]}" in rendered.html
    # a passing check shows no fix
    assert CHECK_REMEDIES["ISOLATION_DATA"] not in rendered.markdown


def _with_outcome(results: ResultsDocument, check_id: str, outcome: str) -> ResultsDocument:
    """A results document whose check has an outcome the compat stage may write (partial,
    not_run), built past the JSON Schema of this branch."""
    compat = results.compat
    assert compat is not None
    checks = tuple(
        dataclasses.replace(c, outcome=outcome) if c.id == check_id else c  # type: ignore[arg-type]
        for c in compat.checks
    )
    return dataclasses.replace(results, compat=dataclasses.replace(compat, checks=checks))


def test_a_partial_check_is_not_passed_and_gets_its_remedy() -> None:
    results = _with_outcome(typed(load_document("rollout")), "DEPRECATION_WARNING", "partial")
    context = build_context(results)
    # Not shown broken, not shown safe: INCOMPLETE (exit 1) unless --allow-partial.
    assert (context.verdict.code, context.verdict.exit_code) == ("INCOMPLETE", 1)
    assert context.verdict.reasons[0].kind == "checks_partial"
    assert [s.status for s in context.stages if s.stage == "compat"] == ["partial"]
    (row,) = [k for k in context.checks if k.id == "DEPRECATION_WARNING"]
    assert row.remedy == CHECK_REMEDIES["DEPRECATION_WARNING"]
    assert context.checks[0].id == "DEPRECATION_WARNING"  # failing first
    rendered = render_reports(results)
    assert "runtime check `DEPRECATION_WARNING` passed only partly" in rendered.markdown


def test_a_check_that_did_not_run_makes_the_run_incomplete() -> None:
    results = _with_outcome(typed(load_document("rollout")), "FLOW_BOUND", "not_run")
    verdict = build_context(results).verdict
    assert (verdict.code, verdict.exit_code) == ("INCOMPLETE", 1)
    assert verdict.reasons[0].kind == "checks_not_run"


def test_each_breaking_change_shows_its_fix_id_and_a_ready_accept_entry() -> None:
    results = load_document("breaking")
    rendered = render_reports(typed(results))
    breaking = [c for c in results["schema"]["changes"] if c["breaking"] and not c["accepted"]]
    assert breaking
    for change in breaking:
        assert change["remedy"] in rendered.markdown
        assert f"change id `{change['id']}`" in rendered.markdown
        assert f'id = "{change["id"]}"' in rendered.markdown
        assert f"id = &#34;{change['id']}&#34;" in rendered.html.replace(".<wbr>", ".")
    snippets = re.findall(r"```toml\n(.*?)```", rendered.markdown, re.S)
    assert len(snippets) == len(breaking)
    ids = [tomllib.loads(s.replace("\n    ", "\n"))["accept"][0]["id"] for s in snippets]
    assert sorted(ids) == sorted(c["id"] for c in breaking)


def test_an_accepted_change_has_no_accept_entry_to_copy() -> None:
    rendered = render_reports(typed(load_document("accepted")))
    assert "[[accept]]" not in rendered.markdown


@pytest.mark.parametrize("change_id", ["a.B.c:number", 'odd"quote'])
def test_the_accept_snippet_is_valid_toml(change_id: str) -> None:
    entry = tomllib.loads(accept_snippet(change_id))["accept"][0]
    assert entry["id"] == change_id
    assert entry["reason"]
