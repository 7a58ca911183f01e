"""Accepted changes: a TOML file of change ids that may break, each with a reason and an
optional expiry date. An accepted change does not fail the check; an expired acceptance
accepts nothing; acceptances that match no change are reported as unused.

    [[accept]]
    id = "engram.v1.ForgetRequest.memory_id:number"
    reason = "no client ever sent memory_id; confirmed from access logs"
    expires = 2026-06-30
"""

from __future__ import annotations

import dataclasses
import datetime
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from toolkit.documents.schema import Acceptance, AcceptanceUse, Change
from toolkit.errors import ToolkitError


class AcceptanceFileError(ToolkitError):
    """The acceptance file is unreadable or an entry lacks an id or reason."""


@dataclass(frozen=True)
class AcceptanceEntry:
    id: str
    reason: str
    expires: datetime.date | None

    @property
    def expires_text(self) -> str | None:
        return self.expires.isoformat() if self.expires else None

    def as_acceptance(self) -> Acceptance:
        return Acceptance(self.reason, self.expires_text)

    def expired(self, today: datetime.date) -> bool:
        return self.expires is not None and self.expires < today


def _date(value: object, where: str) -> datetime.date | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise AcceptanceFileError(f"{where}: expires must be a date (YYYY-MM-DD), got {value!r}")


def read_acceptances(path: Path) -> list[AcceptanceEntry]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AcceptanceFileError(f"{path}: cannot read ({exc.strerror})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AcceptanceFileError(f"{path}: not valid TOML ({exc})") from exc
    entries = document.get("accept", [])
    unknown = set(document) - {"accept"}
    if unknown or not isinstance(entries, list):
        raise AcceptanceFileError(f"{path}: expected only [[accept]] tables")
    found: list[AcceptanceEntry] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: [[accept]] entry {number}"
        if not isinstance(entry, dict):
            raise AcceptanceFileError(f"{where}: not a table")
        change_id, reason = entry.get("id"), entry.get("reason")
        if not isinstance(change_id, str) or not change_id:
            raise AcceptanceFileError(f"{where}: missing id")
        if not isinstance(reason, str) or not reason.strip():
            raise AcceptanceFileError(f"{where} ({change_id}): missing reason")
        found.append(AcceptanceEntry(change_id, reason.strip(), _date(entry.get("expires"), where)))
    return found


def apply_acceptances(
    changes: Sequence[Change], entries: Sequence[AcceptanceEntry], today: datetime.date
) -> tuple[list[Change], list[AcceptanceUse]]:
    """Mark accepted changes; report every acceptance as used, unused or expired."""
    active = {e.id: e for e in entries if not e.expired(today)}
    marked = [
        dataclasses.replace(change, accepted=active[change.id].as_acceptance())
        if change.id in active
        else change
        for change in changes
    ]
    present = {change.id for change in changes}
    uses = [
        AcceptanceUse(
            id=entry.id,
            reason=entry.reason,
            expires=entry.expires_text,
            status="expired"
            if entry.expired(today)
            else ("used" if entry.id in present else "unused"),
        )
        for entry in entries
    ]
    return marked, uses
