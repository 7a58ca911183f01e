"""The engram-compat pipeline. `nox` with no arguments runs the whole migration check.

Stages run in the order listed in `nox.options.sessions`; nox keeps going after a failing
stage, so the report stage still writes `reports/` when an earlier stage failed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
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
    tmp = session.create_tmp()
    session.env["TMPDIR"] = tmp
    session.env["BUF_CACHE_DIR"] = str(ROOT / ".cache" / "buf")


def discard(*names: str) -> None:
    """Remove a stage's previous output, so a stage that crashes never leaves stale results."""
    for name in names:
        (REPORTS / name).unlink(missing_ok=True)


@nox.session(python=PYTHON)
def stubs(session: nox.Session) -> None:
    """Regenerate toolkit/generated/ from the schemas (`-- --check`: fail on drift instead)."""
    install(session)
    session.run("engram-compat", "stubs", *session.posargs)


@nox.session(python=PYTHON)
def drift(session: nox.Session) -> None:
    """Fail when toolkit/generated/ differs from what the schemas generate (stubs --check)."""
    install(session)
    session.run("engram-compat", "stubs", "--check")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, ruff format --check, mypy, and buf lint on both schemas."""
    install(session, "test")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    for module in ("proto", "fixtures/baseline/proto"):
        with session.chdir(ROOT / module):
            session.run("buf", "lint")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The toolkit's own tests (pytest -n auto); extra arguments go to pytest."""
    install(session, "test")
    session.run("pytest", "-n", "auto", *session.posargs)


@nox.session(python=PYTHON)
def schema(session: nox.Session) -> None:
    """Judge proto/ against the released baseline: buf, descriptor diff, wire replay, version."""
    install(session)
    discard("schema.json")
    session.run("engram-compat", "check", "--json", str(REPORTS / "schema.json"), *session.posargs)


@nox.session(python=PYTHON)
def compat(session: nox.Session) -> None:
    """Replay legacy and new clients against the reference server (`-- --target HOST:PORT`)."""
    install(session, "test")
    discard("compat.json", "junit-compat.xml")
    session.run("engram-compat", "replay", "--reports", str(REPORTS), *session.posargs)


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """Merge reports/*.json into results.json; render the migration report and changelog entry.

    Exits 1 when BREAKING and 2 when a stage wrote no results, after writing the report.
    """
    install(session)
    session.run(
        "engram-compat",
        "report",
        "--out",
        str(REPORTS),
        "--project-root",
        str(ROOT),
        *session.posargs,
    )


@nox.session(python=PYTHON, default=False)
def rehearse(session: nox.Session) -> None:
    """Rolling-upgrade rehearsal (3 servers, servers first, rollback): reports/rehearsal.json.

    Extra arguments go to `engram-compat rehearse` (e.g. `-- --order all`).
    """
    install(session)
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


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
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


@nox.session(python=PYTHON, default=False)
def report_browser(session: nox.Session) -> None:
    """Render the HTML report in headless Chromium and save reports/migration-report.png."""
    install(session)
    html = REPORTS / "migration-report.html"
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
    if not html.exists():
        session.error(
            "reports/migration-report.html is missing: run `nox` (or `nox -s report`) first"
        )
    chromium = find_chromium(session)
    home = Path(tempfile.mkdtemp(prefix="chromium-", dir=session.create_tmp()))
    session.run(
        "timeout",
        "120",
        chromium,
        *CHROMIUM_FLAGS,
        f"--user-data-dir={home / 'profile'}",
        "--window-size=1280,4000",
        f"--screenshot={REPORTS / 'migration-report.png'}",
        html.as_uri(),
        external=True,
        env={"HOME": str(home), "XDG_CONFIG_HOME": str(home), "XDG_CACHE_HOME": str(home)},
    )
    session.log(f"saved {REPORTS / 'migration-report.png'}")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks as ratios against baselines measured in the same run (reports/bench.json)."""
    install(session, "test")
    discard("bench.json")
    for script in sorted((ROOT / "tests" / "bench").glob("bench_*.py")):
        # Every benchmark runs even when an earlier one misses its target; the summary fails.
        session.run("python", "-m", f"tests.bench.{script.stem}", success_codes=[0, 1])
    session.run("python", "-m", "tests.bench.summary")
