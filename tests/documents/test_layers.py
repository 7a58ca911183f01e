"""The import graph: `documents` at the bottom, `report` reads documents only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "toolkit"
# What each package may import from the toolkit (besides itself and `toolkit` for __version__).
ALLOWED = {
    "documents": ("toolkit.documents", "toolkit.errors"),
    # toolkit.project (where the project is, how it is configured) is shared by every stage.
    "report": (
        "toolkit.documents",
        "toolkit.contract",
        "toolkit.errors",
        "toolkit.tools",
        "toolkit.project",
    ),
}


def toolkit_imports(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "toolkit" or name.startswith("toolkit.")}


def forbidden(package: str, source: str) -> set[str]:
    allowed = (f"toolkit.{package}", *ALLOWED[package])
    return {
        name
        for name in toolkit_imports(source)
        if name != "toolkit" and not any(name == a or name.startswith(a + ".") for a in allowed)
    }


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_allows(package: str) -> None:
    offences = {
        path.relative_to(ROOT).as_posix(): sorted(found)
        for path in sorted((ROOT / package).rglob("*.py"))
        if (found := forbidden(package, path.read_text(encoding="utf-8")))
    }
    assert offences == {}


def test_the_layer_check_catches_a_report_module_importing_a_stage() -> None:
    source = "from toolkit.schema.pool import load_schema\nimport toolkit.documents.schema\n"
    assert forbidden("report", source) == {"toolkit.schema.pool"}
    assert forbidden("documents", "from toolkit.compat.checks import CHECKS\n") == {
        "toolkit.compat.checks"
    }
