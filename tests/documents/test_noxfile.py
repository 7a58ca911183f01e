"""The pipeline's first stage removes the previous run's documents, once per nox invocation."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest


def _fake_nox() -> types.ModuleType:
    """Just enough of nox to import the noxfile without nox installed."""
    module = types.ModuleType("nox")

    def session(*args: Any, **kwargs: Any) -> Any:
        if args and callable(args[0]):
            return args[0]
        return lambda function: function

    module.session = session  # type: ignore[attr-defined]
    module.options = types.SimpleNamespace()  # type: ignore[attr-defined]
    module.Session = object  # type: ignore[attr-defined]
    return module


@pytest.fixture
def noxfile(project_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(sys.modules, "nox", _fake_nox())
    spec = importlib.util.spec_from_file_location("engram_noxfile", project_root / "noxfile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "REPORTS", tmp_path / "reports")
    return module


def test_the_first_stage_removes_every_document_of_the_previous_run(noxfile: Any) -> None:
    reports: Path = noxfile.REPORTS
    reports.mkdir()
    for name in (*noxfile.RUN_OUTPUTS, "bench.json", "README.md"):
        (reports / name).write_text("{}", encoding="utf-8")
    noxfile.begin_run()
    assert sorted(p.name for p in reports.iterdir()) == ["README.md", "bench.json"]
    # A later stage of the same invocation keeps what this run's earlier stages wrote.
    (reports / "drift.json").write_text("{}", encoding="utf-8")
    noxfile.begin_run()
    assert (reports / "drift.json").exists()


def test_every_stage_document_the_report_reads_is_a_run_output(noxfile: Any) -> None:
    from toolkit.report.verdict import STAGE_FILES

    assert set(STAGE_FILES.values()) - {"rehearsal.json"} <= set(noxfile.RUN_OUTPUTS)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["nox"], None),
        (["nox", "--", "--baseline", "git:main"], None),
        (["nox", "-s", "schema", "--", "--baseline", "git:main"], ["schema"]),
        (["nox", "-s", "schema", "compat"], ["schema", "compat"]),
        (["nox", "--session=schema"], ["schema"]),
        (["nox", "-e", "schema,compat", "-r"], ["schema", "compat"]),
        (["nox", "-k", "schema"], None),
    ],
)
def test_the_sessions_named_on_the_command_line(
    noxfile: Any, argv: list[str], named: list[str] | None
) -> None:
    assert noxfile.named_sessions(argv) == named


class _Session:
    def __init__(self, name: str, posargs: list[str]) -> None:
        self.name, self.posargs = name, posargs

    def error(self, message: str) -> None:
        raise RuntimeError(message)


def test_arguments_reach_only_a_stage_run_alone(
    noxfile: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["--baseline", "git:main"]
    monkeypatch.setattr(sys, "argv", ["nox", "-s", "schema", "--", *args])
    assert noxfile.stage_args(_Session("schema", args)) == args
    monkeypatch.setattr(sys, "argv", ["nox", "--", *args])
    with pytest.raises(RuntimeError, match=r"reach one stage only.*tool\.engram-compat"):
        noxfile.stage_args(_Session("compat", args))
    assert noxfile.stage_args(_Session("compat", [])) == []
