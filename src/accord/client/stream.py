"""``EventStream``: what the client's streaming methods return.

An :class:`EventStream` is an async iterator of
:class:`~accord.types.StreamResponse` events, in the order the agent produced them
(spec §4.3), and an async context manager that closes the underlying HTTP response.
Nothing runs in the background: the HTTP request is sent when the first event is
awaited, and each ``__anext__`` reads from the connection in the caller's own task,
so the client never leaves a detached task behind.

SSE ids. A server may tag each event with an SSE ``id``. After every event,
:attr:`EventStream.last_event_id` holds the id of the event just returned (SSE ids are
sticky: an event without its own id keeps the previous one). Pass it to
:meth:`Client.subscribe(task_id, last_event_id=...) <accord.client.Client.subscribe>`
to resume after a dropped connection (sent as ``Last-Event-ID``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from types import TracebackType

    from accord.types import StreamResponse

__all__ = ["EventStream"]


class EventStream:
    """The events of one A2A stream; iterate it, and close it when done.

    Example::

        async with client.send_streaming_message("hi") as stream:
            async for event in stream:
                print(event.payload, stream.last_event_id)

    Leaving the ``async with`` block, or calling :meth:`aclose`, closes the HTTP
    response at once; the task on the agent goes on (spec §4.2: closing a stream does
    not affect the task).
    """

    def __init__(
        self, events: AsyncIterator[tuple[StreamResponse, str | None]]
    ) -> None:
        self._events = events
        self._closed = False
        #: SSE id of the event most recently returned, if the server sent ids.
        self.last_event_id: str | None = None

    def __aiter__(self) -> Self:
        """Return the stream itself."""
        return self

    async def __anext__(self) -> StreamResponse:
        """Return the next event.

        Raises:
            StopAsyncIteration: the stream ended (or was closed).
            ProtocolError: the agent reported an error in or before the stream.
            TransportError: the connection failed.
        """
        if self._closed:
            raise StopAsyncIteration
        try:
            event, event_id = await anext(self._events)
        except BaseException:
            # The iterator ended or failed and has already released its response.
            self._closed = True
            raise
        if event_id is not None:
            self.last_event_id = event_id
        return event

    async def aclose(self) -> None:
        """Close the stream and its HTTP response; idempotent."""
        if self._closed:
            return
        self._closed = True
        close: Any = getattr(self._events, "aclose", None)
        if close is not None:
            await close()

    async def __aenter__(self) -> Self:
        """Return the stream itself."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the stream."""
        await self.aclose()
