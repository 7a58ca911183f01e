"""The check scales linearly where it once was quadratic (a 5 MB schema took minutes): each
step is run at one size and at four times that size, and the records it reads are counted, not
timed. Linear work reads about four times as many; work per element over every change (or
every replay record) reads sixteen times as many."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from toolkit.documents.schema import Change, ReplayResult
from toolkit.schema.buf import BufFinding
from toolkit.schema.check import _replay_changes
from toolkit.schema.diff import Names
from toolkit.schema.elements import SchemaIndex
from toolkit.schema.fold import fold_buf_findings
from toolkit.schema.kinds import change_of_kind
from toolkit.schema.replay import ReplayRun

SIZE = 60
# Linear reads grow 4x from SIZE to 4 * SIZE; a quadratic step grows 16x. Generous.
GROWTH_LIMIT = 8.0
FILE = "bench/v1/bench.proto"


@contextmanager
def counted(monkeypatch: pytest.MonkeyPatch, *kinds: type) -> Iterator[list[int]]:
    """Count every attribute read on instances of `kinds` inside the block."""
    reads = [0]
    with monkeypatch.context() as patch:
        for kind in kinds:

            def reading(self: Any, name: str, _kind: type = kind) -> Any:
                reads[0] += 1
                return object.__getattribute__(self, name)

            patch.setattr(kind, "__getattribute__", reading, raising=False)
        yield reads


def removed(i: int) -> Change:
    return change_of_kind(
        "field_removed",
        change_id=f"bench.v1.Msg{i}.score:removed",
        baseline="base",
        element=f"bench.v1.Msg{i}.score",
        message=f"bench.v1.Msg{i}",
        file=FILE,
        line=10 * i + 1,
        before="double score = 6",
    )


def growth(monkeypatch: pytest.MonkeyPatch, step: Callable[[int], object], *kinds: type) -> float:
    counts = []
    for size in (SIZE, 4 * SIZE):
        with counted(monkeypatch, *kinds) as reads:
            step(size)
        counts.append(reads[0])
    assert counts[0] > 0, "the step read nothing: the count cannot tell"
    return counts[1] / counts[0]


def fold(size: int) -> list[Change]:
    changes = [removed(i) for i in range(size)]
    # Half the findings sit on a change's line, half on lines no change starts at.
    findings = [
        BufFinding("FIELD_NO_DELETE", FILE, 10 * i + 1 + (i % 2) * 5, 3, f'"{i}" deleted')
        for i in range(size)
    ]
    return fold_buf_findings(changes, findings, SchemaIndex(), "base")


def replay_changes(size: int) -> list[Change]:
    # Every other message has a change explaining its replay outcome; the rest do not.
    changes = [removed(i) for i in range(0, size, 2)]
    results = tuple(
        ReplayResult("base", direction, f"bench.v1.Msg{i}", "LOST", 1, ())
        for i in range(size)
        for direction in ("old_to_new", "new_to_old")
    )
    run = ReplayRun(results, frozenset(f"bench.v1.Msg{i}.blob" for i in range(size)), ())
    return _replay_changes(run, changes, (SchemaIndex(), SchemaIndex()), Names(()), "base")


def test_folding_buf_findings_reads_each_change_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert growth(monkeypatch, fold, Change) < GROWTH_LIMIT


def test_replay_changes_read_each_change_and_record_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert growth(monkeypatch, replay_changes, Change, ReplayResult) < GROWTH_LIMIT


def test_the_scaled_steps_still_do_their_work() -> None:
    """The counted inputs are not trivial: findings fold into changes, and replay outcomes
    no change explains become changes of their own (those with a change do not)."""
    folded = fold(4)
    assert [c.buf_rules for c in folded[:4]] == [("FIELD_NO_DELETE",), (), ("FIELD_NO_DELETE",), ()]
    (unexplained,) = folded[4:]  # the two findings on lines no change starts at
    assert unexplained.kind == "buf_finding"
    assert unexplained.buf_messages == ('"1" deleted', '"3" deleted')
    extra = replay_changes(4)
    assert sorted({c.element for c in extra}) == ["bench.v1.Msg1.blob", "bench.v1.Msg3.blob"]
    assert {c.kind for c in extra} == {"wire_replay_backward", "wire_replay_forward"}
