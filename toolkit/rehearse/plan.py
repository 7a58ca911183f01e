"""The rehearsal's plan: numbered steps drawn from a seed, printed before the run.

The same seed, fleet size, order and rollback flag give the same plan on every run, so a
failing rehearsal can be repeated exactly (`--seed`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Order = Literal["servers-first", "clients-first", "random"]
ORDERS: tuple[Order, ...] = ("servers-first", "clients-first", "random")
# The order the schema check predicts safe for this migration (HAZARD_SERVERS_FIRST).
EXPECTED_SAFE: Order = "servers-first"
Action = Literal["upgrade", "move_cohort", "move_back", "rollback"]
DEFAULT_COHORTS = 2


@dataclass(frozen=True)
class PlanStep:
    """Step `number` (from 1): `action` applied to server or cohort `target` (from 0)."""

    number: int
    action: Action
    target: int

    @property
    def description(self) -> str:
        if self.action == "upgrade":
            return f"upgrade server s{self.target + 1} to the current schema"
        if self.action == "rollback":
            return f"roll server s{self.target + 1} back to the legacy schema"
        if self.action == "move_cohort":
            return f"move client cohort c{self.target + 1} to the current schema"
        return f"move client cohort c{self.target + 1} back to the legacy schema"


@dataclass(frozen=True)
class Plan:
    seed: int
    order: Order
    servers: int
    cohorts: int
    rollback: bool
    steps: tuple[PlanStep, ...]


def _numbered(actions: list[tuple[Action, int]]) -> tuple[PlanStep, ...]:
    return tuple(PlanStep(i + 1, action, target) for i, (action, target) in enumerate(actions))


def build_plan(
    seed: int, order: Order, servers: int, *, rollback: bool, cohorts: int = DEFAULT_COHORTS
) -> Plan:
    """Which server is upgraded when, which cohort moves when, and which server rolls back.

    The seed draws the server order, the rollback target and (for `random`) the interleaving;
    every order of one seed upgrades the servers in the same sequence, so orders compare.
    """
    rng = random.Random(seed)
    server_order = list(range(servers))
    rng.shuffle(server_order)
    rollback_target = rng.randrange(servers)
    upgrades: list[tuple[Action, int]] = [("upgrade", s) for s in server_order]
    moves: list[tuple[Action, int]] = [("move_cohort", c) for c in range(cohorts)]
    if order == "servers-first":
        actions = upgrades + moves
    elif order == "clients-first":
        actions = moves + upgrades
    else:
        shuffle = random.Random(f"{seed}:interleave")
        actions = []
        while upgrades or moves:
            pick_upgrade = bool(upgrades) and (not moves or shuffle.random() < 0.5)
            actions.append(upgrades.pop(0) if pick_upgrade else moves.pop(0))
    if rollback:
        # Undo in reverse: clients back to the legacy schema first, then the server.
        actions += [("move_back", c) for c in reversed(range(cohorts))]
        actions.append(("rollback", rollback_target))
    return Plan(seed, order, servers, cohorts, rollback, _numbered(actions))


def plan_lines(plan: Plan) -> list[str]:
    """The plan as printed before the run."""
    lines = [
        f"rehearsal plan: order {plan.order}, seed {plan.seed}, {plan.servers} servers, "
        f"{plan.cohorts} client cohorts{', with rollback' if plan.rollback else ''}",
        "  0. start every server on the legacy schema; legacy clients write the seed data",
    ]
    lines += [f"  {step.number}. {step.description}" for step in plan.steps]
    return lines
