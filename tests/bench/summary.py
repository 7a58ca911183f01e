"""Print every benchmark target of reports/bench.json as met or missed; exit 1 when one missed."""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.bench.common import BENCH_FILE


def targets(document: dict[str, Any]) -> list[tuple[str, bool]]:
    found: list[tuple[str, bool]] = []
    for section, figures in sorted(document.items()):
        met = figures.get("met")
        if isinstance(met, dict):
            found.extend((f"{section}.{name}", bool(ok)) for name, ok in sorted(met.items()))
        elif met is not None:
            found.append((section, bool(met)))
    return found


def main() -> int:
    if not BENCH_FILE.exists():
        print(f"{BENCH_FILE}: no benchmark figures were written", file=sys.stderr)
        return 1
    results = targets(json.loads(BENCH_FILE.read_text()))
    for name, ok in results:
        print(f"{'met   ' if ok else 'MISSED'} {name}")
    return 0 if results and all(ok for _, ok in results) else 1


if __name__ == "__main__":
    sys.exit(main())
