"""Roles decide the rollout: from each change's per-direction ratings, the safe rollout orders.

For a message sent as an RPC's request, *backward* (baseline writes, current reads) is old
clients → new servers and *forward* is new clients → old servers; for a response the reverse.
A message (or enum) used by no RPC counts as both. An RPC-level change (an RPC or service
added, removed or changed) has the request's role. So:

- servers first is safe when requests hold backward and responses hold forward;
- clients first is safe when requests hold forward and responses hold backward;
- `any` when both are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from google.protobuf import descriptor_pb2

from toolkit.contract import HAZARD_SERVERS_FIRST
from toolkit.documents.schema import (
    BaselineCompatibility,
    Change,
    Compatibility,
    CompatMode,
    DirectionCompat,
    Encodings,
    Hazard,
    Rollout,
    RolloutBlock,
)
from toolkit.schema.diff import Names
from toolkit.schema.elements import SchemaIndex
from toolkit.schema.kinds import RPC_LEVEL_CATEGORIES

REQUEST, RESPONSE = "request", "response"
BOTH = frozenset({REQUEST, RESPONSE})


def _type_edges(index: SchemaIndex, translate: Names | None) -> dict[str, set[str]]:
    def name(n: str) -> str:
        return translate.current(n) if translate else n.lstrip(".")

    edges: dict[str, set[str]] = {}
    for element in index.elements.values():
        proto = element.proto
        if (
            isinstance(proto, descriptor_pb2.FieldDescriptorProto)
            and proto.type_name
            and element.parent
        ):
            edges.setdefault(name(element.parent), set()).add(name(proto.type_name))
    return edges


def message_roles(
    baseline: SchemaIndex, current: SchemaIndex, names: Names
) -> dict[str, frozenset[str]]:
    """Type name (current names) -> the roles it travels in; absent types count as both."""
    edges = _type_edges(current, None)
    for source, targets in _type_edges(baseline, names).items():
        edges.setdefault(source, set()).update(targets)
    roots: dict[str, set[str]] = {REQUEST: set(), RESPONSE: set()}
    for index, translate in ((current, None), (baseline, names)):
        for element in index.elements.values():
            proto = element.proto
            if isinstance(proto, descriptor_pb2.MethodDescriptorProto):
                for role, type_name in ((REQUEST, proto.input_type), (RESPONSE, proto.output_type)):
                    roots[role].add(
                        translate.current(type_name) if translate else type_name.lstrip(".")
                    )
    found: dict[str, set[str]] = {}
    for role, starts in roots.items():
        pending, seen = list(starts), set()
        while pending:
            type_name = pending.pop()
            if type_name in seen:
                continue
            seen.add(type_name)
            found.setdefault(type_name, set()).add(role)
            pending.extend(edges.get(type_name, ()))
    return {name: frozenset(roles) for name, roles in found.items()}


def change_subject(
    change: Change, roles: dict[str, frozenset[str]], names: Names
) -> tuple[str, frozenset[str]]:
    """The message, enum or RPC a change is judged on, and the roles it travels in."""
    if change.category in RPC_LEVEL_CATEGORIES:
        return names.current(change.element), frozenset({REQUEST})
    if change.category == "package":
        return change.element, BOTH
    candidates = [change.message] if change.message else []
    element = names.current(change.element)
    candidates += [element, element.rpartition(".")[0]]
    for candidate in candidates:
        if not candidate:
            continue
        current = names.current(candidate)
        if current in roles:
            return current, roles[current]
    subject = names.current(change.message) if change.message else element
    return subject, BOTH


def _holds(ratings: Encodings, wire_only: bool) -> bool:
    return ratings.wire == "compatible" and (wire_only or ratings.json == "compatible")


def blocked_orders(
    change: Change, roles: dict[str, frozenset[str]], names: Names, wire_only: bool
) -> set[Rollout]:
    """The rollout orders `change` rules out: servers first needs every old client's bytes
    read by new servers (backward for requests) and new servers' answers read by old clients
    (forward for responses); clients first the reverse."""
    _, subject_roles = change_subject(change, roles, names)
    back, fwd = _holds(change.backward, wire_only), _holds(change.forward, wire_only)
    orders: set[Rollout] = set()
    if (REQUEST in subject_roles and not back) or (RESPONSE in subject_roles and not fwd):
        orders.add("servers_first")
    if (REQUEST in subject_roles and not fwd) or (RESPONSE in subject_roles and not back):
        orders.add("clients_first")
    return orders


def baseline_compatibility(
    label: str,
    changes: Sequence[Change],
    roles: dict[str, frozenset[str]],
    names: Names,
    *,
    wire_only: bool,
) -> BaselineCompatibility:
    """Per-direction booleans and the safe rollout orders over the unaccepted changes."""
    live = [c for c in changes if c.accepted is None]
    compat = Compatibility(
        backward=DirectionCompat(
            wire=all(c.backward.wire == "compatible" for c in live),
            json=all(c.backward.json == "compatible" for c in live),
        ),
        forward=DirectionCompat(
            wire=all(c.forward.wire == "compatible" for c in live),
            json=all(c.forward.json == "compatible" for c in live),
        ),
    )
    blocked: dict[Rollout, set[str]] = {"servers_first": set(), "clients_first": set()}
    for change in live:
        subject, _ = change_subject(change, roles, names)
        for rollout in blocked_orders(change, roles, names, wire_only):
            blocked[rollout].add(subject)
    safe: list[Rollout] = [r for r in ("servers_first", "clients_first") if not blocked[r]]
    if len(safe) == 2:
        safe.insert(0, "any")
    return BaselineCompatibility(
        baseline=label,
        compatibility=compat,
        safe_rollouts=tuple(safe),
        blocked=tuple(
            RolloutBlock(rollout, tuple(sorted(elements)))
            for rollout, elements in blocked.items()
            if elements
        ),
    )


def mode_holds(result: BaselineCompatibility, mode: CompatMode, wire_only: bool) -> bool:
    """Whether the selected compatibility mode holds against one baseline."""
    if mode == "rpc":
        return bool(result.safe_rollouts)
    back = result.compatibility.backward
    fwd = result.compatibility.forward
    back_ok = back.wire and (wire_only or back.json)
    fwd_ok = fwd.wire and (wire_only or fwd.json)
    return {"backward": back_ok, "forward": fwd_ok, "full": back_ok and fwd_ok}[mode]


def rollout_hazards(
    results: Iterable[BaselineCompatibility],
    changes: Sequence[Change],
    roles: dict[str, dict[str, frozenset[str]]],
    names: dict[str, Names],
    wire_only: bool,
) -> list[Hazard]:
    """Servers first is the only safe order: the hazard names the changed elements that rule
    out clients first (roles and names per baseline label)."""
    elements: set[str] = set()
    for result in results:
        if result.safe_rollouts != ("servers_first",):
            continue
        label = result.baseline
        for change in changes:
            if change.baseline != label or change.accepted is not None:
                continue
            if "clients_first" in blocked_orders(change, roles[label], names[label], wire_only):
                elements.add(names[label].current(change.element))
    return [Hazard(HAZARD_SERVERS_FIRST, tuple(sorted(elements)))] if elements else []


def breaks_mode(
    change: Change,
    result: BaselineCompatibility,
    roles: dict[str, frozenset[str]],
    names: Names,
    mode: CompatMode,
    wire_only: bool,
) -> bool:
    """Whether `change` (accepted or not) is one the selected mode cannot take. In `rpc` mode
    a change that rules out only one rollout order is a rollout constraint, not a break, unless
    no order is left; then every change that rules one out is part of the break."""
    back, fwd = _holds(change.backward, wire_only), _holds(change.forward, wire_only)
    if mode == "backward":
        return not back
    if mode == "forward":
        return not fwd
    if mode == "full":
        return not (back and fwd)
    orders = blocked_orders(change, roles, names, wire_only)
    return len(orders) == 2 or (not result.safe_rollouts and bool(orders))
