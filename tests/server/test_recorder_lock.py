"""The recorder's write lock: one writer at a time, FIFO, safe under cancellation."""

from __future__ import annotations

import anyio
import pytest

from accord.server.recorder import _WriteLock

pytestmark = pytest.mark.anyio


async def test_writers_take_turns_in_order_of_arrival() -> None:
    lock = _WriteLock()
    inside: list[int] = []
    order: list[int] = []
    release = anyio.Event()

    async def writer(n: int) -> None:
        async with lock:
            inside.append(n)
            assert len(inside) == 1, "two writers hold the lock at once"
            order.append(n)
            if n == 0:
                await release.wait()
            await anyio.lowlevel.checkpoint()
            inside.remove(n)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(writer, 0)
            while not order:
                await anyio.lowlevel.checkpoint()
            for n in (1, 2, 3):
                tg.start_soon(writer, n)
                while len(lock._waiters or ()) < n:  # parked, in this order
                    await anyio.lowlevel.checkpoint()
            release.set()
    assert order == [0, 1, 2, 3]


@pytest.mark.parametrize("woken", [False, True], ids=["parked", "just-woken"])
async def test_a_cancelled_waiter_does_not_block_the_next(woken: bool) -> None:
    # Cancelled while parked, it leaves the queue; cancelled after the release woke it
    # (before it ran), it hands the wake-up on. Either way the next writer gets in.
    lock = _WriteLock()
    got: list[str] = []
    release = anyio.Event()
    doomed = anyio.CancelScope()

    async def holder() -> None:
        async with lock:
            got.append("holder")
            await release.wait()
        if woken:
            doomed.cancel()  # same step as the release: the wake-up is already sent

    async def waiter(name: str, scope: anyio.CancelScope | None) -> None:
        with scope or anyio.CancelScope():
            async with lock:
                got.append(name)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(holder)
            while not got:
                await anyio.lowlevel.checkpoint()
            tg.start_soon(waiter, "doomed", doomed)
            while len(lock._waiters or ()) < 1:
                await anyio.lowlevel.checkpoint()
            tg.start_soon(waiter, "next", None)
            while len(lock._waiters or ()) < 2:
                await anyio.lowlevel.checkpoint()
            if not woken:
                doomed.cancel()
                while len(lock._waiters or ()) > 1:
                    await anyio.lowlevel.checkpoint()
            release.set()
    # Just woken, the doomed writer may still take its turn (the cancellation reaches
    # it at its next checkpoint, as with anyio.Lock); what matters is that the next
    # writer is not left parked.
    assert got == ["holder", "next"] if not woken else got[0] == "holder"
    assert got[-1] == "next"
    assert not lock._held
    assert not lock._waiters
