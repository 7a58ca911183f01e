"""The engram-compat pipeline. `nox` with no arguments runs the whole migration check.

Stages run in the order listed in `nox.options.sessions`; nox keeps going after a failing
stage, so the report stage still writes `reports/` when an earlier stage failed.
"""

from __future__ import annotations

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
    session.run("engram-compat", "check", "--json", str(REPORTS / "schema.json"), *session.posargs)


@nox.session(python=PYTHON)
def compat(session: nox.Session) -> None:
    """Replay legacy and new clients against the reference server (`-- --target HOST:PORT`)."""
    install(session, "test")
    session.run("engram-compat", "replay", "--reports", str(REPORTS), *session.posargs)


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """Merge reports/*.json into results.json; render the migration report and changelog entry."""
    install(session)
    session.run("engram-compat", "report", "--out", str(REPORTS), *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks as ratios against baselines measured in the same run (reports/bench.json)."""
    install(session, "test")
    scripts = sorted((ROOT / "tests" / "bench").glob("bench_*.py"))
    for script in scripts:
        session.run("python", "-m", f"tests.bench.{script.stem}", *session.posargs)
