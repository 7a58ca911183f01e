"""GitHub Actions workflow commands (`::error file=…,line=…::message`), as buf's
`--error-format=github-actions` prints them: one line per finding, escaped, with the location
where it is known. Every stage prints its own failing findings through this one formatter."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

Level = Literal["error", "warning", "notice"]


@dataclass(frozen=True)
class Annotation:
    level: Level
    message: str
    title: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    end_column: int | None = None

    def render(self) -> str:
        properties = [
            (name, value)
            for name, value in (
                ("file", self.file),
                ("line", self.line),
                ("col", self.column),
                ("endLine", self.end_line),
                ("endColumn", self.end_column),
                ("title", self.title),
            )
            if value not in (None, "", 0)
            and (name == "title" or name == "file" or self.file)  # a line needs a file
            and (name in ("title", "file", "line") or self.line)  # columns need a line
        ]
        rendered = ",".join(f"{name}={escape_property(str(value))}" for name, value in properties)
        return f"::{self.level}{' ' + rendered if rendered else ''}::{escape_data(self.message)}"


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def in_github_actions() -> bool:
    """Annotations are printed automatically inside a GitHub Actions job."""
    return os.environ.get("GITHUB_ACTIONS", "").lower() == "true"
