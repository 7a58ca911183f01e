"""The record of `reports/drift.json`: do the committed stubs match what the schemas generate?

Written by `engram-compat stubs --check --json FILE`; read by the report stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from toolkit.documents.base import Document

DRIFT_VERSION = 1
DRIFT_KIND = "engram-compat/drift"


@dataclass(frozen=True)
class DriftDocument(Document):
    """Files under `toolkit/generated/` that differ from freshly generated stubs."""

    SCHEMA_NAME: ClassVar[str] = "drift"
    KIND: ClassVar[str] = DRIFT_KIND
    SCHEMA_VERSION: ClassVar[int] = DRIFT_VERSION

    duration_s: float
    verdict: Literal["passed", "failed"]
    changed: tuple[str, ...]
    missing: tuple[str, ...]
    unexpected: tuple[str, ...]
