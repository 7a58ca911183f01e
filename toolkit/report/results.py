"""The results document: merge the stage documents, validate against the packaged JSON Schema."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from toolkit import __version__
from toolkit.errors import ToolkitError
from toolkit.report.environment import Environment

RESULTS_SCHEMA_VERSION = 1
SCHEMA_FILE = "schema.json"
COMPAT_FILE = "compat.json"
RESULTS_FILE = "results.json"

# Which stage writes each part, so a missing part can be named with the stage that failed.
STAGE_OF_PART = {"schema": "schema", "compat": "compat"}


class ResultsError(ToolkitError):
    """A results or stage document is missing, unreadable or breaks its JSON Schema."""


@dataclass(frozen=True)
class Versions:
    baseline: str
    current: str


@dataclass(frozen=True)
class Timings:
    schema: float
    compat: float
    report: float


@cache
def results_json_schema() -> dict[str, Any]:
    """The JSON Schema of results.json, shipped as package data."""
    text = resources.files("toolkit.report").joinpath("results.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _validator(schema: dict[str, Any]) -> Any:
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _json_path(parts: Any) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _check(document: Any, schema: dict[str, Any], label: str) -> None:
    error = best_match(_validator(schema).iter_errors(document))
    if error is not None:
        raise ResultsError(f"{label}: {_json_path(error.absolute_path)}: {error.message}")


def validate_results(document: Any, label: str) -> None:
    """Raise ResultsError naming the first missing or wrong part of a results document."""
    _check(document, results_json_schema(), label)


def validate_part(document: Any, part: str, label: str) -> None:
    """Validate schema.json ("schema") or compat.json ("compat") against its definition."""
    full = results_json_schema()
    schema = {"$defs": full["$defs"], "$ref": f"#/$defs/{part}_document"}
    _check(document, schema, label)


def read_json(path: Path, label: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ResultsError(f"{label} is missing") from exc
    except OSError as exc:
        raise ResultsError(f"{label} cannot be read: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{label} is not JSON: line {exc.lineno}: {exc.msg}") from exc


def read_part(path: Path, part: str) -> dict[str, Any] | None:
    """A stage document, or None when the stage wrote none (it crashed or did not run)."""
    if not path.exists():
        return None
    document = read_json(path, str(path))
    validate_part(document, part, str(path))
    result: dict[str, Any] = document
    return result


def read_results(path: Path) -> dict[str, Any]:
    document = read_json(path, str(path))
    validate_results(document, str(path))
    result: dict[str, Any] = document
    return result


def versions_from(schema: dict[str, Any] | None, fallback: Versions) -> Versions:
    if schema is None:
        return fallback
    baselines = ", ".join(b["version"] for b in schema["baselines"]) or fallback.baseline
    return Versions(baseline=baselines, current=schema["current"]["version"])


def build_results(
    schema: dict[str, Any] | None,
    compat: dict[str, Any] | None,
    environment: Environment,
    versions: Versions,
    timings: Timings,
) -> dict[str, Any]:
    document = {
        "schema_version": RESULTS_SCHEMA_VERSION,
        "kind": "engram-compat/results",
        "generated_by": f"engram-compat {__version__}",
        "schema": schema,
        "compat": compat,
        "environment": asdict(environment),
        "versions": asdict(versions),
        "timings": asdict(timings),
    }
    validate_results(document, "merged results")
    return document


def dump_json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
