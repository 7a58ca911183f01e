"""The engram-compat pipeline. `nox` with no arguments runs the whole migration check.

Stages run in the order listed in `nox.options.sessions`; nox keeps going after a failing
stage, so the report stage still writes `reports/` when an earlier stage failed. Every stage
writes its document to `reports/` (drift.json, lint.json, schema.json, compat.json); the report
stage merges them into results.json, whose verdict and exit code are the run's.

Nothing of an earlier run survives into a later one's report: the first pipeline stage of a
`nox` invocation removes every stage document and report of the previous run, so a stage that
did not run this time is missing (INCOMPLETE), never an old success.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).parent
REPORTS = ROOT / "reports"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["drift", "lint", "schema", "compat", "report"]

PYTHON = "3.11"


def install(session: nox.Session, extras: str = "") -> None:
    """Install the toolkit (editable) and point caches and temp files into the run's folders."""
    session.install("-e", f".[{extras}]" if extras else ".")
    # Python caches compiled modules in the session's own venv and the repo's (ignored)
    # __pycache__ folders even where the caller's environment turns that off: the tests and the
    # runtime suite start well over a hundred interpreters, and each would otherwise compile
    # grpc, protobuf, pytest and the toolkit again (~0.9 s of CPU each on this project's
    # machines). An empty value is "unset" to Python.
    session.env["PYTHONDONTWRITEBYTECODE"] = ""
    tmp = session.create_tmp()
    session.env["TMPDIR"] = tmp
    session.env["BUF_CACHE_DIR"] = str(ROOT / ".cache" / "buf")


# Everything a pipeline run writes to reports/ (bench.json and the screenshot are not the run's).
RUN_OUTPUTS = (
    "drift.json",
    "lint.json",
    "schema.json",
    "junit-schema.xml",
    "compat.json",
    "junit-compat.xml",
    "rehearsal.json",
    "results.json",
    "migration-report.md",
    "migration-report.html",
    "CHANGELOG-entry.md",
)
_run_started: list[bool] = []


def discard(*names: str) -> None:
    """Remove a stage's previous output, so a stage that crashes never leaves stale results."""
    for name in names:
        (REPORTS / name).unlink(missing_ok=True)


def begin_run() -> None:
    """At the first pipeline stage of this nox invocation, remove the previous run's output."""
    if not _run_started:
        _run_started.append(True)
        discard(*RUN_OUTPUTS)


SESSION_FLAGS = ("-s", "-e", "--session", "--sessions")


def named_sessions(argv: list[str]) -> list[str] | None:
    """The sessions named on nox's command line (`-s a b`, `--session=a`), or None when the
    default run, keywords or tags choose them."""
    named: list[str] = []
    explicit = False
    taking = False
    for token in argv[1:]:
        if token == "--":
            break
        if token in SESSION_FLAGS:
            explicit, taking = True, True
            continue
        if token.startswith(("--session=", "--sessions=")):
            explicit = True
            named.extend(n for n in token.split("=", 1)[1].split(",") if n)
            continue
        if token.startswith("-"):
            taking = False
            if token in ("-k", "--keywords", "-t", "--tags"):
                return None
            continue
        if taking:
            named.extend(n for n in token.split(",") if n)
    return named if explicit else None


def stage_args(session: nox.Session) -> list[str]:
    """Arguments after `--` belong to one stage: `nox -s schema -- --baseline git:main`. In a
    run of several stages they would reach every stage, so they are refused; configure the
    whole run in `[tool.engram-compat]` (pyproject.toml) or `ENGRAM_COMPAT_*` variables."""
    if not session.posargs:
        return []
    named = named_sessions(sys.argv)
    if named is None or len(named) != 1:
        session.error(
            "arguments after `--` reach one stage only: run that stage alone "
            f"(`nox -s {session.name} -- {' '.join(session.posargs)}`); for the whole run set "
            "them in [tool.engram-compat] in pyproject.toml or in ENGRAM_COMPAT_* variables "
            "(see the README)"
        )
    return list(session.posargs)


@nox.session(python=PYTHON)
def stubs(session: nox.Session) -> None:
    """Regenerate toolkit/generated/ from the schemas (`-- --check`: fail on drift instead)."""
    install(session)
    session.run("engram-compat", "stubs", *stage_args(session))


@nox.session(python=PYTHON)
def drift(session: nox.Session) -> None:
    """Fail when toolkit/generated/ differs from what the schemas generate; writes drift.json."""
    begin_run()
    discard("drift.json")
    install(session)
    session.run("engram-compat", "stubs", "--check", "--json", str(REPORTS / "drift.json"))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, ruff format --check, mypy, and buf lint on both schemas; writes lint.json."""
    begin_run()
    discard("lint.json")
    install(session, "test")
    session.run("engram-compat", "lint", "--json", str(REPORTS / "lint.json"))


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The toolkit's own tests (pytest -n auto); extra arguments go to pytest."""
    install(session, "test")
    session.run("pytest", "-n", "auto", *session.posargs)


