"""SPACE_LIFECYCLE: deleting a space ends its subscribers (NOT_FOUND) and refuses its writers."""

from __future__ import annotations

from collections.abc import Callable

from toolkit.compat.calls import NewClientFactory
from toolkit.compat.checks import check
from toolkit.compat.environment import CompatEnv
from toolkit.compat.evidence import Evidence
from toolkit.compat.scenarios import EventWatcher, remember
from toolkit.contract import SPACE_FIELD

END_WAIT_S = 5.0


@check("SPACE_LIFECYCLE")
def test_deleted_space_ends_subscribers_and_refuses_writers(
    new_client: NewClientFactory,
    compat_env: CompatEnv,
    other_space: str,
    unique: Callable[[str], str],
    evidence: Evidence,
) -> None:
    doomed = compat_env.new_space("doomed")
    client, bystander = new_client(doomed), new_client(other_space)
    watcher, other = EventWatcher.new(client), EventWatcher.new(bystander)
    try:
        admin = new_client(None, "none")
        deleted = admin.call("DeleteSpace", admin.request("DeleteSpace", **{SPACE_FIELD: doomed}))
        evidence.record(space=doomed, delete=deleted.evidence())
        evidence.verify(
            deleted.ok, f"DeleteSpace({doomed}): OK", f"{deleted.code} {deleted.details}"
        )
        compat_env.forget_space(doomed)
        code = watcher.wait_end(timeout=END_WAIT_S)
        evidence.record(subscriber_end=code, subscriber_details=watcher.details)
        evidence.verify(
            code == "NOT_FOUND",
            f"the subscriber of {doomed} ended with NOT_FOUND when the space was deleted",
            f"the subscriber {'is still open' if code is None else f'ended with {code}'} "
            f"{END_WAIT_S:.0f} s after the deletion",
        )
        write = remember(client, unique("after-delete"))
        evidence.record(write=write.evidence())
        evidence.verify(
            write.code == "NOT_FOUND",
            f"a Remember to deleted space {doomed}: NOT_FOUND",
            f"a Remember to deleted space {doomed}: {write.code} {write.details}",
        )
        marker = unique("bystander")
        remember(bystander, marker)
        arrived = other.wait_until(lambda events: any(e.memory.id == marker for e in events))
        evidence.verify(
            arrived and other.code is None,
            f"the subscriber of {other_space} goes on and receives {marker}",
            f"the subscriber of {other_space}: {len(other.events)} events, end {other.code}",
        )
    finally:
        watcher.stop()
        other.stop()
