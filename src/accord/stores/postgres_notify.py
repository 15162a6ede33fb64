"""Wake-ups between instances that share a PostgreSQL task store: NOTIFY out, LISTEN in.

The per-task event log in the store is the truth; these wake-ups only tell the other
instances that a task's log grew, so their subscribers read it (see
:mod:`accord.server.events`). :class:`PostgresNotifier` is the PostgreSQL half of
:class:`accord.server.pg_events.PostgresTaskEvents`; it lives beside the store because
it is the only other code that talks to psycopg.

Theory of operation.

* **Out.** :meth:`PostgresNotifier.send` never suspends: it records ``(task, seq)`` in
  a bounded map (one entry per task, the highest ``seq`` wins: wake-ups merge) and
  wakes the publisher task, which sends everything pending in *one* statement on its
  own connection (``SELECT pg_notify(...) FROM unnest(...)``): one commit however
  many events piled up while the previous one was in flight. When more than
  ``max_pending`` tasks wait, the map is replaced by one "wake everything" message:
  memory stays bounded and nothing is lost, because listeners re-read the log. A
  failed send is retried, merged with what came since, after a backoff.
* **In.** One LISTEN connection per instance (never per subscriber). The listener
  waits for its socket to become readable (``anyio.wait_readable``: no thread, no
  polling; asyncio and trio alike), then reads the notifications without blocking.
  A lost connection (the server restarted, ``pg_terminate_backend``, a broken network
  noticed by TCP keepalives) is reopened with exponential backoff; every time LISTEN
  is (re-)established the handler's ``wake_all`` runs, so whatever was published
  while the connection was down is read from the log.
* **Cancel wake-ups.** :meth:`PostgresNotifier.send_cancel` queues the second kind of
  message, ``"<instance> <task key> cancel"``: a cancel request was stored for the
  task, and the instance running it should read it now rather than at its next
  heartbeat. They travel with the log wake-ups (same channel, connection and
  statement, sent first), merge per task, and flood into ``"<instance> * cancel"``
  (every instance looks) beyond ``max_pending``. Each (re-)established LISTEN also
  calls the handler's ``wake_cancel`` with :data:`WAKE_ALL`: a cancel wake-up sent while
  the connection was down is not waited for until the heartbeat.
* **Work wake-ups.** :meth:`PostgresNotifier.send_work` queues the third kind,
  ``"<instance> * work"``: work was queued in the store, and an instance with room
  should claim it. Any number of them merge into one (sent first with the cancel
  wake-ups); each (re-)established LISTEN calls the handler's ``wake_work`` too.
* **Payload.** ``"<instance> <task key> <seq>"``: the task key is a 96-bit BLAKE2b
  hash of the task id (:func:`task_key`), so every payload is under 60 bytes whatever
  the id (PostgreSQL's limit is 8,000) and task ids are not broadcast to every role
  that may LISTEN on the database. A hash collision only costs a spurious wake-up.
  A listener ignores its own instance's messages (the instance delivered them
  locally already).
* **Channel.** NOTIFY is per database; two deployments in two schemas of one database
  must not wake each other, so the channel is ``accord_events:<schema>`` (the
  connection's ``current_schema()``; hashed when longer than PostgreSQL's 63-byte
  identifiers).
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.to_thread

# psycopg is there: importing postgres_db (above) says what to install otherwise.
import psycopg
from psycopg import pq, sql

from accord.errors import StoreError
from accord.stores.postgres_db import CONNECT_TIMEOUT, connect_kwargs, describe

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from anyio.abc import TaskStatus
    from psycopg.rows import TupleRow

    Connection = psycopg.Connection[TupleRow]

__all__ = [
    "CONNECT_TIMEOUT",
    "MAX_PENDING",
    "RECONNECT_DELAY",
    "WAKE_ALL",
    "PostgresNotifier",
    "Wake",
    "WakeHandler",
    "channel_name",
    "task_key",
]

_log = logging.getLogger(__name__)

#: Tasks whose wake-ups may wait to be sent at once; beyond, one "wake everything"
#: message replaces them all (bounded memory, nothing lost).
MAX_PENDING = 10_000

#: First and longest delay (seconds) between two attempts to reopen a lost connection.
RECONNECT_DELAY = (0.05, 5.0)

#: The task key of a message that wakes every subscriber.
WAKE_ALL = "*"

#: Seconds :meth:`PostgresNotifier.running` spends at exit sending what is pending.
FLUSH_TIMEOUT = 2.0

# TCP keepalives on the LISTEN connection: a silent network partition (no FIN, no RST)
# is noticed within about idle + interval * count seconds.
_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}
#: The last field of a cancel wake-up's payload.
_CANCEL = "cancel"
#: The last field of a work wake-up's payload.
_WORK = "work"
_NOTIFY = "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p"


def task_key(task_id: str) -> str:
    """The key a task's wake-ups travel under (24 hex digits, whatever the id)."""
    return hashlib.blake2b(task_id.encode(), digest_size=12).hexdigest()


