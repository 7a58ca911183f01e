"""`engram-compat schema-doc NAME`: print a stage document's packaged JSON Schema."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from toolkit.documents.base import DOCUMENT_NAMES, json_schema_text
from toolkit.errors import EXIT_OK


def register(subparsers: Any) -> None:
    schema_doc = subparsers.add_parser(
        "schema-doc",
        help="print the JSON Schema of a document (" + ", ".join(DOCUMENT_NAMES) + ")",
        description="Print the packaged JSON Schema (draft 2020-12) of one document of "
        "reports/; every document carries its `$schema` id and `schema_version`.",
    )
    schema_doc.add_argument("document", choices=DOCUMENT_NAMES, help="which document")
    schema_doc.set_defaults(func=run_schema_doc)


def run_schema_doc(args: argparse.Namespace) -> int:
    sys.stdout.write(json_schema_text(args.document))
    return EXIT_OK