@nox.session(python=PYTHON)
def schema(session: nox.Session) -> None:
    """Judge proto/ against the released baseline: buf, descriptor diff, wire replay, version."""
    begin_run()
    discard("schema.json", "junit-schema.xml")
    install(session)
    session.run(
        "engram-compat", "check", "--json", str(REPORTS / "schema.json"),
        "--junit", str(REPORTS / "junit-schema.xml"), *stage_args(session),
    )  # fmt: skip


@nox.session(python=PYTHON)
def compat(session: nox.Session) -> None:
    """Run legacy and new clients against the reference server (`-- --target HOST:PORT`)."""
    begin_run()
    discard("compat.json", "junit-compat.xml")
    install(session, "test")
    session.run("engram-compat", "runtime", "--reports", str(REPORTS), *stage_args(session))


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """Merge this run's stage documents into results.json; render the report and changelog entry.

    Exits with results.json's exit_code after writing the report: 1 when BREAKING or a stage
    failed (stale stubs, lint), 2 when a stage wrote no document in this run.
    """
    begin_run()
    discard("results.json", "migration-report.md", "migration-report.html", "CHANGELOG-entry.md")
    install(session)
    session.run(
        "engram-compat",
        "report",
        "--out",
        str(REPORTS),
        "--project-root",
        str(ROOT),
        *stage_args(session),
    )


@nox.session(python=PYTHON, default=False)
def rehearse(session: nox.Session) -> None:
    """Rolling-upgrade rehearsal (3 servers, servers first, rollback): reports/rehearsal.json.

    Extra arguments go to `engram-compat rehearse` (e.g. `-- --order all`).
    """
    install(session)
    begin_run()  # part of this invocation's run: `nox -s drift lint schema compat rehearse report`
    discard("rehearsal.json")
    session.run(
        "engram-compat",
        "rehearse",
        "--servers",
        "3",
        "--order",
        "servers-first",
        "--rollback",
        "--json",
        str(REPORTS / "rehearsal.json"),
        *session.posargs,
    )


def find_chromium(session: nox.Session) -> str:
    """Debian's chromium; installed with apt-get when missing and running as root."""
    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        apt_env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-qq", external=True, env=apt_env)
        session.run("apt-get", "install", "-y", "-qq", "chromium", external=True, env=apt_env)
        found = shutil.which("chromium")
    if found is None:
        session.error(
            "chromium is not installed and this is not root: run "
            "`sudo apt-get install chromium`, then `nox -s report_browser` again"
        )
    return found


# The fixed results documents report_browser renders besides this run's: a SAFE and a BREAKING.
BROWSER_CASES = {"safe": "accepted", "breaking": "breaking"}


@nox.session(python=PYTHON, default=False)
def report_browser(session: nox.Session) -> None:
    """Save whole HTML reports, full height, as PNGs from headless Chromium: this run's
    (reports/migration-report.png, when reports/results.json exists) and a SAFE and a BREAKING
    run (reports/browser/report-safe.png, report-breaking.png)."""
    install(session)
    find_chromium(session)
    pictures = REPORTS / "browser"
    scratch = Path(session.create_tmp()) / "browser"
    pages: list[tuple[Path, Path]] = []
    for name, case in BROWSER_CASES.items():
        out = scratch / name
        session.run(
            "engram-compat",
            "report",
            "--results",
            str(ROOT / "tests" / "report" / "documents" / f"{case}.json"),
            "--out",
            str(out),
            success_codes=[0, 1, 2],
        )
        pages.append((out / "migration-report.html", pictures / f"report-{name}.png"))
    if (REPORTS / "results.json").exists():
        session.run(
            "engram-compat",
            "report",
            "--results",
            str(REPORTS / "results.json"),
            "--out",
            str(REPORTS),
            success_codes=[0, 1, 2],
        )
        pages.append((REPORTS / "migration-report.html", REPORTS / "migration-report.png"))
    for html, png in pages:
        session.run("python", "-m", "toolkit.report.browser", str(html), str(png))


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks as ratios against baselines measured in the same run (reports/bench.json)."""
    install(session, "test")
    discard("bench.json")
    for script in sorted((ROOT / "tests" / "bench").glob("bench_*.py")):
        # Every benchmark runs even when an earlier one misses its target; the summary fails.
        session.run("python", "-m", f"tests.bench.{script.stem}", success_codes=[0, 1])
    session.run("python", "-m", "tests.bench.summary")
