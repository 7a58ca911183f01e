"""One typed definition per stage document (schema, compat, drift, lint, results).

The bottom layer: it imports nothing from `toolkit.schema`, `server`, `client`, `compat` or
`report`. A stage writes its document through the definition here; the report stage reads the
results document back through `from_dict`, after JSON Schema validation. The JSON Schemas ship
as package data in `schemas/`, one file per document (`engram-compat schema-doc NAME`).
"""
