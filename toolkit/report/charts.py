"""The geometry of the report's pictures: small bar charts of counts and the rehearsal timeline.

Plain numbers (positions, sizes, colours) for the HTML template to draw as inline SVG; no text
for people beyond the labels the stage documents give (statuses, outcomes, step numbers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from toolkit.documents.rehearsal import RehearsalRun

GOOD, BAD, WARN, NEUTRAL, INFO = "#2da44e", "#cf222e", "#bf8700", "#8c959f", "#0969da"
# The colour of a status or outcome; an unknown one is shown as a warning, never as good.
COLOURS = {
    "breaking": BAD,
    "failed": BAD,
    "accepted": WARN,
    "partial": WARN,
    "not_run": NEUTRAL,
    "compatible": GOOD,
    "passed": GOOD,
    "IDENTICAL": GOOD,
    "PARSE_ERROR": BAD,
    "LOST": BAD,
    "CHANGED": BAD,
    "MISROUTED": BAD,
}
# Other outcomes (expected differences), in the order they first appear.
PALETTE = ("#bf8700", "#8250df", "#1f6feb", "#bc4c00", "#57606a")
LABEL_W, BAR_W, ROW_H, BAR_H, TOTAL_W, LEGEND_H = 150, 260, 26, 16, 50, 22


@dataclass(frozen=True)
class Segment:
    label: str
    count: int
    colour: str
    x: int
    width: int


@dataclass(frozen=True)
class Bar:
    label: str
    total: int
    y: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str  # what is counted, e.g. "schema elements by status"
    width: int
    height: int
    bars: tuple[Bar, ...]
    legend: tuple[tuple[str, str, int], ...]  # label, colour, x


def colour(status: str) -> str:
    return COLOURS.get(status, WARN)


def bar_chart(
    chart_id: str, title: str, rows: Sequence[tuple[str, Sequence[tuple[str, int]]]]
) -> BarChart:
    """One horizontal bar per row, split into its (label, count) segments; bars share a scale."""
    biggest = max((sum(n for _, n in segments) for _, segments in rows), default=0) or 1
    bars = []
    for index, (label, segments) in enumerate(rows):
        x = LABEL_W
        parts = []
        for name, count in segments:
            if count <= 0:
                continue
            width = max(2, round(BAR_W * count / biggest))
            parts.append(Segment(name, count, colour(name), x, width))
            x += width
        bars.append(Bar(label, sum(n for _, n in segments), index * ROW_H, tuple(parts)))
    names = list(dict.fromkeys(s.label for b in bars for s in b.segments))
    tints = _tints(names)
    bars = [
        Bar(b.label, b.total, b.y, tuple(_retint(s, tints[s.label]) for s in b.segments))
        for b in bars
    ]
    legend, x = [], LABEL_W
    if any(len(b.segments) > 1 for b in bars):
        for name in names:
            legend.append((name, tints[name], x))
            x += 22 + 8 * len(name)
    width = max(LABEL_W + BAR_W + TOTAL_W, x)
    height = len(bars) * ROW_H + (LEGEND_H if legend else 0) + 4
    return BarChart(chart_id, title, width, height, tuple(bars), tuple(legend))


def _tints(names: Sequence[str]) -> dict[str, str]:
    """Known statuses keep their colour; the others get distinct ones from the palette."""
    others = [n for n in names if n not in COLOURS]
    tints = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(others)}
    return {n: COLOURS.get(n, tints.get(n, WARN)) for n in names}


def _retint(segment: Segment, tint: str) -> Segment:
    return Segment(segment.label, segment.count, tint, segment.x, segment.width)


def counted(statuses: Iterable[str], order: Sequence[str]) -> list[tuple[str, int]]:
    """Counts in the given order, then any other value (failing first, passing last)."""
    counts = Counter(statuses)
    known = [(name, counts.pop(name, 0)) for name in order]
    return [*sorted(counts.items()), *known] if counts else known


@dataclass(frozen=True)
class TimelineBar:
    series: str  # acknowledged | misplaced | lost | failed
    count: int
    colour: str
    x: int
    y: int
    height: int


@dataclass(frozen=True)
class TimelineStep:
    number: int
    action: str
    description: str
    x: int  # the centre of its column
    bars: tuple[TimelineBar, ...]


@dataclass(frozen=True)
class Timeline:
    order: str
    width: int
    height: int
    plot_top: int
    plot_bottom: int
    steps: tuple[TimelineStep, ...]
    scale: int  # the count at the top of the plot


SERIES = (("acknowledged", INFO), ("misplaced", WARN), ("lost", BAD), ("failed", NEUTRAL))
T_LEFT, T_COLUMN, T_BAR, T_TOP, T_PLOT, T_BOTTOM = 56, 84, 12, 28, 120, 40


def timeline(run: RehearsalRun) -> Timeline:
    """The writes of each step of one rehearsed order: acknowledged, misplaced, lost, failed."""
    scale = max((s.writes.acknowledged + s.writes.failed for s in run.steps), default=0) or 1
    bottom = T_TOP + T_PLOT
    steps = []
    for index, step in enumerate(run.steps):
        left = T_LEFT + index * T_COLUMN + (T_COLUMN - len(SERIES) * T_BAR) // 2
        bars = []
        for n, (series, tint) in enumerate(SERIES):
            count = int(getattr(step.writes, series))
            height = 0 if count == 0 else max(2, round(T_PLOT * count / scale))
            bars.append(TimelineBar(series, count, tint, left + n * T_BAR, bottom - height, height))
        steps.append(
            TimelineStep(
                step.number,
                step.action,
                step.description,
                T_LEFT + index * T_COLUMN + T_COLUMN // 2,
                tuple(bars),
            )
        )
    width = T_LEFT + max(1, len(run.steps)) * T_COLUMN + 8
    return Timeline(run.order, width, bottom + T_BOTTOM, T_TOP, bottom, tuple(steps), scale)
