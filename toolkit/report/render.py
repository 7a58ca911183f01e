"""Render the context objects with the Jinja templates shipped in toolkit/report/templates/."""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup, escape

from toolkit import contract
from toolkit.report.changelog import ChangelogEntry
from toolkit.report.context import ReportContext
from toolkit.report.rows import slug

MARKDOWN_REPORT = "migration-report.md.j2"
HTML_REPORT = "migration-report.html.j2"
CHANGELOG_ENTRY = "changelog-entry.md.j2"


def _markdown_code(value: Any) -> str:
    text = str(value)
    fence = "``" if "`" in text else "`"
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def _markdown_cell(value: Any) -> str:
    """A value that stays inside one cell of a GitHub table."""
    return str(value).replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def wrap_at_dots(value: Any) -> Markup:
    """Escaped text with a line-break opportunity after every dot: a long identifier wraps
    between its parts, never inside a name."""
    return Markup(str(escape(str(value))).replace(".", ".<wbr>"))


def _html_prose(value: Any) -> Markup:
    """A sentence a stage wrote in Markdown style (`code` spans), as safe HTML."""
    parts = str(value).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: no code spans
        return Markup(escape(str(value)))
    return Markup("").join(
        _html_code(part) if index % 2 else Markup(escape(part)) for index, part in enumerate(parts)
    )


def _html_code(value: Any) -> Markup:
    return Markup("<code>{}</code>").format(wrap_at_dots(value))


def _markdown_strong(value: Any) -> str:
    return f"**{value}**"


def _html_strong(value: Any) -> Markup:
    return Markup("<strong>{}</strong>").format(value)


@cache
def _environment(html: bool) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("toolkit.report", "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.globals["code"] = _html_code if html else _markdown_code
    environment.globals["contract"] = contract
    environment.globals["strong"] = _html_strong if html else _markdown_strong
    environment.filters["cell"] = (lambda value: escape(value)) if html else _markdown_cell
    environment.filters["slug"] = slug
    environment.filters["prose"] = _html_prose if html else str
    return environment


def render_markdown_report(context: ReportContext) -> str:
    return _environment(False).get_template(MARKDOWN_REPORT).render(c=context)


def render_html_report(context: ReportContext) -> str:
    return _environment(True).get_template(HTML_REPORT).render(c=context)


def render_changelog_entry(entry: ChangelogEntry) -> str:
    return _environment(False).get_template(CHANGELOG_ENTRY).render(e=entry)
