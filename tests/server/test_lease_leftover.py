"""A lease this instance holds with nothing running it is released, not renewed forever.

An execution stopped while the database was down cannot delete its lease; once the
database is back the heartbeat would renew that lease with the others for as long as
the instance lives, and the task would stay WORKING. The heartbeat releases it instead,
and the sweep ends the task a lease later (found by
``tests/stores/test_postgres_restart_serve.py``, PostgreSQL down longer than a lease).
"""

from __future__ import annotations

import pytest

from accord.server import Agent, Engine, TaskContext
from accord.stores import MemoryTaskStore, Scope
from accord.types import (
    Message,
    Part,
    Role,
    StreamResponse,
    Task,
    TaskState,
    TaskStatus,
)

from .test_leases import ended_by_lease_expiry

pytestmark = pytest.mark.anyio


async def _never(ctx: TaskContext) -> None:
    raise AssertionError("the task is not run again (the agent is not retry-safe)")


async def test_a_leftover_lease_of_this_instance_is_released_and_swept() -> None:
    store = MemoryTaskStore()
    message = Message(message_id="m-1", role=Role.USER, parts=(Part(text="hi"),))
    task = Task(
        id="left",
        context_id="c-1",
        status=TaskStatus(state=TaskState.WORKING),
        history=(message,),
    )
    engine = Engine(
        Agent(_never, name="A", description="d"), store=store, lease_seconds=0.3
    )
    async with engine.running():
        holder = engine.handler.runtime.leases.holder
        await store.create(task, StreamResponse(task=task), scope=Scope())
        # The lease an execution of this instance could not release.
        await store.acquire_lease("left", tenant="", holder=holder, seconds=0.3)
        await ended_by_lease_expiry(store, "left", within=20)