def channel_name(schema: str) -> str:
    """The NOTIFY channel of the tasks in ``schema`` (at most 63 bytes)."""
    name = f"accord_events:{schema}"
    if len(name.encode()) > 63:
        name = "accord_events:" + hashlib.blake2b(schema.encode()).hexdigest()[:32]
    return name


@dataclass(frozen=True, slots=True)
class Wake:
    """One received wake-up: who sent it, for which task key, up to which ``seq``.

    ``cancel`` marks a cancel wake-up, ``work`` a work wake-up (``seq`` is then 0).
    """

    instance: str
    key: str
    seq: int
    cancel: bool = False
    work: bool = False

    @classmethod
    def parse(cls, payload: str) -> Wake | None:
        """The wake-up in ``payload``, or None when it is not one of ours."""
        parts = payload.split(" ")
        if len(parts) != 3:
            return None
        if parts[2] == _CANCEL:
            return cls(parts[0], parts[1], 0, cancel=True)
        if parts[2] == _WORK:
            return cls(parts[0], WAKE_ALL, 0, work=True)
        if not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]))


class WakeHandler(Protocol):
    """What the notifier calls when wake-ups arrive (on the event loop, never blocks)."""

    def wake(self, key: str, seq: int) -> None:
        """The log of the task(s) with ``key`` grew to ``seq`` on another instance."""
        ...

    def wake_all(self) -> None:
        """Any log may have grown (LISTEN was re-established, or a flood merged)."""
        ...

    def wake_cancel(self, key: str) -> None:
        """A cancel request was stored for the task(s) with ``key`` (any: WAKE_ALL)."""
        ...

    def wake_work(self) -> None:
        """Work was queued by another instance (or may have been: LISTEN was down)."""
        ...


