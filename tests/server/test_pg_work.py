"""Work wake-ups between instances through PostgreSQL (accord.server.pg_events).

An instance that queued work NOTIFYs a work wake-up; every other instance calls its
work watchers. Wake-ups that fail to send are sent after reconnecting, and a
re-established LISTEN connection wakes the work watchers once (what was NOTIFYed
while it was down is lost).
"""

from __future__ import annotations

import anyio
import pytest

from accord.server.pg_events import PostgresTaskEvents
from tests.server.test_pg_cancel import Woken
from tests.server.test_pg_events import terminate
from tests.stores._postgres import fresh_schema

pytestmark = pytest.mark.anyio


async def test_work_wake_ups_that_failed_to_send_are_sent_after_reconnecting() -> None:
    async with (
        fresh_schema() as (_, url),
        PostgresTaskEvents(url, fallback_poll=None) as a,
        PostgresTaskEvents(url, fallback_poll=None) as b,
    ):
        watcher = Woken()
        stop = b.watch_work(watcher)
        waiting = watcher.event
        a.work_queued()
        a.work_queued()  # merged with the first, or a second wake-up: both harmless
        with anyio.fail_after(10):
            await waiting.wait()
        await terminate(a.notifier.sender_pid)  # A's NOTIFY connection
        waiting = watcher.event
        a.work_queued()
        with anyio.fail_after(10):
            await waiting.wait()
        stop()


async def test_a_reestablished_listen_wakes_the_work_watchers() -> None:
    async with (
        fresh_schema() as (_, url),
        PostgresTaskEvents(url, fallback_poll=None, reconnect_delay=(0.01, 0.05)) as b,
    ):
        watcher = Woken()
        b.watch_work(watcher)
        waiting = watcher.event
        await terminate(b.notifier.listener_pid)
        with anyio.fail_after(10):
            await waiting.wait()
        assert b.notifier.connections == 2
