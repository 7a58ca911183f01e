"""The plan is drawn from the seed: the same seed gives the same plan on every run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from toolkit.rehearse.plan import ORDERS, Order, build_plan, plan_lines

PRINT_PLAN = (
    "from toolkit.rehearse.plan import build_plan, plan_lines;"
    "print('\\n'.join(plan_lines(build_plan(7, 'random', 5, rollback=True))))"
)


@pytest.mark.parametrize("order", ORDERS)
def test_the_same_seed_gives_the_same_plan(order: Order) -> None:
    first = build_plan(42, order, 4, rollback=True)
    assert build_plan(42, order, 4, rollback=True) == first
    assert plan_lines(build_plan(42, order, 4, rollback=True)) == plan_lines(first)


def test_the_plan_is_the_same_in_another_process() -> None:
    """No dependence on hash randomisation or anything else of one process."""
    expected = "\n".join(plan_lines(build_plan(7, "random", 5, rollback=True)))
    printed = subprocess.run(
        [sys.executable, "-c", PRINT_PLAN], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert printed == expected


def test_seeds_draw_different_plans() -> None:
    plans = {build_plan(seed, "random", 4, rollback=True).steps for seed in range(20)}
    assert len(plans) > 1


def test_orders_place_the_steps_as_named() -> None:
    servers_first = [s.action for s in build_plan(1, "servers-first", 3, rollback=False).steps]
    clients_first = [s.action for s in build_plan(1, "clients-first", 3, rollback=False).steps]
    assert servers_first == ["upgrade"] * 3 + ["move_cohort"] * 2
    assert clients_first == ["move_cohort"] * 2 + ["upgrade"] * 3
    with_rollback = build_plan(1, "servers-first", 3, rollback=True).steps
    assert [s.action for s in with_rollback[-3:]] == ["move_back", "move_back", "rollback"]
    assert [s.number for s in with_rollback] == list(range(1, len(with_rollback) + 1))
