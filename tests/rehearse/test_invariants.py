"""Each verdict of the invariant check, shown on hand-made fleet contents."""

from __future__ import annotations

from toolkit.contract import DEFAULT_SPACE
from toolkit.rehearse.invariants import Verdict, judge
from toolkit.rehearse.workload import Write

LEGACY = Write("l-1", "legacy1", DEFAULT_SPACE, True, 1, 1.0)
NEW = Write("n-1", "c1a", "tenant-c1a", False, 2, 2.0)


def test_a_write_in_its_own_space_is_ok() -> None:
    contents = {"s1": {DEFAULT_SPACE: frozenset({"l-1"}), "tenant-c1a": frozenset({"n-1"})}}
    assert judge(LEGACY, contents) is Verdict.OK
    assert judge(NEW, contents) is Verdict.OK


def test_a_new_clients_write_in_the_default_space_is_misplaced() -> None:
    contents = {"s1": {DEFAULT_SPACE: frozenset({"n-1"})}, "s2": {"tenant-c1a": frozenset()}}
    assert judge(NEW, contents) is Verdict.MISPLACED


def test_a_write_also_visible_from_another_space_is_misplaced() -> None:
    contents = {"s1": {"tenant-c1a": frozenset({"n-1"})}, "s2": {"tenant-x": frozenset({"n-1"})}}
    assert judge(NEW, contents) is Verdict.MISPLACED


def test_a_write_found_nowhere_is_lost_unless_a_rolled_back_server_held_it() -> None:
    contents = {"s1": {DEFAULT_SPACE: frozenset()}}
    assert judge(LEGACY, contents) is Verdict.LOST
    assert judge(LEGACY, contents, [frozenset({"l-1"})]) is Verdict.ROLLBACK_UNSAFE
    assert judge(LEGACY, contents, [], [(0.5, 1.5)]) is Verdict.ROLLBACK_UNSAFE
    assert judge(LEGACY, contents, [], [(1.5, 2.5)]) is Verdict.LOST
