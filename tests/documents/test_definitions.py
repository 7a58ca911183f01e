"""Each document's dataclass and its packaged JSON Schema agree, and the round trip is exact."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, Union, get_args, get_origin

import jsonschema
import pytest

from tests.conftest import run_cli
from tests.report.support import CASES, load_document
from toolkit.documents.base import (
    DOCUMENT_NAMES,
    Document,
    DocumentError,
    json_schema,
    schema_id,
    validate,
)
from toolkit.documents.compat import CompatResults
from toolkit.documents.drift import DriftDocument
from toolkit.documents.lint import LintDocument
from toolkit.documents.rehearsal import RehearsalDocument
from toolkit.documents.results import ResultsDocument
from toolkit.documents.schema import SchemaReport

DOCUMENTS: dict[str, type[Document]] = {
    "results": ResultsDocument,
    "schema": SchemaReport,
    "compat": CompatResults,
    "drift": DriftDocument,
    "lint": LintDocument,
    "rehearsal": RehearsalDocument,
}
ENVELOPE = {"$schema", "schema_version", "kind"}


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Follow `$ref`s (local `#/$defs/...` or another document's `$id`) and pick the object
    branch of a `oneOf` with null."""
    while True:
        if "$ref" in node:
            ref = node["$ref"]
            if ref.startswith("#/$defs/"):
                node = root["$defs"][ref.removeprefix("#/$defs/")]
            else:
                (name,) = [n for n in DOCUMENT_NAMES if schema_id(n) == ref]
                root = json_schema(name)
                node = root
            continue
        if "oneOf" in node:
            (node,) = [b for b in node["oneOf"] if b.get("type") != "null"]
            continue
        return node, root


def _record_type(hint: Any) -> Any:
    """The dataclass inside `X`, `X | None` or `tuple[X, ...]`, else None."""
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(hint) if a is not type(None)]
        return _record_type(options[0]) if len(options) == 1 else None
    if origin is tuple:
        return _record_type(get_args(hint)[0])
    return hint if dataclasses.is_dataclass(hint) else None


