"""Render a results document into the files of reports/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolkit.documents.results import ResultsDocument
from toolkit.report.changelog import build_entry
from toolkit.report.context import build_context
from toolkit.report.render import (
    render_changelog_entry,
    render_html_report,
    render_markdown_report,
)
from toolkit.report.verdict import Verdict

MARKDOWN_FILE = "migration-report.md"
HTML_FILE = "migration-report.html"
CHANGELOG_ENTRY_FILE = "CHANGELOG-entry.md"


@dataclass(frozen=True)
class RenderedReports:
    verdict: Verdict
    markdown: str
    html: str
    changelog_entry: str


@dataclass(frozen=True)
class WrittenReports:
    verdict: Verdict
    markdown: str
    paths: tuple[Path, ...]


def render_reports(results: ResultsDocument) -> RenderedReports:
    context = build_context(results)
    return RenderedReports(
        verdict=context.verdict,
        markdown=render_markdown_report(context),
        html=render_html_report(context),
        changelog_entry=render_changelog_entry(build_entry(results)),
    )


def write_reports(results: ResultsDocument, out: Path) -> WrittenReports:
    rendered = render_reports(results)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (
        (MARKDOWN_FILE, rendered.markdown),
        (HTML_FILE, rendered.html),
        (CHANGELOG_ENTRY_FILE, rendered.changelog_entry),
    ):
        path = out / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return WrittenReports(rendered.verdict, rendered.markdown, tuple(paths))
