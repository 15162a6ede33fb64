"""Wait for the end of the current pass of the event loop, without a timer."""

from __future__ import annotations

import asyncio

__all__ = ["pass_ends"]


async def pass_ends() -> None:
    """Return once the loop has run every callback scheduled before this call.

    ``call_soon`` callbacks run in the order they were scheduled, so one scheduled
    now runs after them: what code under test deferred "to the end of the pass" has
    happened when this returns.
    """
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    loop.call_soon(done.set_result, None)
    await done
