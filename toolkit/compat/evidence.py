"""What a suite case expected, what it saw, and the facts behind it."""

from __future__ import annotations

from typing import Any


class CheckFailed(AssertionError):
    """A case's expectation did not hold; the message shows expected and seen."""


class Evidence:
    """Collected by one suite case; `verify` raises with expected vs seen when it fails."""

    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}
        self.expected: str | None = None
        self.observed: str | None = None
        self.not_verified: list[str] = []

    def partial(self, not_verified: str) -> None:
        """The case goes on, but cannot verify `not_verified`: its outcome is `partial`."""
        if not_verified not in self.not_verified:
            self.not_verified.append(not_verified)

    def record(self, **facts: Any) -> None:
        self.facts.update(facts)

    def verify(self, holds: bool, expected: str, observed: str) -> None:
        # A holding expectation was seen as stated; the failure text describes what was seen.
        self.expected, self.observed = expected, expected if holds else observed
        if not holds:
            raise CheckFailed(f"expected: {expected}\n    seen: {observed}")
