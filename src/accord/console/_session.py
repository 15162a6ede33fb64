"""A browser's session on the console: its agent connection, credentials and logs.

A session is what the ``HttpOnly``, ``SameSite=Strict`` cookie names. It holds
everything the page must not: the credentials typed once (inside the client's
credential providers), the connected :class:`~accord.client.Client`, the raw
exchanges (:mod:`._recording`), the console's own audit trail of its calls (an
in-memory store, :mod:`accord.client.audit`) and the timeline of each task it saw.

:class:`SessionTable` keeps at most ``max_sessions``; a session idle for
``session_idle`` seconds expires, and a new one beyond the cap evicts the one idle
longest. Either way its connection is closed then and there, by the request that
caused it (no background task).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from accord.client.webhooks import task_id_of
from accord.stores import MemoryTaskStore

from ._recording import ExchangeLog

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from accord.client import Client
    from accord.types import StreamResponse

    from ._card_report import CardReport
    from .limits import ConsoleLimits

__all__ = ["Connection", "Session", "SessionTable", "timeline_entry"]


@dataclass(slots=True)
class Connection:
    """A session's link to one agent: the card report and the client (if usable)."""

    url: str
    report: CardReport
    http: httpx.AsyncClient
    client: Client | None
    #: Why there is no client ("" when there is one).
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        """The connection for the page: the card report and whether it can talk."""
        return {
            **self.report.to_json(),
            "agentUrl": self.url,
            "connected": self.client is not None,
            "problem": self.problem,
            "streaming": bool(
                self.client is not None
                and self.client.card is not None
                and self.client.card.capabilities.streaming
            ),
        }

    async def aclose(self) -> None:
        """Close the client and its HTTP connections."""
        with anyio.CancelScope(shield=True):
            if self.client is not None:
                await self.client.aclose()
            await self.http.aclose()


def timeline_entry(event: StreamResponse, when: float) -> dict[str, Any]:
    """One line of a task's timeline: when, what kind of event, its state, and text."""
    from accord.types import text_of, to_builtins

    kind = "message"
    state = ""
    if event.task is not None:
        kind, state = "task", event.task.status.state
    elif event.status_update is not None:
        kind, state = "status", event.status_update.status.state
    elif event.artifact_update is not None:
        kind = "artifact"
    return {
        "time": when,
        "kind": kind,
        "state": str(state),
        "text": text_of(event),
        "event": to_builtins(event),
    }


@dataclass(slots=True)
class Session:
    """One browser's state on the console (see the module docstring)."""

    id: str
    limits: ConsoleLimits
    last_used: float
    connection: Connection | None = None
    streams: int = 0
    log: ExchangeLog = field(init=False)
    audit: MemoryTaskStore = field(init=False)
    timelines: OrderedDict[str, deque[dict[str, Any]]] = field(
        default_factory=OrderedDict
    )

    def __post_init__(self) -> None:
        self.log = ExchangeLog(self.limits.exchanges)
        self.audit = MemoryTaskStore(
            max_tasks=1, audit=True, max_audit_entries=self.limits.audit_entries
        )

    def record(self, event: StreamResponse) -> str:
        """Add ``event`` to its task's timeline; return the task id ("" for none)."""
        task_id = task_id_of(event)
        if not task_id:
            return ""
        timeline = self.timelines.get(task_id)
        if timeline is None:
            timeline = deque(maxlen=self.limits.timeline_events)
            self.timelines[task_id] = timeline
            while len(self.timelines) > self.limits.tracked_tasks:
                self.timelines.popitem(last=False)
        else:
            self.timelines.move_to_end(task_id)
        timeline.append(timeline_entry(event, time.time()))
        return task_id

    async def close(self) -> None:
        """Forget the connection (and so the credentials)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            await connection.aclose()


class SessionTable:
    """The sessions of a console, bounded in number and idle time."""

    def __init__(
        self, limits: ConsoleLimits, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    async def get(self, session_id: str | None) -> Session | None:
        """The live session named ``session_id``, marked used; None if unknown."""
        await self._expire()
        session = self._sessions.get(session_id or "")
        if session is not None:
            session.last_used = self._clock()
            self._sessions.move_to_end(session.id)
        return session

    async def create(self) -> Session:
        """A new session (evicting the one idle longest at the cap)."""
        await self._expire()
        while len(self._sessions) >= self.limits.max_sessions:
            _, oldest = self._sessions.popitem(last=False)
            await oldest.close()
        session = Session(secrets.token_urlsafe(32), self.limits, self._clock())
        self._sessions[session.id] = session
        return session

    async def _expire(self) -> None:
        cutoff = self._clock() - self.limits.session_idle
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if oldest.last_used > cutoff:
                break
            del self._sessions[oldest.id]
            await oldest.close()

    async def close(self) -> None:
        """Close every session (the console is stopping)."""
        sessions = list(self._sessions.values())
        self._sessions.clear()
        for session in sessions:
            await session.close()
