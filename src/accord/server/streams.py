"""HandlerStream: a validated stream of task events with their sequence numbers.

(Named apart from the client's :class:`accord.client.EventStream`, which is what an
application iterates; this one is what the request handler hands to a binding.)

The handler builds one per SendStreamingMessage / SubscribeToTask after every check that
must fail before the first event (spec §9.4.2, §11.7); the ASGI layer frames it as SSE.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from accord.types import StreamResponse, TaskState

if TYPE_CHECKING:
    from .events import Subscription, Update

__all__ = ["Events", "HandlerStream", "StreamEnd", "live_events", "state_after"]

Events = AsyncIterator[tuple[int | None, StreamResponse]]
#: Told how an observed stream ended: ``(error or None, events sent, finished)``;
#: ``finished`` is False when the stream was closed before its last event (the client
#: went away).
StreamEnd = Callable[[Exception | None, int, bool], Awaitable[None]]


class HandlerStream:
    """A validated stream of events with their per-task sequence numbers.

    Errors the spec wants before the first event were raised when it was created; use
    it as ``async with stream: async for seq, event in stream: ...``.
    """

    def __init__(self, subscription: Subscription, events: Events) -> None:
        self._sub = subscription
        self._events = events
        self._on_end: StreamEnd | None = None
        self._sent = 0
        self._error: Exception | None = None
        self._finished = False

    def __aiter__(self) -> Events:
        return self._events

    def observed(self, on_end: StreamEnd) -> HandlerStream:
        """This stream, telling ``on_end`` how it ended once it is closed.

        Used by the engine's interceptors (:mod:`accord.server.interceptors`): the end
        of a streaming operation is when its stream closes, not when it starts.
        """
        stream = HandlerStream(self._sub, self._events)
        stream._events = stream._tally(self._events)
        stream._on_end = on_end
        return stream

    async def _tally(self, events: Events) -> Events:
        try:
            async for item in events:
                self._sent += 1
                yield item
        except Exception as exc:
            self._error = exc
            raise
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        self._finished = True

    async def aclose(self) -> None:
        """Stop the stream and release its subscription."""
        self._sub.close()
        await self._events.aclose()  # type: ignore[attr-defined]
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            await on_end(self._error, self._sent, self._finished)

    async def __aenter__(self) -> HandlerStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def live_events(
    sub: Subscription, ends: Callable[[TaskState], bool]
) -> AsyncGenerator[tuple[int | None, StreamResponse]]:
    """The logged events ``sub`` receives, with their sequence numbers, up to and
    including the first whose task state ``ends`` the stream (turn ends and replies
    are not logged events: skipped). Iterate it inside ``aclosing`` when the
    iteration may stop early."""
    async for update in sub:
        if update.final or update.event is None or update.seq == 0:
            continue
        yield update.seq, update.event
        state = state_after(update)
        if state is not None and ends(state):
            return


def state_after(update: Update) -> TaskState | None:
    """The task state after ``update`` (None when the update does not say)."""
    if update.task is not None:
        return update.task.status.state
    event = update.event
    if event is None:
        return None
    if event.status_update is not None:
        return event.status_update.status.state
    if event.task is not None:
        return event.task.status.state
    return None


#: The name this class had before the client's ``EventStream`` became the only one;
#: kept so that older imports of ``accord.server.streams.EventStream`` still work.
EventStream = HandlerStream