class PostgresNotifier:
    """Send and receive task wake-ups through PostgreSQL LISTEN/NOTIFY.

    Args:
        url: the task store's URL (the same database and ``search_path``).
        handler: receives the other instances' wake-ups.
        connect_timeout: seconds to wait for a connection.
        max_pending: tasks whose wake-ups may wait to be sent (see :data:`MAX_PENDING`).
        reconnect_delay: first and longest backoff (seconds) after a lost connection.

    Run it with ``async with notifier.running(): ...``.
    """

    def __init__(
        self,
        url: str,
        handler: WakeHandler,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        max_pending: int = MAX_PENDING,
        reconnect_delay: tuple[float, float] = RECONNECT_DELAY,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        self._url = url
        self._handler = handler
        self._connect_timeout = connect_timeout
        self._max_pending = max_pending
        self._delay = reconnect_delay
        #: This instance's name in payloads (its own messages are not delivered back).
        self.instance = secrets.token_hex(4)
        self._pending: dict[str, int] = {}
        self._flood = False
        self._cancels: set[str] = set()
        self._cancel_flood = False
        self._work = False
        self._in_flight = False
        self._ready: anyio.Event | None = None
        self._sent: anyio.Event | None = None
        self._running = False
        #: How many times LISTEN was established (1 after start, +1 per reconnect).
        self.connections = 0
        #: True while the LISTEN connection is up.
        self.listening = False
        #: The LISTEN connection's server process id (diagnostics, tests).
        self.listener_pid: int | None = None
        #: The sending connection's server process id, once it is open.
        self.sender_pid: int | None = None

    # --- out ---------------------------------------------------------------------

    def send(self, task_id: str, seq: int) -> None:
        """Queue a wake-up for ``task_id`` at ``seq``; never suspends."""
        key = task_key(task_id)
        pending = self._pending
        if key in pending:
            pending[key] = max(pending[key], seq)
        elif len(pending) >= self._max_pending:
            self._flood = True
            pending.clear()
        elif not self._flood:
            pending[key] = seq
        ready, self._ready = self._ready, None
        if ready is not None:
            ready.set()

    def send_cancel(self, task_id: str) -> None:
        """Queue a cancel wake-up for ``task_id``; never suspends."""
        self._queue_cancel(task_key(task_id))
        ready, self._ready = self._ready, None
        if ready is not None:
            ready.set()

    def send_work(self) -> None:
        """Queue a work wake-up (merged with any pending one); never suspends."""
        self._work = True
        ready, self._ready = self._ready, None
        if ready is not None:
            ready.set()

    def _queue_cancel(self, key: str) -> None:
        if key == WAKE_ALL or len(self._cancels) >= self._max_pending:
            self._cancel_flood = True
            self._cancels.clear()
        elif not self._cancel_flood:
            self._cancels.add(key)

    def _has_pending(self) -> bool:
        return bool(
            self._pending
            or self._flood
            or self._cancels
            or self._cancel_flood
            or self._work
        )

    def _take(self) -> list[str]:
        me = self.instance
        # Cancel wake-ups first: someone is waiting for each of them.
        if self._cancel_flood:
            payloads = [f"{me} {WAKE_ALL} {_CANCEL}"]
        else:
            payloads = [f"{me} {key} {_CANCEL}" for key in self._cancels]
        if self._work:
            payloads.append(f"{me} {WAKE_ALL} {_WORK}")
        if self._flood:
            payloads.append(f"{me} {WAKE_ALL} 0")
        else:
            payloads.extend(f"{me} {key} {seq}" for key, seq in self._pending.items())
        self._pending = {}
        self._flood = False
        self._cancels = set()
        self._cancel_flood = False
        self._work = False
        return payloads

    def _put_back(self, payloads: list[str]) -> None:
        for payload in payloads:
            wake = Wake.parse(payload)
            if wake is None:  # pragma: no cover - we wrote it
                continue
            if wake.cancel:
                self._queue_cancel(wake.key)
            elif wake.work:
                self._work = True
            elif wake.key == WAKE_ALL:
                self._flood = True
                self._pending.clear()
            elif not self._flood:
                self._pending[wake.key] = max(self._pending.get(wake.key, 0), wake.seq)

    async def _publish(self, channel: str) -> None:
        conn: Connection | None = None
        failures = 0
        try:
            while True:
                if not self._has_pending():
                    sent, self._sent = self._sent, None
                    if sent is not None:
                        sent.set()
                    ready = self._ready = anyio.Event()
                    await ready.wait()
                    continue
                payloads = self._take()
                self._in_flight = True
                try:
                    if conn is None:
                        conn = await anyio.to_thread.run_sync(
                            self._connect, "accord-notify"
                        )
                        self.sender_pid = conn.info.backend_pid
                    await anyio.to_thread.run_sync(
                        _execute, conn, _NOTIFY, (channel, payloads)
                    )
                    failures = 0
                except psycopg.Error as exc:
                    self._put_back(payloads)
                    failures += 1
                    _log.warning(
                        "cannot send task wake-ups to %s (attempt %d): %s; retrying",
                        describe(self._url),
                        failures,
                        _first_line(exc),
                    )
                    await _close(conn)
                    conn = None
                    await anyio.sleep(self._backoff(failures))
                finally:
                    self._in_flight = False
        finally:
            await _close(conn)

    async def _flush(self) -> None:
        """Wait (bounded) until what is pending was sent."""
        with anyio.move_on_after(FLUSH_TIMEOUT):
            while self._has_pending() or self._in_flight:
                sent = self._sent = self._sent or anyio.Event()
                await sent.wait()

    # --- in ----------------------------------------------------------------------

    async def _listen(
        self, channel: str, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        failures = 0
        started = False
        while True:
            conn: Connection | None = None
            try:
                conn = await anyio.to_thread.run_sync(self._listener, channel)
                self.connections += 1
                self.listener_pid = conn.info.backend_pid
                self.listening = True
                failures = 0
                if not started:
                    started = True
                    task_status.started()
                # Whatever happened while we were away: logs and cancel requests.
                self._handler.wake_all()
                self._handler.wake_cancel(WAKE_ALL)
                self._handler.wake_work()
                await self._receive(conn.pgconn)
            except psycopg.Error as exc:
                if not started:
                    raise StoreError(
                        f"cannot listen for task events on {describe(self._url)}: "
                        f"{_first_line(exc)}; check that PostgreSQL is running and "
                        "reachable with this URL"
                    ) from exc
                failures += 1
                _log.warning(
                    "lost the task events connection to %s: %s; reconnecting "
                    "(attempt %d)",
                    describe(self._url),
                    _first_line(exc),
                    failures,
                )
            finally:
                self.listening = False
                await _close(conn)
            await anyio.sleep(self._backoff(failures))

    async def _receive(self, pgconn: pq.abc.PGconn) -> None:
        """Deliver notifications until the connection fails (raises psycopg.Error)."""
        while True:
            await anyio.wait_readable(pgconn.socket)
            pgconn.consume_input()  # non-blocking; raises when the connection is lost
            while (note := pgconn.notifies()) is not None:
                wake = Wake.parse(note.extra.decode(errors="replace"))
                if wake is None or wake.instance == self.instance:
                    continue
                if wake.cancel:
                    self._handler.wake_cancel(wake.key)
                elif wake.work:
                    self._handler.wake_work()
                elif wake.key == WAKE_ALL:
                    self._handler.wake_all()
                else:
                    self._handler.wake(wake.key, wake.seq)
            if pgconn.status != pq.ConnStatus.OK:
                raise psycopg.OperationalError("the connection was closed")

    # --- lifetime ----------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[PostgresNotifier]:
        """Listen and publish while inside; send what is pending on the way out.

        Raises:
            StoreError: PostgreSQL cannot be reached at start-up.
            RuntimeError: already running.
        """
        if self._running:
            raise RuntimeError("this PostgresNotifier is already running")
        self._running = True
        try:
            channel = await anyio.to_thread.run_sync(self._channel)
            async with anyio.create_task_group() as tg:
                await tg.start(self._listen, channel)
                tg.start_soon(self._publish, channel)
                try:
                    yield self
                finally:
                    with anyio.CancelScope(shield=True):
                        await self._flush()
                    tg.cancel_scope.cancel()
        finally:
            self._running = False

    def _channel(self) -> str:
        try:
            with psycopg.connect(self._url, **self._kwargs("accord-listen")) as conn:
                row = conn.execute("SELECT current_schema()").fetchone()
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open task events on {describe(self._url)}: "
                f"{_first_line(exc)}; check that PostgreSQL is running and reachable "
                "with this URL"
            ) from exc
        return channel_name(row[0] if row and row[0] else "public")

    def _kwargs(self, name: str) -> dict[str, Any]:
        return {
            **connect_kwargs(self._url, connect_timeout=self._connect_timeout),
            **_KEEPALIVES,
            "application_name": name,
        }

    def _connect(self, name: str) -> Connection:
        return psycopg.connect(self._url, **self._kwargs(name))

    def _listener(self, channel: str) -> Connection:
        conn = self._connect("accord-listen")
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            conn.close()
            raise
        return conn

    def _backoff(self, failures: int) -> float:
        first, longest = self._delay
        delay = min(longest, first * 2.0 ** max(0, failures - 1))
        return delay * random.uniform(0.5, 1.0)  # jitter, not secrecy


def _execute(conn: Connection, query: str, params: tuple[object, ...]) -> None:
    conn.execute(query, params)


async def _close(conn: Connection | None) -> None:
    if conn is not None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(conn.close)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