def _disagreements(kind: type, node: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:
    node, root = _resolve(node, root)
    if node.get("type") == "array":
        node, root = _resolve(node["items"], root)
    fields = {f.name for f in dataclasses.fields(kind)}
    properties = set(node.get("properties", {}))
    required = set(node.get("required", []))
    if issubclass(kind, Document):
        properties -= ENVELOPE
        required -= ENVELOPE
    found = []
    if fields != properties:
        found.append(f"{path}: fields {sorted(fields ^ properties)} are in only one of the two")
    if fields != required:
        found.append(f"{path}: required {sorted(required)} != fields {sorted(fields)}")
    hints = typing.get_type_hints(kind)
    for name in sorted(fields & properties):
        inner = _record_type(hints[name])
        if inner is not None:
            found += _disagreements(inner, node["properties"][name], root, f"{path}.{name}")
    return found


def agreement(name: str, kind: type[Document]) -> list[str]:
    root = json_schema(name)
    found = _disagreements(kind, root, root, name)
    envelope = set(root["required"]) & ENVELOPE
    if envelope != ENVELOPE:
        found.append(f"{name}: the envelope {sorted(ENVELOPE - envelope)} is not required")
    if root["properties"]["$schema"] != {"const": root["$id"]}:
        found.append(f"{name}: $schema is not the schema's own $id")
    if root["properties"]["schema_version"] != {"const": kind.SCHEMA_VERSION}:
        found.append(f"{name}: schema_version differs from the dataclass's")
    if root["properties"]["kind"] != {"const": kind.KIND}:
        found.append(f"{name}: kind differs from the dataclass's")
    return found


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_each_dataclass_and_its_json_schema_agree(name: str) -> None:
    assert name == DOCUMENTS[name].SCHEMA_NAME
    assert agreement(name, DOCUMENTS[name]) == []


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_each_json_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    jsonschema.Draft202012Validator.check_schema(json_schema(name))


def test_the_agreement_check_fails_on_a_field_the_schema_lacks() -> None:
    @dataclasses.dataclass(frozen=True)
    class Wider(DriftDocument):
        renamed: str = ""

    assert agreement("drift", Wider) == [
        "drift: fields ['renamed'] are in only one of the two",
        "drift: required ['changed', 'duration_s', 'missing', 'unexpected', 'verdict'] != "
        "fields ['changed', 'duration_s', 'missing', 'renamed', 'unexpected', 'verdict']",
    ]


def test_the_agreement_check_fails_on_a_nested_record_that_differs() -> None:
    broken = json.loads(json.dumps(json_schema("lint")))
    broken["properties"]["tools"]["items"]["required"].remove("output")
    root = broken
    found = _disagreements(LintDocument, root, root, "lint")
    assert found == [
        "lint.tools: required ['command', 'exit_code', 'outcome', 'tool'] != "
        "fields ['command', 'exit_code', 'outcome', 'output', 'tool']"
    ]


@pytest.mark.parametrize("case", CASES)
def test_from_dict_builds_frozen_records_with_tuples_and_round_trips(case: str) -> None:
    data = load_document(case)
    results = ResultsDocument.from_dict(data)
    assert results.to_dict() == data
    assert results.schema is not None and results.compat is not None
    assert isinstance(results.schema.changes, tuple)
    assert isinstance(results.compat.checks[0].cases, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        results.schema.changes[0].breaking = True  # type: ignore[misc]


def test_every_document_carries_its_schema_id_and_version() -> None:
    data = load_document("rollout")
    for name in ("results", "schema", "compat", "drift", "lint"):
        document = data if name == "results" else data[name]
        assert document["$schema"] == schema_id(name), name
        assert document["schema_version"] == DOCUMENTS[name].SCHEMA_VERSION, name


def test_from_dict_refuses_a_document_of_another_kind() -> None:
    data = load_document("rollout")
    with pytest.raises(DocumentError, match=r"^compat\.json: "):
        SchemaReport.from_dict(data["compat"], "compat.json")
    nested = json.loads(json.dumps(data))
    nested["drift"]["verdict"] = "fine"
    with pytest.raises(DocumentError, match=r"drift\.verdict: 'fine' is not one of"):
        validate("results", nested, "results.json")


@pytest.mark.parametrize("name", DOCUMENT_NAMES)
def test_schema_doc_prints_each_packaged_schema(name: str) -> None:
    completed = run_cli(["schema-doc", name])
    assert completed.returncode == 0, completed.stderr
    printed = json.loads(completed.stdout)
    if name == "results":  # it refers to the stage documents: they are embedded
        embedded = {"drift", "lint", "schema", "compat", "rehearsal"}
        assert {k: v for k, v in printed.items() if k != "$defs"} == {
            k: v for k, v in json_schema(name).items() if k != "$defs"
        }
        assert all(printed["$defs"][other] == json_schema(other) for other in embedded)
    else:
        assert printed == json_schema(name)


def test_a_results_document_validates_against_the_printed_schema_alone() -> None:
    """A CI job validates results.json with `schema-doc results` and nothing else."""
    printed = json.loads(run_cli(["schema-doc", "results"]).stdout)
    validator = jsonschema.Draft202012Validator(printed)  # no registry: only what was printed
    document = load_document("rollout")
    assert not list(validator.iter_errors(document))
    broken = json.loads(json.dumps(document))
    broken["compat"]["checks"][0]["outcome"] = "sort of"
    assert list(validator.iter_errors(broken)), "a nested stage document is validated too"


def test_schema_doc_of_an_unknown_document_is_a_usage_error() -> None:
    completed = run_cli(["schema-doc", "bench"])
    assert completed.returncode == 2
    assert "invalid choice: 'bench'" in completed.stderr
