"""One rehearsal: a fresh fleet per order, the plan run step by step under the workload.

`run_rehearsal` returns the `RehearsalDocument`; it prints nothing but what `announce` is
given (the plan before the run, one line per step as it finishes).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from toolkit.contract import DEFAULT_SPACE, HAZARD_SERVERS_FIRST
from toolkit.documents.rehearsal import (
    Counts,
    PlannedStep,
    RehearsalDocument,
    RehearsalRun,
    RollbackRecord,
    ServerRecord,
    StepRecord,
)
from toolkit.errors import EXIT_FAILED, EXIT_OK
from toolkit.rehearse.fleet import (
    Fleet,
    FleetError,
    FleetServer,
    HookedFleet,
    ServerCommand,
    reference_command,
)
from toolkit.rehearse.invariants import (
    Verdict,
    judge,
    read_data_dir,
    read_fleet,
    read_server,
    rollback_remedy,
    tally,
)
from toolkit.rehearse.plan import EXPECTED_SAFE, Order, Plan, PlanStep, build_plan, plan_lines
from toolkit.rehearse.workload import SEED_CLIENT, FailedWrite, Workload, Write

log = logging.getLogger(__name__)

ADOPTION_EVENT = "pre_migration_store_adopted"
SEED_WRITES = 24


@dataclass(frozen=True)
class RehearsalOptions:
    servers: int = 3
    seed: int = 0
    orders: tuple[Order, ...] = ("servers-first",)
    rollback: bool = False
    duration_s: float = 4.0
    seed_writes: int = SEED_WRITES
    command: ServerCommand = reference_command
    work_dir: Path | None = None
    # An external fleet (HOST, PORT) that hooks upgrade and roll back, instead of our own.
    external: tuple[tuple[str, int], ...] = ()
    upgrade_hook: str = ""
    rollback_hook: str | None = None

    def fleet(self, work_dir: Path) -> Fleet:
        if self.external:
            return HookedFleet(
                self.external, upgrade_hook=self.upgrade_hook, rollback_hook=self.rollback_hook
            )
        return Fleet(self.servers, work_dir, command=self.command)


def _target(step: PlanStep) -> str:
    prefix = "s" if step.action in ("upgrade", "rollback") else "c"
    return f"{prefix}{step.target + 1}"


def planned(plan: Plan) -> tuple[PlannedStep, ...]:
    return tuple(PlannedStep(s.number, s.action, _target(s), s.description) for s in plan.steps)


def _counts(
    writes: Sequence[Write], failures: Sequence[FailedWrite], verdicts: Sequence[Verdict]
) -> Counts:
    t = tally(verdicts)
    return Counts(len(writes), len(failures), t.ok, t.misplaced, t.lost, t.rollback_unsafe)


class _Run:
    """The state of one order's run on its fleet."""

    def __init__(self, plan: Plan, options: RehearsalOptions, fleet: Fleet) -> None:
        self.plan = plan
        self.options = options
        self.fleet = fleet
        self.workload = Workload(fleet.addresses, plan.cohorts)
        self.held_before_rollback: dict[str, frozenset[str]] = {}
        self.rollback_windows: list[tuple[float, float]] = []
        self.began = time.monotonic()

    def now(self) -> float:
        return round(time.monotonic() - self.began, 3)

    def names(self) -> dict[str, str]:
        return {server.name: server.address for server in self.fleet.servers}

    def legacy_servers(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.fleet.servers if s.schema == "legacy")

    def verdicts(self, writes: Sequence[Write]) -> list[Verdict]:
        try:
            contents = read_fleet(self.names(), self.workload.schemas)
        except grpc.RpcError as exc:
            raise FleetError(f"cannot read what the fleet holds: {exc.code()}") from exc
        held = list(self.held_before_rollback.values())
        windows = self.rollback_windows
        return [judge(write, contents, held, windows) for write in writes]

    def check(self) -> Counts:
        """The continuous invariant: every write acknowledged so far, judged now."""
        writes = self.workload.acknowledged()
        return _counts(writes, self.workload.failed(), self.verdicts(writes))

    def apply(self, step: PlanStep) -> None:
        if step.action == "upgrade":
            self.fleet.restart(step.target, "current", step=step.number)
            self.workload.provisioner.provision()
        elif step.action == "rollback":
            self._roll_back(self.fleet.servers[step.target], step.number)
        else:
            self.workload.move(step.target, to_current=step.action == "move_cohort")

    def _roll_back(self, server: FleetServer, number: int) -> None:
        """Roll `server` back, remembering every write it held: read through gRPC before it
        goes down and, for our own fleet, from its data dir while it is down."""
        read_at = self.workload.elapsed()
        try:
            spaces = read_server(server.address, self.workload.schemas)
        except grpc.RpcError as exc:
            message = f"cannot read {server.name} before its rollback: {exc.code()}"
            raise FleetError(message) from exc
        held: set[str] = set().union(*spaces.values())

        def stopped(down: FleetServer) -> None:
            if down.data_dir is not None:
                held.update(read_data_dir(down.data_dir))

        self.fleet.restart(server.index, "legacy", stopped=stopped, step=number)
        self.held_before_rollback[server.name] = frozenset(held)
        if server.data_dir is None:
            self.rollback_windows.append((read_at, self.workload.elapsed()))


