"""`engram-compat schema-doc NAME`: print a stage document's packaged JSON Schema."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from toolkit.documents.base import (
    DOCUMENT_NAMES,
    dump_json,
    json_schema,
    json_schema_bundle,
    json_schema_text,
)
from toolkit.errors import EXIT_OK


def register(subparsers: Any) -> None:
    schema_doc = subparsers.add_parser(
        "schema-doc",
        help="print the JSON Schema of a document (" + ", ".join(DOCUMENT_NAMES) + ")",
        description="Print the packaged JSON Schema (draft 2020-12) of one document of "
        "reports/; every document carries its `$schema` id and `schema_version`. The results "
        "schema refers to the stage documents' schemas: they are printed embedded in it "
        "(under `$defs`, each with its own `$id`), so a validator needs nothing else.",
    )
    schema_doc.add_argument("document", choices=DOCUMENT_NAMES, help="which document")
    schema_doc.set_defaults(func=run_schema_doc)


def run_schema_doc(args: argparse.Namespace) -> int:
    bundle = json_schema_bundle(args.document)
    shipped = bundle is json_schema(args.document)
    sys.stdout.write(json_schema_text(args.document) if shipped else dump_json(bundle))
    return EXIT_OK
