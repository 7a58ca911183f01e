"""Fixed results documents (per the results contract) and helpers for the report tests.

`documents/` holds three results documents: `rollout` (the real migration: compatible, servers
first), `breaking` (a renumbered field that misroutes, failed checks, a failed matrix cell) and
`accepted` (an accepted JSON-breaking rename, no rollout order). `golden/` holds what they
render to; `ENGRAM_UPDATE_GOLDEN=1 python -m pytest tests/report` rewrites it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from toolkit.documents.results import ResultsDocument

HERE = Path(__file__).parent
DOCUMENTS = HERE / "documents"
GOLDEN = HERE / "golden"
CASES = ("rollout", "breaking", "accepted")
UPDATE_GOLDEN = os.environ.get("ENGRAM_UPDATE_GOLDEN") == "1"


def load_document(case: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DOCUMENTS / f"{case}.json").read_text(encoding="utf-8"))
    return loaded


def typed(document: dict[str, Any]) -> ResultsDocument:
    """A results document as the report stage reads it: validated, then typed."""
    return ResultsDocument.from_dict(document, "test document")


def write_json(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_stage_documents(
    reports: Path,
    results: dict[str, Any],
    *,
    schema: bool = True,
    compat: bool = True,
    drift: bool = True,
    lint: bool = True,
    rehearsal: bool = True,
) -> Path:
    """Write the stage documents (drift, lint, schema, compat, and the rehearsal when the
    results document has one) it was merged from; a stage turned off writes nothing, as when it
    crashed or did not run."""
    stages = (("drift", drift), ("lint", lint), ("schema", schema), ("compat", compat))
    for stage, wanted in stages:
        if wanted:
            write_json(reports / f"{stage}.json", results[stage])
    if rehearsal and results.get("rehearsal") is not None:
        write_json(reports / "rehearsal.json", results["rehearsal"])
    return reports


def before_timings(markdown: str) -> str:
    """Everything of a Markdown report except its Timings section (always the last)."""
    head, marker, _ = markdown.partition("\n## Timings\n")
    assert marker, "the report has no Timings section"
    return head


def check_golden(path: Path, actual: str, *, update: bool = UPDATE_GOLDEN) -> None:
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with ENGRAM_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{path.name} differs from the golden file; if the change is intended, "
        "rerun with ENGRAM_UPDATE_GOLDEN=1 and review the diff"
    )
