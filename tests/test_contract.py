"""The wire contract is written once, in toolkit/contract.py: no other module of the toolkit
(generated code aside) spells its names, and no module keeps its own list of the RPCs."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from toolkit import contract

TOOLKIT = PROJECT_ROOT / "toolkit"
NAMES = {
    "SPACE_FIELD": contract.SPACE_FIELD,
    "SPACE_HEADER": contract.SPACE_HEADER,
    "DEPRECATION_HEADER": contract.DEPRECATION_HEADER,
    "QUARANTINE_HEADER": contract.QUARANTINE_HEADER,
    "BUFFER_BOUND_HEADER": contract.BUFFER_BOUND_HEADER,
    "BUFFER_PEAK_HEADER": contract.BUFFER_PEAK_HEADER,
    "SPACE_ENV": contract.SPACE_ENV,
    "NOT_FOUND_REASON": contract.NOT_FOUND_REASON,
    "HAZARD_SERVERS_FIRST": contract.HAZARD_SERVERS_FIRST,
    "ENGRAM_SERVICE": contract.ENGRAM_SERVICE,
    "SPACE_SERVICE": contract.SPACE_SERVICE,
    "ENGRAM_SERVICE_NAME": contract.ENGRAM_SERVICE_NAME,
    "SPACE_SERVICE_NAME": contract.SPACE_SERVICE_NAME,
}


def _pattern(value: str) -> re.Pattern[str]:
    # A whole name: `default_memory_space_id` is another field, `x.memory_space_id` is this one.
    return re.compile(rf"(?<![A-Za-z0-9_\-]){re.escape(value)}(?![A-Za-z0-9_\-])")


PATTERNS = {name: _pattern(value) for name, value in NAMES.items()}


def _modules() -> Iterator[Path]:
    for path in sorted(TOOLKIT.rglob("*.py")):
        relative = path.relative_to(TOOLKIT)
        if relative.parts[0] == "generated" or relative == Path("contract.py"):
            continue
        yield path


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def string_literals(source: str) -> Iterator[tuple[int, str]]:
    """Every string constant of the code (f-string parts included), docstrings excluded."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            yield node.lineno, node.value


# A full service name also contains its short name: report the full one only.
WITHIN = {"ENGRAM_SERVICE_NAME": "ENGRAM_SERVICE", "SPACE_SERVICE_NAME": "SPACE_SERVICE"}


def contract_literals(source: str) -> list[tuple[int, str]]:
    found = []
    for line, text in string_literals(source):
        names = {name for name, pattern in PATTERNS.items() if pattern.search(text)}
        names -= {short for short, full in WITHIN.items() if full in names}
        found += [(line, name) for name in sorted(names)]
    return found


def test_no_module_spells_a_contract_name() -> None:
    found = [
        f"{path.relative_to(PROJECT_ROOT)}:{line}: {name}"
        for path in _modules()
        for line, name in contract_literals(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "use toolkit.contract instead of: " + ", ".join(found)


def test_no_template_spells_a_contract_name() -> None:
    found = []
    for path in sorted((TOOLKIT / "report" / "templates").glob("*.j2")):
        # Only the text the template writes itself, not its expressions.
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", path.read_text(encoding="utf-8"), flags=re.S)
        found += [f"{path.name}: {name}" for name, p in PATTERNS.items() if p.search(text)]
    assert found == []


def test_no_module_keeps_its_own_list_of_rpcs() -> None:
    rpc_names = set(contract.ENGRAM_RPC_NAMES)
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.List | ast.Tuple | ast.Set):
                names = {
                    e.value
                    for e in node.elts
                    if isinstance(e, ast.Constant) and e.value in rpc_names
                }
                if len(names) >= 3:
                    found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert found == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('HEADER = "x-engram-memory-space"\n', [(1, "SPACE_HEADER")]),
        ('f"{x}.memory_space_id is wrong"\n', [(1, "SPACE_FIELD")]),
        ('NAME = "default_memory_space_id"\n', []),
        ('"""The `memory_space_id` field, in a docstring."""\n', []),
        ('SERVICE = "engram.v1.EngramService"\n', [(1, "ENGRAM_SERVICE")]),
        ('NAME = "EngramService"\n', [(1, "ENGRAM_SERVICE_NAME")]),
    ],
)
def test_the_scan_finds_literals_and_only_them(
    source: str, expected: list[tuple[int, str]]
) -> None:
    assert contract_literals(source) == expected
