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
    from toolkit.documents.results import FailOn, ResultsDocument

log = logging.getLogger(__name__)

DEFAULT_REPORTS = Path("reports")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def register(subparsers: Any) -> None:
    """Add this stage's subcommands to `engram-compat`."""
    report = subparsers.add_parser(
        "report",
        help="merge the stage results into results.json and render the migration report",
        description="Merge this run's stage documents (reports/drift.json, lint.json, "
        "schema.json, compat.json) with the environment, versions and timings into "
        "results.json, which carries the one verdict and exit code of the run; validate it "
        "against its JSON Schema, and render migration-report.md, migration-report.html and "
        "CHANGELOG-entry.md. With --results, re-render from that document only.",
        epilog="Exit codes (results.json's exit_code): 0 SAFE or SAFE WITH ROLLOUT ORDER; "
        "1 BREAKING, or INCOMPLETE because a stage failed; 2 INCOMPLETE because a stage wrote "
        "no document (the report is still written and names it), or a document is invalid.",
    )
    report.add_argument(
        "--results", type=Path, help="re-render from this results.json, running nothing"
    )
    report.add_argument(
        "--fail-on",
        choices=["breaking", "rollout"],
        default=None,
        help="what fails the run: breaking (BREAKING or INCOMPLETE) or rollout (SAFE WITH "
        "ROLLOUT ORDER too, for pipelines that accept only SAFE) (default: `fail-on` in "
        "[tool.engram-compat] or $ENGRAM_COMPAT_FAIL_ON, else breaking)",
    )
    report.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_REPORTS,
        help="folder holding the stage documents, and receiving the reports (default: reports)",
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


def merge_results(
    out: Path, project_root: Path, started: float, fail_on: FailOn = "breaking"
) -> ResultsDocument:
    """Merge this run's stage documents in `out` into a validated results document."""
    from toolkit.report.environment import gather_environment
    from toolkit.report.results import build_results, read_parts

    parts = read_parts(out)
    environment = gather_environment(project_root)
    return build_results(parts, environment, time.perf_counter() - started, fail_on)


def _append_step_summary(text: str) -> None:
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    try:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        log.warning("cannot append to GITHUB_STEP_SUMMARY %s: %s", summary, exc.strerror)


def run_report(args: argparse.Namespace) -> int:
    from toolkit.report.output import write_reports
    from toolkit.report.results import RESULTS_FILE, read_results

    started = time.perf_counter()
    out: Path = args.out
    if args.results is not None:
        results = read_results(args.results)
    else:
        from toolkit.project import find_project_root, load_config

        configured = args.fail_on or load_config(find_project_root(args.project_root)).fail_on
        fail_on: FailOn
        if configured in (None, "breaking"):
            fail_on = "breaking"
        elif configured == "rollout":
            fail_on = "rollout"
        else:
            raise ToolkitError(f"fail-on {configured!r}: use breaking or rollout")
        results = merge_results(out, args.project_root, started, fail_on)
        out.mkdir(parents=True, exist_ok=True)
        results.write(out / RESULTS_FILE)
    written = write_reports(results, out)
    first_line = written.markdown.splitlines()[0].lstrip("# ")
    # The step summary opens with the same line the report and this command print.
    _append_step_summary(written.markdown)
    print(first_line)
    for path in written.paths:
        print(f"wrote {path}")
    for part in written.verdict.missing_parts:
        print(
            f"engram-compat report: {out / (part + '.json')} is missing (the {part} stage did not "
            f"run or did not finish: run `nox -s {part}`); the verdict is "
            f"{written.verdict.label}",
            file=sys.stderr,
        )
    return results.exit_code


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
