"""An update outside the log is not lost while a subscriber is catching up.

After a store outage the PostgreSQL task events wake every subscriber to read its log
(:meth:`~accord.server.events.Subscription.notify`). An execution that ends in that
window publishes its end (``final``, seq 0), which no log read can bring back: it is
queued anyway, after what the log holds. Without that, a blocking SendMessage waited
forever (found by ``tests/stores/test_postgres_restart_serve.py``).
"""

from __future__ import annotations

import anyio
import pytest

from accord.server.events import LocalTaskEvents, Update
from accord.stores import StoredEvent
from accord.types import Message, Part, Role, StreamResponse

pytestmark = pytest.mark.anyio


async def test_an_end_offered_while_catching_up_is_delivered_after_the_log() -> None:
    reply = StreamResponse(
        message=Message(message_id="m1", role=Role.AGENT, parts=(Part(text="hi"),))
    )
    logged = [StoredEvent(task_id="t", seq=1, event=reply)]

    async def catch_up(after: int) -> list[StoredEvent]:
        return [e for e in logged if e.seq > after]

    events = LocalTaskEvents()
    sub = events.subscribe("t", catch_up=catch_up)
    sub.notify()  # the log grew: the reader is to catch up
    await events.publish("t", Update(seq=0, event=None, task=None, final=True))
    with anyio.fail_after(5):
        first = await sub.__anext__()
        second = await sub.__anext__()
    assert first.seq == 1
    assert second.final
