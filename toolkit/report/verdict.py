"""The verdict of a migration, from a results document.

BREAKING when the schema is incompatible, the declared version is too low, a runtime check or a
matrix cell failed, or a stage document is missing (the migration is then not shown safe).
SAFE WITH ROLLOUT ORDER when safe, but old servers ignore the new field (servers go first).
SAFE otherwise. Exit code: 0 for both safe verdicts; 1 when a present part shows a problem;
2 when the only reason is a missing part (nothing could be judged wrong, nor shown right).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from toolkit.errors import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE

SAFE = "SAFE"
SAFE_WITH_ROLLOUT_ORDER = "SAFE WITH ROLLOUT ORDER"
BREAKING = "BREAKING"


@dataclass(frozen=True)
class Reason:
    """One fact behind the verdict; `kind` selects the sentence in the templates."""

    kind: str  # part_missing | schema_incompatible | version_too_low | checks_failed
    # | matrix_failed | rollout_hazard | rollout_rule
    items: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    label: str
    anchor: str
    reasons: tuple[Reason, ...]
    missing_parts: tuple[str, ...]
    exit_code: int

    @property
    def breaking(self) -> bool:
        return self.label == BREAKING


def _unaccepted_breaking(schema: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        sorted(
            {
                change["element"]
                for change in schema["changes"]
                if change["breaking"] and change["accepted"] is None
            }
        )
    )


def _problems(schema: dict[str, Any] | None, compat: dict[str, Any] | None) -> list[Reason]:
    found: list[Reason] = []
    if schema is not None:
        if schema["verdict"] == "incompatible":
            found.append(Reason("schema_incompatible", _unaccepted_breaking(schema)))
        too_low = tuple(
            f"{policy['declared']}<{policy['minimum_version']}"
            for policy in schema["version_policy"]
            if not policy["satisfied"]
        )
        if too_low:
            found.append(Reason("version_too_low", too_low))
    if compat is not None:
        failed = tuple(c["id"] for c in compat["checks"] if c["outcome"] == "failed")
        if failed or compat["verdict"] == "failed":
            found.append(Reason("checks_failed", failed))
        cells = tuple(
            f"{cell['client']}->{cell['server']}" for cell in compat["matrix"] if not cell["passed"]
        )
        if cells:
            found.append(Reason("matrix_failed", cells))
    return found


def _rollout(schema: dict[str, Any] | None, compat: dict[str, Any] | None) -> list[Reason]:
    found: list[Reason] = []
    if schema is not None and schema["hazards"]:
        found.append(Reason("rollout_hazard", tuple(sorted(h["id"] for h in schema["hazards"]))))
    if compat is not None and compat["rollout"]:
        found.append(Reason("rollout_rule", tuple(sorted(r["id"] for r in compat["rollout"]))))
    return found


def judge(results: dict[str, Any]) -> Verdict:
    schema, compat = results["schema"], results["compat"]
    missing = tuple(part for part in ("schema", "compat") if results[part] is None)
    problems = _problems(schema, compat)
    if problems or missing:
        reasons = [Reason("part_missing", missing)] if missing else []
        return Verdict(
            label=BREAKING,
            anchor="breaking",
            reasons=tuple(reasons + problems),
            missing_parts=missing,
            exit_code=EXIT_FAILED if problems else EXIT_UNUSABLE,
        )
    rollout = _rollout(schema, compat)
    if rollout:
        return Verdict(SAFE_WITH_ROLLOUT_ORDER, "safe-with-rollout-order", tuple(rollout), (), 0)
    return Verdict(SAFE, "safe", (), (), EXIT_OK)
