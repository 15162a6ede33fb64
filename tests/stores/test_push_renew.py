"""The PushConfigStore contract, renewing delivery leases (``renew_push_leases``), run
against every store (see ``conftest.store``).

No waiting: a claim with a lease of -1 s has already expired, so whether another
holder can take the config at once tells whether the renewal held it.
"""

from __future__ import annotations

import pytest

from accord.stores import TaskStore

from ._helpers import ALICE
from .test_push_configs import claim, new_task, push

pytestmark = pytest.mark.anyio


async def test_a_renewed_lease_keeps_the_config_from_other_holders(
    store: TaskStore,
) -> None:
    s = push(store)
    for task_id in ("t1", "t2"):
        await new_task(s, task_id, events=2)
        await s.put_push_config(task_id, "c1", b"x", scope=ALICE, after_seq=0)
    taken = await s.claim_push_deliveries(holder="a", seconds=-1, limit=10)
    assert sorted(d.config.task_id for d in taken) == ["t1", "t2"]

    # Only t1 renewed: t2's lease has run out and another holder takes it.
    assert await s.renew_push_leases([("t1", "c1")], holder="a", seconds=60) == 1
    assert await claim(s, "b") == ["t2/c1"]
    # a still holds t1 (its writes land); b no longer lets a renew t2.
    assert (
        await s.renew_push_leases([("t1", "c1"), ("t2", "c1")], holder="a", seconds=60)
        == 1
    )
    assert await s.push_delivered("t1", "c1", holder="a", seq=2)
    assert not await s.push_delivered("t2", "c1", holder="a", seq=2)


async def test_renewing_what_a_holder_does_not_hold_changes_nothing(
    store: TaskStore,
) -> None:
    s = push(store)
    await new_task(s, "t1", events=2)
    await s.put_push_config("t1", "c1", b"x", scope=ALICE, after_seq=0)
    assert await s.renew_push_leases([], holder="a", seconds=60) == 0
    # Nobody holds it: a renewal takes nothing (the empty holder is nobody).
    assert await s.renew_push_leases([("t1", "c1")], holder="a", seconds=60) == 0
    assert await s.renew_push_leases([("t1", "c1")], holder="", seconds=60) == 0
    assert await s.renew_push_leases([("t9", "c1")], holder="a", seconds=60) == 0
    (_,) = await s.claim_push_deliveries(holder="a", seconds=-1, limit=10)
    assert await s.renew_push_leases([("t1", "c1")], holder="b", seconds=60) == 0
    assert await claim(s, "b") == [
        "t1/c1"
    ]  # a's lease ran out, b's renewal did nothing
    # Deleted while held: nothing to renew.
    assert await s.delete_push_config("t1", "c1", scope=ALICE)
    assert await s.renew_push_leases([("t1", "c1")], holder="b", seconds=60) == 0
