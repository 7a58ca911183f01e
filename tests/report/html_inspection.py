"""Read a rendered HTML report the way the tests need: structure, URLs, what is marked failing."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
# SVG shapes are written self-closing (`<rect .../>`); HTMLParser reports them as startendtag.
DOCUMENTATION = (
    "https://keepachangelog.com/",
    "https://semver.org/",
    "https://buf.build/docs/",
    "https://protobuf.dev/",
    "https://grpc.io/docs/",
)
FORBIDDEN_TAGS = frozenset({"script", "link", "iframe", "object", "embed", "img"})


@dataclass
class Inspection(HTMLParser):
    open_tags: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    classes_by_id: dict[str, set[str]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    styles: list[str] = field(default_factory=list)
    svg_groups: list[set[str]] = field(default_factory=list)
    _in_style: bool = False

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)
        if tag not in VOID:
            self.open_tags.append(tag)
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._element(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False
        if tag in VOID:
            return
        if not self.open_tags or self.open_tags[-1] != tag:
            self.problems.append(
                f"</{tag}> closes <{self.open_tags[-1] if self.open_tags else ''}>"
            )
            return
        self.open_tags.pop()

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)

    def _element(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = {name: value or "" for name, value in attrs}
        for name in ("src", "href", "xlink:href", "action", "poster", "data"):
            if name in values:
                self.urls.append(values[name])
        classes = set(values.get("class", "").split())
        if "id" in values:
            self.classes_by_id[values["id"]] = classes
        if tag == "g":
            self.svg_groups.append(classes)
        if "style" in values:
            self.styles.append(values["style"])

    def external_urls(self) -> list[str]:
        return [
            url
            for url in self.urls
            if not url.startswith("#") and not url.startswith(DOCUMENTATION)
        ]

    def external_resources(self) -> list[str]:
        found = [f"<{tag}>" for tag in self.tags if tag in FORBIDDEN_TAGS]
        found += [s for s in self.styles if "url(" in s or "@import" in s]
        return found


def inspect(html: str) -> Inspection:
    inspection = Inspection()
    inspection.feed(html)
    inspection.close()
    if inspection.open_tags:
        inspection.problems.append(f"never closed: {inspection.open_tags}")
    return inspection