def _adopted(server: FleetServer) -> bool | None:
    if server.log_path is None:
        return None  # an external server: its log is not ours to read
    try:
        return ADOPTION_EVENT in server.log_path.read_text(errors="replace")
    except OSError:
        return False


def run_order(
    plan: Plan, options: RehearsalOptions, work_dir: Path, announce: Callable[[str], object]
) -> RehearsalRun:
    with options.fleet(work_dir) as fleet:
        fleet.start_all("legacy")
        run = _Run(plan, options, fleet)
        dwell = options.duration_s / (len(plan.steps) + 1)
        workload = run.workload
        bounds: list[tuple[float, float]] = []
        checks: list[Counts] = []
        legacy_after: list[tuple[str, ...]] = []
        try:
            started = run.now()
            workload.seed(options.seed_writes)
            workload.start()
            time.sleep(dwell)
            bounds.append((started, run.now()))
            checks.append(run.check())
            legacy_after.append(run.legacy_servers())
            for step in plan.steps:
                workload.step = step.number
                started = run.now()
                run.apply(step)
                time.sleep(dwell)
                bounds.append((started, run.now()))
                checks.append(run.check())
                legacy_after.append(run.legacy_servers())
                c = checks[-1]
                announce(
                    f"  step {step.number} done at {bounds[-1][1]:.1f}s: "
                    f"{c.acknowledged} acknowledged, {c.failed} failed, "
                    f"{c.misplaced} misplaced, {c.lost} lost, {c.rollback_unsafe} rollback unsafe"
                )
        finally:
            workload.stop()
        writes = workload.acknowledged()
        failures = workload.failed()
        verdicts = run.verdicts(writes)
        servers = tuple(
            ServerRecord(s.name, s.address, s.starts, _adopted(s)) for s in fleet.servers
        )
    steps: list[StepRecord] = []
    descriptions = [(0, "seed", "fleet", "legacy servers; legacy clients write the seed data")]
    descriptions += [(s.number, s.action, _target(s), s.description) for s in plan.steps]
    for (number, action, target, text), (t0, t1), check, legacy in zip(
        descriptions, bounds, checks, legacy_after, strict=False
    ):
        mine = [i for i, w in enumerate(writes) if w.step == number]
        steps.append(
            StepRecord(
                number,
                action,
                target,
                text,
                t0,
                t1,
                _counts(
                    [writes[i] for i in mine],
                    [f for f in failures if f.step == number],
                    [verdicts[i] for i in mine],
                ),
                check,
                legacy,
            )
        )
    totals = _counts(writes, failures, verdicts)
    seed_verdicts = [v for w, v in zip(writes, verdicts, strict=True) if w.client == SEED_CLIENT]
    rollback = None
    for step in plan.steps:
        if step.action == "rollback":
            server = fleet.servers[step.target]
            rollback = RollbackRecord(
                server.name,
                totals.rollback_unsafe,
                rollback_remedy(server.name, totals.rollback_unsafe, DEFAULT_SPACE),
            )
    observed_safe = totals.misplaced == 0 and totals.lost == 0
    return RehearsalRun(
        order=plan.order,
        seed=plan.seed,
        plan=planned(plan),
        steps=tuple(steps),
        totals=totals,
        seed_written=len(seed_verdicts),
        seed_readable=seed_verdicts.count(Verdict.OK),
        rollback=rollback,
        expected_safe=plan.order == EXPECTED_SAFE,
        observed_safe=observed_safe,
        hazard=HAZARD_SERVERS_FIRST if totals.misplaced else None,
        servers=servers,
        wall_s=run.now(),
    )


def exit_code(runs: Sequence[RehearsalRun]) -> int:
    """1 when an order predicted safe was not, or any acknowledged write was lost."""
    for run in runs:
        if (run.expected_safe and not run.observed_safe) or run.totals.lost:
            return EXIT_FAILED
    return EXIT_OK


def run_rehearsal(
    options: RehearsalOptions, announce: Callable[[str], object] = print
) -> RehearsalDocument:
    runs: list[RehearsalRun] = []
    with tempfile.TemporaryDirectory(prefix="engram-rehearse-") as scratch:
        root = options.work_dir or Path(scratch)
        servers = len(options.external) or options.servers
        for order in options.orders:
            plan = build_plan(options.seed, order, servers, rollback=options.rollback)
            for line in plan_lines(plan):
                announce(line)
            runs.append(run_order(plan, options, root / order, announce))
    return RehearsalDocument(
        servers=servers,
        seed=options.seed,
        duration_s=options.duration_s,
        rollback=options.rollback,
        runs=tuple(runs),
        observed_safe_orders=tuple(r.order for r in runs if r.observed_safe),
        exit_code=exit_code(runs),
    )
