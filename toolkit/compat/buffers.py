"""STREAM_BACKPRESSURE's byte figures: what a target states of its subscriber buffers
(`BUFFER_BOUND_HEADER`, `BUFFER_PEAK_HEADER` in Introspect's trailing metadata) and how much the
check writes past a stalled subscriber because of them."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.compat.calls import NewClient
from toolkit.contract import BUFFER_BOUND_HEADER, BUFFER_PEAK_HEADER

# The stalled space gets FILL_TIMES_BOUND x the target's subscriber byte bound each round, in
# events of 1/EVENTS_PER_BOUND of the bound within these sizes, never more than MAX_FILL_BYTES.
FILL_TIMES_BOUND = 3
EVENTS_PER_BOUND = 32
MIN_EVENT_BYTES = 1024
MAX_EVENT_BYTES = 64 * 1024
MAX_FILL_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Fill:
    """What is written to the stalled space each round: `events` memories of `size` bytes."""

    events: int
    size: int

    @property
    def total(self) -> int:
        return self.events * self.size


@dataclass(frozen=True)
class BufferFigures:
    """What a target's Introspect says of one space's subscriber buffers (contract headers)."""

    bound: int  # the byte bound of one subscriber's buffer
    peak: int  # the most bytes one buffer of the space's subscribers has held at once


def buffer_figures(client: NewClient) -> BufferFigures | None:
    """The space's buffer figures, or None when the target does not send them."""
    outcome = client.call("Introspect", client.request("Introspect"))
    bound, peak = outcome.header(BUFFER_BOUND_HEADER), outcome.header(BUFFER_PEAK_HEADER)
    if not outcome.ok or bound is None or peak is None:
        return None
    try:
        figures = BufferFigures(int(bound), int(peak))
    except ValueError:
        return None
    # A bound of no bytes or a negative figure states nothing that can be verified.
    return figures if figures.bound > 0 and figures.peak >= 0 else None


def fill_for(figures: BufferFigures | None, scale: float) -> Fill:
    """Events beyond any buffer: several times its byte bound, in events of at most
    1/EVENTS_PER_BOUND of it (so a buffer bounded only in events holds many times the bound),
    else (no figures) more events than a default 1024-event buffer holds."""
    if figures is None:
        return Fill(max(1200, int(3000 * scale)), 4096)
    size = min(MAX_EVENT_BYTES, max(MIN_EVENT_BYTES, figures.bound // EVENTS_PER_BOUND))
    total = min(MAX_FILL_BYTES, FILL_TIMES_BOUND * figures.bound)
    return Fill(-(-total // size), size)
