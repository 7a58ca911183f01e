"""Fixtures of the report tests (see support.py for the fixed documents and golden files)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.report.support import load_document


@pytest.fixture
def document() -> Callable[[str], dict[str, Any]]:
    """A fresh, mutable copy of one fixed results document."""
    return lambda case: copy.deepcopy(load_document(case))
