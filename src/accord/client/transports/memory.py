"""``MemoryTransport``: an httpx transport that runs an ASGI app in-process, streaming.

``httpx.ASGITransport`` collects the whole response body before returning, so an SSE
stream that never ends never returns, and a test cannot see events one at a time. This
transport returns the response as soon as the app sends ``http.response.start`` and
streams the body as the app produces it.

Theory of operation::

    caller task                          transport task group
    -----------                          --------------------
    handle_async_request(request) ──start_soon──► app(scope, receive, send)
      waits for response start  ◄─────────────── send(http.response.start)
    ◄─ httpx.Response(stream=_Body)
    aiter_bytes() ◄── bounded memory stream ◄─── send(http.response.body ...)
    aclose()  ──► disconnect ──────────────────► receive() -> http.disconnect
                                                 send() -> raises ClientDisconnected

* Every app call runs in the transport's own anyio task group, so no task outlives the
  ``async with MemoryTransport(app)`` block (style guide §12: every task has an owner).
  ``httpx.AsyncClient`` enters and exits its transport, so
  ``async with httpx.AsyncClient(transport=MemoryTransport(app))`` is enough.
* The body travels through a bounded memory object stream
  (:data:`MAX_BUFFERED_CHUNKS`): an app that streams forever to a reader that stopped
  reading blocks in ``send`` instead of growing a queue.
* Closing the response (``response.aclose()``, leaving ``client.stream(...)``) sends
  ``http.disconnect`` to the app's ``receive`` and makes later ``send`` calls raise
  :class:`ClientDisconnected`, an ``OSError`` as ASGI 2.4 asks of servers.
* The request body is streamed to the app chunk by chunk as ``http.request`` messages.
* The ASGI ``lifespan`` protocol runs on entry and exit when the app supports it; its
  ``state`` is copied into every request scope. An app that fails the lifespan scope
  before startup completes is taken not to support it, as ASGI servers do.
* An exception from the app is raised to the caller (``raise_app_exceptions=True``,
  the default, like ``httpx.ASGITransport``) or answered with a plain 500 response;
  after the response has started it surfaces while the body is read.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import unquote

import anyio
import httpx

if TYPE_CHECKING:
    from types import TracebackType

    from anyio.abc import TaskGroup

__all__ = ["MAX_BUFFERED_CHUNKS", "ASGIApp", "ClientDisconnected", "MemoryTransport"]

logger = logging.getLogger(__name__)

ASGIMessage = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[ASGIMessage]],
        Callable[[ASGIMessage], Awaitable[None]],
    ],
    Awaitable[None],
]

#: Body chunks buffered between the app and the reader. An SSE event is usually one
#: chunk, so 16 lets an agent run a few events ahead of a slow consumer; the bound
#: makes a runaway stream wait for the reader instead of filling memory.
MAX_BUFFERED_CHUNKS = 16
#: Seconds the app gets to finish its lifespan shutdown (and in-flight requests to
#: react to their disconnect) before the remaining tasks are cancelled.
SHUTDOWN_GRACE = 5.0

_ASGI = {"version": "3.0", "spec_version": "2.4"}


class ClientDisconnected(OSError):
    """Raised by ``send`` once the client has closed the response (ASGI 2.4)."""


class _Exchange:
    """One request/response between the caller and the app."""

    def __init__(self, request: httpx.Request, raise_app_exceptions: bool) -> None:
        self.request = request
        self.raise_app_exceptions = raise_app_exceptions
        self.started = anyio.Event()
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.disconnected = anyio.Event()
        #: An app failure before the response started, raised by handle_async_request.
        self.early_error: BaseException | None = None
        #: An app failure after the response started, raised by the body reader.
        self.error: BaseException | None = None
        self.body_in, self.body_out = anyio.create_memory_object_stream[bytes](
            MAX_BUFFERED_CHUNKS
        )
        stream = request.stream
        if not isinstance(stream, httpx.AsyncByteStream):
            raise TypeError("MemoryTransport needs an httpx.AsyncClient request")
        self._request_chunks: AsyncIterator[bytes] | None = aiter(stream)

    def disconnect(self) -> None:
        self.disconnected.set()
        self.body_out.close()

    async def receive(self) -> ASGIMessage:
        if self._request_chunks is not None:
            chunk = await anext(self._request_chunks, None)
            while chunk == b"":  # skip empty chunks: `more_body` must mean more bytes
                chunk = await anext(self._request_chunks, None)
            if chunk is not None:
                return {"type": "http.request", "body": chunk, "more_body": True}
            self._request_chunks = None
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: ASGIMessage) -> None:
        if self.disconnected.is_set():
            raise ClientDisconnected("the client closed the response")
        kind = message["type"]
        if kind == "http.response.start":
            if self.started.is_set():
                raise RuntimeError("http.response.start sent twice")
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            self.started.set()
        elif kind == "http.response.body":
            if not self.started.is_set():
                raise RuntimeError("http.response.body sent before http.response.start")
            body = bytes(message.get("body", b""))
            try:
                if body:
                    await self.body_in.send(body)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                raise ClientDisconnected("the client closed the response") from None
            if not message.get("more_body", False):
                self.body_in.close()
        # Other messages (trailers, extensions) are not used by A2A: ignore them.

    async def run(self, app: ASGIApp, scope: MutableMapping[str, Any]) -> None:
        try:
            await app(scope, self.receive, self.send)
            if not self.started.is_set():
                raise RuntimeError("the ASGI app returned without sending a response")
        except Exception as exc:
            self._fail(exc)
        finally:
            self.body_in.close()
            self.started.set()

    def _fail(self, exc: Exception) -> None:
        if self.disconnected.is_set():
            logger.debug("ASGI app failed after the client disconnected", exc_info=exc)
            return
        started = self.started.is_set()
        if self.raise_app_exceptions:
            if started:
                self.error = exc
            else:
                self.early_error = exc
            return
        logger.exception(
            "ASGI app failed on %s %s", self.request.method, self.request.url
        )
        if started:
            # What a real server's dropped connection looks like to httpx.
            self.error = httpx.RemoteProtocolError(
                "the ASGI app failed while sending the response body"
            )
        else:
            self.status = 500
            self.headers = [(b"content-type", b"text/plain; charset=utf-8")]
            self.body_in.send_nowait(b"Internal Server Error")


class _Body(httpx.AsyncByteStream):
    """The response body as the app produces it.

    A plain iterator object rather than an async generator: a generator abandoned
    half-way (the reader stopped early) makes trio warn when it is garbage-collected.
    """

    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._exchange.body_out.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            if self._exchange.error is not None:
                raise self._exchange.error from None
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._exchange.disconnect()


class MemoryTransport(httpx.AsyncBaseTransport):
    """Serve httpx requests with an in-process ASGI app, streaming response bodies.

    Args:
        app: the ASGI application.
        raise_app_exceptions: re-raise an exception from the app to the caller
            (default); when False, answer 500 (or break the body if it had started).
        lifespan: run the ASGI lifespan protocol on entry and exit.
        root_path: the ASGI ``root_path`` of every request.
        client: the ``(host, port)`` the app sees as the peer.

    Example::

        async with httpx.AsyncClient(
            transport=MemoryTransport(app), base_url="http://agent"
        ) as http:
            async with http.stream("POST", "/message:stream", ...) as response:
                async for chunk in response.aiter_bytes():
                    ...
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        raise_app_exceptions: bool = True,
        lifespan: bool = True,
        root_path: str = "",
        client: tuple[str, int] = ("127.0.0.1", 123),
    ) -> None:
        self.app = app
        self._raise = raise_app_exceptions
        self._lifespan = lifespan
        self._root_path = root_path
        self._client = client
        self._depth = 0
        self._stack: AsyncExitStack | None = None
        self._tg: TaskGroup | None = None
        self._exchanges: set[_Exchange] = set()
        self._state: dict[str, Any] = {}
        self._lifespan_failure: str | None = None
        # anyio events need a running event loop: created on entry.
        self._shutdown: anyio.Event
        self._lifespan_ready: anyio.Event
        self._lifespan_done: anyio.Event

    async def __aenter__(self) -> Self:
        """Start the task group (and the app's lifespan); nested entries share it."""
        self._depth += 1
        if self._depth > 1:
            return self
        self._state = {}
        self._lifespan_failure = None
        self._shutdown = anyio.Event()
        self._lifespan_ready = anyio.Event()
        self._lifespan_done = anyio.Event()
        try:
            async with AsyncExitStack() as stack:
                self._tg = await stack.enter_async_context(anyio.create_task_group())
                stack.push_async_callback(self._stop)
                if self._lifespan:
                    self._tg.start_soon(self._run_lifespan)
                    await self._lifespan_ready.wait()
                if self._lifespan_failure is None:
                    self._stack = stack.pop_all()
                # else: leaving the block stops the task group; raise below, outside
                # it, so the caller gets the error itself rather than a group.
        except BaseException:
            self._depth -= 1
            self._tg = None
            raise
        if self._lifespan_failure is not None:
            self._depth -= 1
            self._tg = None
            raise RuntimeError(
                f"ASGI lifespan startup failed: {self._lifespan_failure}"
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> None:
        """Disconnect open requests, shut the lifespan down, close the task group."""
        self._depth -= 1
        if self._depth == 0 and self._stack is not None:
            stack, self._stack = self._stack, None
            try:
                # The caller's own exception is not handed to the task group: it
                # would come out wrapped in an ExceptionGroup. Python re-raises it
                # as it is once this returns.
                await stack.__aexit__(None, None, None)
            finally:
                self._tg = None

    async def aclose(self) -> None:
        """Nothing to do: the task group closes when the ``async with`` block ends."""

    async def _stop(self) -> None:
        for exchange in list(self._exchanges):
            # Tell the apps; readers still holding a response see its end when the
            # app task finishes (or is cancelled below) and closes the body.
            exchange.disconnected.set()
        assert self._tg is not None
        with anyio.move_on_after(SHUTDOWN_GRACE, shield=True):
            if self._lifespan:
                self._shutdown.set()
                await self._lifespan_done.wait()
        self._tg.cancel_scope.cancel()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Run the app for ``request``; return once the response has started."""
        if self._tg is None or self._stack is None:
            raise RuntimeError(
                "MemoryTransport is not running: use `async with MemoryTransport(app)`"
                " or `async with httpx.AsyncClient(transport=MemoryTransport(app))`"
            )
        exchange = _Exchange(request, self._raise)
        self._exchanges.add(exchange)
        self._tg.start_soon(self._serve, exchange, self._scope(request))
        ok = False
        try:
            await exchange.started.wait()
            ok = True
        finally:
            if not ok:  # cancelled while waiting: the client went away
                exchange.disconnect()
        if exchange.early_error is not None:
            exchange.body_out.close()
            raise exchange.early_error
        return httpx.Response(
            exchange.status, headers=exchange.headers, stream=_Body(exchange)
        )

    async def _serve(
        self, exchange: _Exchange, scope: MutableMapping[str, Any]
    ) -> None:
        try:
            await exchange.run(self.app, scope)
        finally:
            self._exchanges.discard(exchange)

    def _scope(self, request: httpx.Request) -> dict[str, Any]:
        url = request.url
        default_port = 443 if url.scheme == "https" else 80
        return {
            "type": "http",
            "asgi": dict(_ASGI),
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "root_path": self._root_path,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": self._client,
            "server": (url.host, url.port or default_port),
            "extensions": {},
            "state": dict(self._state),
        }

    async def _run_lifespan(self) -> None:
        started = False

        async def receive() -> ASGIMessage:
            nonlocal started
            if not started:
                started = True
                return {"type": "lifespan.startup"}
            await self._shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: ASGIMessage) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.failed":
                self._lifespan_failure = (
                    str(message.get("message", "")) or "no reason given"
                )
            if kind.startswith("lifespan.startup."):
                self._lifespan_ready.set()
            elif kind == "lifespan.shutdown.failed":
                logger.error(
                    "ASGI lifespan shutdown failed: %s", message.get("message", "")
                )

        scope = {"type": "lifespan", "asgi": dict(_ASGI), "state": self._state}
        try:
            await self.app(scope, receive, send)
        except Exception:
            if self._lifespan_ready.is_set():
                logger.exception("ASGI lifespan failed")
            else:  # the app does not speak lifespan (ASGI spec): carry on without it
                logger.debug("ASGI app does not support lifespan", exc_info=True)
        finally:
            self._lifespan_ready.set()
            self._lifespan_done.set()
