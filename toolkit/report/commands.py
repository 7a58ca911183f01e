"""Subcommands of the report stage: `report` and `changelog`."""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toolkit.errors import EXIT_OK, ToolkitError

if TYPE_CHECKING:
    from toolkit.report.results import Versions

log = logging.getLogger(__name__)

DEFAULT_REPORTS = Path("reports")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def register(subparsers: Any) -> None:
    """Add this stage's subcommands to `engram-compat`."""
    report = subparsers.add_parser(
        "report",
        help="merge the stage results into results.json and render the migration report",
        description="Merge reports/schema.json and reports/compat.json (with the environment, "
        "versions and timings) into results.json, validate it against its JSON Schema, and "
        "render migration-report.md, migration-report.html and CHANGELOG-entry.md. With "
        "--results, re-render from that document only.",
        epilog="Exit codes: 0 SAFE or SAFE WITH ROLLOUT ORDER; 1 BREAKING; 2 a stage document "
        "is missing (the report is still written and says BREAKING) or a document is invalid.",
    )
    report.add_argument(
        "--results", type=Path, help="re-render from this results.json, running nothing"
    )
    report.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_REPORTS,
        help="folder holding schema.json and compat.json, and receiving the reports "
        "(default: reports)",
    )
    report.add_argument(
        "--project-root",
        type=Path,
        default=Path.cwd(),
        help="the repository, for the git commit and branch (default: the working directory)",
    )
    report.set_defaults(func=run_report)

    changelog = subparsers.add_parser(
        "changelog",
        help="print the Keep a Changelog entry, or insert it into a changelog file",
        description="Render the changelog entry of the current schema version from a results "
        "document. With --write, insert it under its version (idempotent; creates the file).",
    )
    changelog.add_argument(
        "--results",
        type=Path,
        default=DEFAULT_REPORTS / "results.json",
        help="the results document (default: reports/results.json)",
    )
    changelog.add_argument("--write", type=Path, metavar="CHANGELOG", help="file to insert into")
    changelog.add_argument("--date", help="release date YYYY-MM-DD (default: Unreleased)")
    changelog.add_argument(
        "--report-link",
        default=None,
        help="link to the migration report (default: reports/migration-report.md)",
    )
    changelog.set_defaults(func=run_changelog)


def _fallback_versions() -> Versions:
    """The versions the packaged schemas declare, for a run whose schema stage wrote nothing."""
    from toolkit.report.results import Versions
    from toolkit.schema.pool import load_schema
    from toolkit.schema.version import declared_version

    try:
        return Versions(
            baseline=str(declared_version(load_schema("legacy").files)),
            current=str(declared_version(load_schema("current").files)),
        )
    except (ToolkitError, OSError) as exc:
        log.debug("no packaged schema versions: %s", exc)
        return Versions(baseline="unknown", current="unknown")


def merge_results(out: Path, project_root: Path, started: float) -> dict[str, Any]:
    """Merge the stage documents in `out` into a validated results document."""
    from toolkit.report.environment import gather_environment
    from toolkit.report.results import (
        COMPAT_FILE,
        SCHEMA_FILE,
        Timings,
        build_results,
        read_part,
        versions_from,
    )

    schema = read_part(out / SCHEMA_FILE, "schema")
    compat = read_part(out / COMPAT_FILE, "compat")
    environment = gather_environment(project_root)
    versions = versions_from(schema, _fallback_versions())
    timings = Timings(
        schema=float(schema["duration_s"]) if schema else 0.0,
        compat=float(compat["duration_s"]) if compat else 0.0,
        report=round(time.perf_counter() - started, 3),
    )
    return build_results(schema, compat, environment, versions, timings)


def _append_step_summary(markdown: str) -> None:
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    try:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown)
    except OSError as exc:
        log.warning("cannot append to GITHUB_STEP_SUMMARY %s: %s", summary, exc.strerror)


def run_report(args: argparse.Namespace) -> int:
    from toolkit.report.output import write_reports
    from toolkit.report.results import RESULTS_FILE, dump_json, read_results

    started = time.perf_counter()
    out: Path = args.out
    if args.results is not None:
        results = read_results(args.results)
    else:
        results = merge_results(out, args.project_root, started)
        out.mkdir(parents=True, exist_ok=True)
        (out / RESULTS_FILE).write_text(dump_json(results), encoding="utf-8")
    written = write_reports(results, out)
    _append_step_summary(written.markdown)
    print(written.markdown.splitlines()[0].lstrip("# "))
    for path in written.paths:
        print(f"wrote {path}")
    for part in written.verdict.missing_parts:
        print(
            f"engram-compat report: {out / (part + '.json')} is missing (the {part} stage did not "
            "finish); the report says BREAKING",
            file=sys.stderr,
        )
    return written.verdict.exit_code


def run_changelog(args: argparse.Namespace) -> int:
    from toolkit.report.changelog import DEFAULT_REPORT_LINK, build_entry
    from toolkit.report.changelog_file import write_entry
    from toolkit.report.render import render_changelog_entry
    from toolkit.report.results import read_results

    if args.date is not None and not DATE.match(args.date):
        raise ToolkitError(f"--date {args.date!r} is not a date of the form YYYY-MM-DD")
    results = read_results(args.results)
    entry = build_entry(
        results, date=args.date, report_link=args.report_link or DEFAULT_REPORT_LINK
    )
    text = render_changelog_entry(entry)
    if args.write is None:
        sys.stdout.write(text)
        return EXIT_OK
    action = write_entry(args.write, text, entry.version)
    print(f"{args.write}: entry for {entry.version} {action}")
    return EXIT_OK
