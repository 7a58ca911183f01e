"""The stages import one way: schema <- server <- client <- compat; report imports no stage.

Read from the modules' source with `ast` (every `import`, at module level or inside a
function), so a lazy import inside a command handler counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TOOLKIT = Path(__file__).resolve().parents[2] / "toolkit"
STAGES = ("schema", "server", "client", "compat", "report")
# What each stage may import of the others (shared modules such as contract, errors, tools,
# documents and generated are not stages and are open to all).
ALLOWED: dict[str, frozenset[str]] = {
    "schema": frozenset(),
    "server": frozenset({"schema"}),
    "client": frozenset({"schema", "server"}),
    "compat": frozenset({"schema", "server", "client"}),
    "report": frozenset(),
}


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name `path` imports (`from a.b import c` gives `a.b` and `a.b.c`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) >= 2 and parts[0] == "toolkit" and parts[1] in STAGES:
        return parts[1]
    return None


def violations(stage: str, root: Path = TOOLKIT) -> list[str]:
    wrong: list[str] = []
    for path in sorted((root / stage).rglob("*.py")):
        for module in sorted(imported_modules(path)):
            other = stage_of(module)
            if other is not None and other != stage and other not in ALLOWED[stage]:
                wrong.append(f"{path.relative_to(root.parent)} imports {module}")
    return wrong


def test_the_graph_names_every_stage() -> None:
    packages = {p.name for p in TOOLKIT.iterdir() if (p / "__init__.py").is_file()}
    assert set(STAGES) <= packages


@pytest.mark.parametrize(
    "stage",
    [
        "schema",
        "server",
        "client",
        "compat",
        "report",
    ],
)
def test_stage_imports_only_what_precedes_it(stage: str) -> None:
    assert violations(stage) == []


def test_the_check_fails_on_a_backward_import_even_a_lazy_one(tmp_path: Path) -> None:
    server = tmp_path / "toolkit" / "server"
    server.mkdir(parents=True)
    (server / "ok.py").write_text("from toolkit.schema.pool import load_schema\n")
    (server / "lazy.py").write_text("def f():\n    from toolkit.client import space_channel\n")
    (server / "plain.py").write_text("import toolkit.compat.calls\n")
    assert violations("server", tmp_path / "toolkit") == [
        "toolkit/server/lazy.py imports toolkit.client",
        "toolkit/server/lazy.py imports toolkit.client.space_channel",
        "toolkit/server/plain.py imports toolkit.compat.calls",
    ]
