"""The BREAKING report, rendered in headless Chromium: the verdict, the stage strip and the first
failure are on the first screen (inside the first 1,000 px), and the whole page is saved."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.support import load_document, typed
from toolkit.report.browser import FIRST_SCREEN, find_chromium, measure, screenshot
from toolkit.report.output import render_reports

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (apt-get install -y chromium)"
)


@needs_chromium
def test_the_first_screen_of_a_breaking_report_decides(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    html = render_reports(typed(load_document("breaking"))).html
    positions = measure(html, CHROMIUM, tmp_path)
    for name in ("verdict", "stages", "first_failure", "matrix"):
        top = positions.tops[name]
        assert top is not None, f"no {name} on the page"
        assert top < FIRST_SCREEN, f"{name} starts at {top:.0f} px"
    assert positions.tops["verdict"] < positions.tops["stages"] < positions.tops["first_failure"]  # type: ignore[operator]


@needs_chromium
def test_the_measure_sees_a_failure_pushed_below_the_first_screen(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    html = render_reports(typed(load_document("breaking"))).html
    pushed = html.replace(
        '<section class="glance"', '<div style="height:1200px"></div>\n<section class="glance"', 1
    )
    positions = measure(pushed, CHROMIUM, tmp_path)
    first_failure = positions.tops["first_failure"]
    assert first_failure is not None and first_failure > FIRST_SCREEN


@needs_chromium
def test_the_whole_page_is_saved_full_height(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    page = tmp_path / "report.html"
    page.write_text(render_reports(typed(load_document("breaking"))).html, encoding="utf-8")
    png = tmp_path / "report.png"
    positions = screenshot(page, png, CHROMIUM)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height = int.from_bytes(png.read_bytes()[20:24], "big")  # the IHDR height
    assert height == min(16_000, round(positions.height)) > FIRST_SCREEN
