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

How a stream ends. A task stream is complete when the last state it reported is
terminal (COMPLETED, FAILED, CANCELED, REJECTED) or interrupted (INPUT_REQUIRED,
AUTH_REQUIRED: the turn is over, spec §3.1.2, §11.7); a message-only stream is complete
after its message. A stream that ends otherwise (the connection closed early, the
server stopped) raises :class:`~accord.errors.IncompleteStreamError` instead of
ending quietly, so a lost outcome is never mistaken for success; so does a connection
that breaks once the stream has named its task (e.g. a body cut short by a proxy whose
upstream died), with what is needed to resume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, TypeVar

import anyio

from accord.errors import IncompleteStreamError, TransportError
from accord.protocol import lifecycle

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable
    from types import TracebackType

    from accord.types import StreamResponse, TaskState

__all__ = ["ON_END_TIMEOUT", "EventStream"]

#: Seconds an ``on_end`` callback may take (it runs shielded from cancellation).
ON_END_TIMEOUT = 5.0

E = TypeVar("E", bound=BaseException | None)


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
        self,
        events: AsyncIterator[tuple[StreamResponse, str | None]],
        *,
        on_end: Callable[[EventStream, BaseException | None], Awaitable[None]]
        | None = None,
    ) -> None:
        self._events = events
        self._closed = False
        #: Called once when the stream ends, fails or is closed (the audit trail),
        #: with the error the caller got (None: it ended, or the caller closed it).
        self._on_end = on_end
        #: Events returned so far.
        self.events = 0
        #: SSE id of the event most recently returned, if the server sent ids.
        self.last_event_id: str | None = None
        #: The task the stream is about, once an event named it ("" before).
        self.task_id = ""
        #: The last task state the stream reported (None before any).
        self.state: TaskState | None = None
        self._complete = False

    def __aiter__(self) -> Self:
        """Return the stream itself."""
        return self

    async def __anext__(self) -> StreamResponse:
        """Return the next event.

        Raises:
            StopAsyncIteration: the stream ended (or was closed).
            ProtocolError: the agent reported an error in or before the stream.
            IncompleteStreamError: the stream ended, or its connection broke, before
                its task ended or paused for the client (see the module docstring).
            TransportError: the connection failed.
        """
        if self._closed:
            raise StopAsyncIteration
        try:
            event, event_id = await anext(self._events)
        except StopAsyncIteration:
            self._closed = True
            if not self._complete:
                raise await self._ended(self._incomplete()) from None
            await self._ended(None)
            raise
        except TransportError as exc:
            # The iterator failed and has already released its response.
            self._closed = True
            if type(exc) is TransportError and self.task_id and not self._complete:
                # The connection broke mid-stream (a proxy cuts the body short when
                # the instance behind it dies): say how to resume.
                raise await self._ended(self._incomplete()) from exc
            await self._ended(exc)
            raise
        except Exception as exc:
            self._closed = True
            await self._ended(exc)
            raise
        except BaseException:
            self._closed = True
            raise
        if event_id is not None:
            self.last_event_id = event_id
        self.events += 1
        self._track(event)
        return event

    async def _ended(self, error: E) -> E:
        """Tell ``on_end`` once (shielded, bounded: it may run while cancelled)."""
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            with anyio.move_on_after(ON_END_TIMEOUT, shield=True):
                await on_end(self, error)
        return error

    def _track(self, event: StreamResponse) -> None:
        if event.message is not None:
            self._complete = True  # spec §3.1.2: a message-only stream is one message
            return
        if event.task is not None:
            self.task_id, status = event.task.id, event.task.status
        elif event.status_update is not None:
            self.task_id, status = (
                event.status_update.task_id,
                event.status_update.status,
            )
        else:
            return
        self.state = status.state
        self._complete = lifecycle.ends_stream(status.state)

    def _incomplete(self) -> IncompleteStreamError:
        if self.state is None:
            what = "before reporting any task state"
        else:
            what = (
                f"while task {self.task_id} was {self.state.name}, neither finished "
                "nor waiting for the client"
            )
        resume = (
            f"; resume with subscribe({self.task_id!r}, last_event_id="
            f"{self.last_event_id!r}) or check it with get_task({self.task_id!r})"
            if self.task_id
            else ""
        )
        return IncompleteStreamError(
            f"The stream ended {what}: the connection closed early (the server may "
            f"have stopped){resume}",
            task_id=self.task_id,
            state=self.state,
            last_event_id=self.last_event_id,
        )

    async def aclose(self) -> None:
        """Close the stream and its HTTP response; idempotent."""
        if self._closed:
            return
        self._closed = True
        close: Any = getattr(self._events, "aclose", None)
        try:
            if close is not None:
                await close()
        finally:
            await self._ended(None)

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
