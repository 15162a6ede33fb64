"""Pooled MCP client sessions: bounded per server, opened on demand, owned by a task group.

Theory of operation. A :class:`SessionPool` holds the sessions to one MCP server. A
caller borrows one with :meth:`SessionPool.session`: an idle session if there is one,
else a new one, as long as no more than ``limit`` are open (the others wait for a
free one, bounded by the caller's own deadline). A session returns to the pool when
the block ends normally (a tool error answered by the server is normal); after
anything else (a timeout, a broken connection, a cancellation) it is closed, since
an answer may still be on its way.

Each session lives in a task of the pool owner's task group (``open_in``): the MCP
SDK's client is an async context manager whose cancel scopes belong to the task that
entered it, so that task stays alive, parked, until the session is closed. Closing
the owner's task group (the engine stopping) closes every session: processes of
stdio servers end, HTTP sessions are deleted. No task outlives its owner.
"""

from __future__ import annotations

import logging
import math
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
import httpx2
from mcp.client.streamable_http import streamable_http_client

from mcp import Client, StdioServerParameters

from ._servers import HttpServer, StdioServer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.abc import TaskGroup, TaskStatus

    from ._servers import McpServer

__all__ = ["ClosedError", "OpenError", "SessionPool"]

logger = logging.getLogger(__name__)


class ClosedError(RuntimeError):
    """The pool is closed (its engine stopped)."""


class OpenError(RuntimeError):
    """A session could not be opened (the server unreachable, its command missing
    or exiting); the message says why, without the server's credentials."""


def _leaf(exc: BaseException) -> BaseException:
    """The first error inside (nested) exception groups: what actually went wrong."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


@asynccontextmanager
async def _connected(server: McpServer, seconds: float) -> AsyncIterator[Client]:
    """An open SDK client for ``server`` (credentials from its configuration).

    ``seconds`` bounds connecting; the pool's borrowers bound their own requests
    (the SDK's read timeout is left unset: a request may legitimately take longer
    than a connection)."""
    if isinstance(server, StdioServer):
        parameters = StdioServerParameters(
            command=server.command,
            args=list(server.args),
            env=dict(server.env),
            cwd=server.cwd,
        )
        async with Client(parameters) as client:
            yield client
        return
    assert isinstance(server, HttpServer)
    async with (
        httpx2.AsyncClient(
            headers=dict(server.headers), timeout=httpx2.Timeout(seconds, read=None)
        ) as http,
        Client(streamable_http_client(server.url, http_client=http)) as client,
    ):
        yield client


class _Session:
    """One open session, parked in its own task until closed."""

    def __init__(self, server: McpServer, timeout: float) -> None:
        self.server = server
        self.timeout = timeout
        self.client: Client | None = None
        self._scope = anyio.CancelScope()

    async def run(self, *, task_status: TaskStatus[Client]) -> None:
        started = False
        try:
            with self._scope:
                async with _connected(self.server, self.timeout) as client:
                    self.client = client
                    task_status.started(client)
                    started = True
                    await anyio.sleep_forever()
        except Exception as exc:
            if not started:
                raise  # to the caller of start(): the session could not open
            # A broken session must not take the pool's task group down: its
            # borrowers see the error, and it is closed when returned.
            logger.warning(
                "MCP session to %r ended: %s", self.server.name, type(exc).__name__
            )

    def close(self) -> None:
        self._scope.cancel()


class SessionPool:
    """The sessions to one MCP server (see the module docstring).

    Args:
        server: the server.
        limit: sessions open at once (and so tool calls in flight) at most.
        timeout: seconds to wait for a free session, or to open one.
    """

    def __init__(self, server: McpServer, *, limit: int, timeout: float) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1 (got {limit})")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(
                f"timeout must be a positive number of seconds (got {timeout})"
            )
        self.server = server
        self.limit = limit
        self.timeout = timeout
        self._slots = anyio.Semaphore(limit)
        self._idle: list[_Session] = []
        self._open: set[_Session] = set()
        self._group: TaskGroup | None = None

    @property
    def open_sessions(self) -> int:
        """Sessions open now (idle or lent)."""
        return len(self._open)

    def open_in(self, group: TaskGroup | None) -> None:
        """Own new sessions by ``group``; None: closed (sessions are refused)."""
        self._group = group
        if group is None:
            for session in self._open:
                session.close()
            self._open.clear()
            self._idle.clear()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Client]:
        """Borrow a session for the block (see the module docstring).

        Raises:
            ClosedError: the pool is closed.
            TimeoutError: no session was free, or none opened, within the timeout.
            OpenError: a session could not be opened.
        """
        with anyio.fail_after(self.timeout):
            await self._slots.acquire()
        session: _Session | None = None
        healthy = False
        try:
            session = self._idle.pop() if self._idle else await self._start()
            assert session.client is not None
            yield session.client
            healthy = True
        finally:
            if session is not None:
                if healthy and self._group is not None:
                    self._idle.append(session)
                else:
                    session.close()
                    self._open.discard(session)
            self._slots.release()

    async def _start(self) -> _Session:
        group = self._group
        if group is None:
            raise ClosedError(f"the MCP server {self.server.name!r} is closed")
        session = _Session(self.server, self.timeout)
        try:
            with anyio.fail_after(self.timeout):
                await group.start(session.run)
        except TimeoutError:
            raise
        except Exception as exc:
            leaf = _leaf(exc)
            raise OpenError(
                f"could not open a session ({type(leaf).__name__}: {leaf})"
            ) from exc
        self._open.add(session)
        return session
