"""Store calls that survive a lost PostgreSQL connection: the retry rules.

Theory of operation. A PostgreSQL restart (or a failover, or an idle connection cut
by a firewall) leaves the pool holding connections whose server end is gone; the pool
only learns it when one is used. :class:`Calls` runs each store call as one explicit
transaction (``BEGIN`` ... ``COMMIT``) on a pooled connection and, when the
connection is lost (a psycopg ``OperationalError`` that leaves the connection broken:
server closed the connection, ``AdminShutdown``, ``CrashShutdown``), decides by where
it was lost:

* **Before COMMIT was sent.** PostgreSQL rolls back the transaction of a connection
  that goes away, so nothing of the call was applied: it is run again on another
  connection, whatever it does.
* **While COMMIT was in flight** (sent, no answer): the transaction may or may not
  have committed. A write is never blindly run again; each operation says how to
  settle it (the table). ``verify`` runs in a fresh transaction and returns the
  call's result when the write is found applied, or None when it is found not applied
  (then the call runs again).

======================  =============================  ===========================================
operation               COMMIT outcome unknown         why that is safe
======================  =============================  ===========================================
get, events,            run again                      read only: nothing to apply twice
list, unfinished,
expired_leases
create                  verify: task row and event 1   the task id is the primary key: a row
                        are ours -> applied; no row    with our owner, tenant and first event is
                        -> run again                   our commit; any other row makes the re-run
                                                       raise ConflictError, as it should
append                  verify: version >= seq and     optimistic concurrency: the version moves
                        event ``seq`` is ours ->       only by a committed append; still at
                        applied; version unchanged     ``expected_version`` means not applied; any
                        -> run again                   other version is someone else's: Conflict
acquire_lease           verify: lease held by us ->    an acquire that committed left our holder
                        applied; else run again        on the row; the re-run inserts or finds it
                                                       held by another (None, as without the loss)
renew_leases,           run again                      they set an absolute state (expiry from
release_lease,                                         ``now()``, row deleted, flag set): applying
request_cancel,                                        twice equals applying once; a purge batch
purges                                                 re-run deletes what is still due
claim_expired           fail (StoreUnavailableError)   a claim that committed but is unknown to
                                                       the sweep is never run here: those leases
                                                       expire again and the next sweep (of any
                                                       instance) takes them over, one lease later
put_push_config         run again                      an upsert: a new config that committed is
                                                       replaced by itself (same data, position
                                                       kept); a replace is an absolute state
get_push_config,        run again                      read only
list_push_configs,
dead_push_configs
push_delivered,         run again                      absolute states (the position by
release_push,                                          ``greatest()``, a reset, the lease let
renew_push_leases                                      go, an expiry from ``now()``): applying
                                                       twice equals applying once
delete_push_config,     verify: the attempt matched    a matched row that is gone (deleted),
push_failed,            the row and it no longer is    released (failed) or live (revived) is
revive_push_config      as found -> applied (True);    our commit; as found means not applied,
                        else run again                 and the re-run answers for itself
claim_push_deliveries   fail (StoreUnavailableError)   as claim_expired: the configs it took
                                                       are claimed again once their delivery
                                                       lease expires
======================  =============================  ===========================================

``create`` and ``append`` run pipelined (``pipeline=True``: their statements and COMMIT
go out together), so a loss anywhere in them counts as "while COMMIT was in flight"
and their ``verify`` settles it; a lease they write or delete (``holder=``,
``release=``) is in the same transaction, so the same check covers it.

After a loss the pool is checked at once (:meth:`psycopg_pool.ConnectionPool.check`:
one round trip per idle connection, a dead one fails at once), so a restart costs each
call at most one failed attempt, not one per stale connection. A call is tried at most
:data:`ATTEMPTS` times, within the store's ``connect_timeout`` of waiting for
connections.

Checking every connection as it leaves the pool (``check=ConnectionPool.check_connection``)
was measured instead: +35 to +85 us per call (a round trip; p50 of a one-statement
transaction 107 -> 142 us and 251 -> 336 us on the 2-core test machine), on every call,
for a loss that the retry handles at no cost until it happens, and that the check
cannot catch anyway when the connection dies during the call.

**Outage.** While PostgreSQL is down a call waits for a connection (the pool keeps
reconnecting, every 1-2 s: ``reconnect_timeout`` :data:`RECONNECT_WINDOW`, then a new
attempt on the next call) for up to ``connect_timeout``, which rides through a quick
restart. Once a call has failed that way the database is *known unreachable*: later
calls wait only :data:`UNREACHABLE_WAIT` before failing with
:class:`~accord.errors.StoreUnavailableError` (HTTP 503, ``Retry-After``), instead of
each holding its request for the whole timeout; the first call that gets through ends
that state. Both transitions are logged once (warning, then info). A wait that times
out while PostgreSQL accepts a new connection (checked once) is a busy pool, not a
down database: the error says so and nothing is marked. The store bounds the wait of
calls queued beyond ``pool_size`` (its limiter) by :meth:`Calls.wait` as well.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import suppress
from typing import TYPE_CHECKING, TypeVar

# psycopg is there: importing postgres_db (above) says what to install otherwise.
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from accord.errors import StoreUnavailableError
from accord.stores.postgres_db import describe, store_errors

if TYPE_CHECKING:
    from collections.abc import Callable

    from psycopg.rows import TupleRow

    Connection = psycopg.Connection[TupleRow]
    Cursor = psycopg.Cursor[TupleRow]

__all__ = [
    "ATTEMPTS",
    "RECONNECT_WINDOW",
    "UNREACHABLE_WAIT",
    "Calls",
    "commit",
    "connection_lost",
]

_log = logging.getLogger("accord.stores.postgres")
T = TypeVar("T")

#: Tries of one call, the first included, when its connection is lost.
ATTEMPTS = 3

#: Seconds a call waits for a connection while the database is known unreachable.
UNREACHABLE_WAIT = 1.0

#: The pool's ``reconnect_timeout``: how long one chain of reconnection attempts (1 s,
#: then 2 s apart) goes on before the pool gives up until the next call asks. Short, so
#: the pool's backoff never grows past 2 s and an instance serves again within about
#: 2 s of PostgreSQL coming back, whatever the length of the outage.
RECONNECT_WINDOW = 5.0

_LOST_ALWAYS = (psycopg.errors.AdminShutdown, psycopg.errors.CrashShutdown)


def connection_lost(exc: BaseException, conn: Connection) -> bool:
    """Whether ``exc`` means the connection is gone (not a statement's own error).

    An OperationalError the server did not send (no SQLSTATE: "server closed the
    connection unexpectedly", "cannot exit pipeline mode while busy") comes from the
    connection, even before psycopg marks it broken, as in a pipeline that the server
    cut in the middle; one with a SQLSTATE (a statement timeout, a lock) is the
    statement's own.
    """
    if isinstance(exc, _LOST_ALWAYS):
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    return conn.broken or conn.closed or exc.sqlstate is None


def commit(conn: Connection) -> None:
    """Send COMMIT (a seam: tests cut the connection here)."""
    conn.execute("COMMIT")


class _Lost(Exception):
    """The connection was lost; ``at_commit``: while COMMIT was in flight."""

    def __init__(self, at_commit: bool, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.at_commit = at_commit


class _NoConnection(Exception):
    """No pooled connection within the wait."""


class Calls:
    """Run store calls on ``pool`` with the rules of the module docstring."""

    def __init__(self, pool: ConnectionPool, url: str, connect_timeout: float) -> None:
        self._pool = pool
        self._url = url
        self._connect_timeout = connect_timeout
        #: The COMMIT step (tests replace it to cut the connection there).
        self.commit: Callable[[Connection], None] = commit
        self._lock = threading.Lock()
        self._down_since: float | None = None  # time.monotonic(); None: reachable
        #: Calls run again after a lost connection (diagnostics, tests).
        self.retries = 0

    @property
    def unreachable(self) -> bool:
        """Whether the database is known unreachable (calls fail fast)."""
        return self._down_since is not None

    def run(
        self,
        fn: Callable[[Cursor], T],
        *,
        begin: Callable[[Cursor], None],
        doing: str,
        verify: Callable[[Cursor], T | None] | None = None,
        rerun_unknown: bool = True,
        pipeline: bool = False,
    ) -> T:
        """Run ``fn`` in one transaction (``begin`` opens it); blocking.

        With ``pipeline``, ``BEGIN``, ``begin``, ``fn`` and ``COMMIT`` run in psycopg's
        pipeline mode: statements go out without waiting for each other's answers, so
        the transaction costs one round trip plus one per result ``fn`` reads, not one
        per statement. ``fn`` must then read no ``rowcount``, and a statement's error
        surfaces after ``fn`` returns (``on_error`` translates it). Requires
        ``verify``: a lost connection always leaves the outcome unknown.

        Raises:
            StoreUnavailableError: no connection, or lost on every attempt, or the
                outcome of a write that may not be re-run is unknown.
            StoreError: any other database failure.
        """
        started = time.monotonic()
        settling = False  # the last attempt lost its COMMIT: run ``verify`` first
        for attempt in range(1, ATTEMPTS + 1):
            wait = self.wait()
            try:
                with store_errors(
                    self._url, doing, connect_timeout=self._connect_timeout
                ):
                    try:
                        result = self._attempt(
                            fn, begin, verify if settling else None, wait, pipeline
                        )
                    except PoolTimeout as exc:  # not store_errors' generic text
                        raise _NoConnection from exc
            except _Lost as lost:
                self.retries += 1
                if lost.at_commit and not settling:
                    if verify is None and not rerun_unknown:
                        raise self._unavailable(
                            doing,
                            f"the connection was lost during COMMIT ({lost}), so "
                            "whether it was applied is unknown",
                        ) from lost
                    settling = verify is not None
                left = ATTEMPTS - attempt
                _log.info("%s: connection lost (%s); %d tries left", doing, lost, left)
                with suppress(Exception):
                    self._pool.check()  # drop the other stale connections at once
                if left == 0 or time.monotonic() - started > self._connect_timeout:
                    self._mark_down(doing, lost)
                    raise self._unavailable(
                        doing, f"the connection was lost {attempt} times ({lost})"
                    ) from lost
            except _NoConnection as exc:
                if not self.unreachable and self._reachable():
                    raise self.no_slot(doing) from exc
                self._mark_down(doing, exc.__cause__ or exc)
                raise self._unavailable(
                    doing, f"no connection could be made within {wait:g} s"
                ) from exc
            else:
                self._mark_up()
                return result
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        fn: Callable[[Cursor], T],
        begin: Callable[[Cursor], None],
        verify: Callable[[Cursor], T | None] | None,
        wait: float,
        pipeline: bool = False,
    ) -> T:
        with self._pool.connection(timeout=wait) as conn:
            if verify is not None:
                found = self._transaction(conn, begin, verify)
                if found is not None:
                    return found
            return self._transaction(conn, begin, fn, pipeline)

    def _transaction(
        self,
        conn: Connection,
        begin: Callable[[Cursor], None],
        fn: Callable[[Cursor], T],
        pipeline: bool = False,
    ) -> T:
        committing = False
        try:
            with conn.cursor() as cur:
                if pipeline:
                    # COMMIT goes out with the statements: a loss anywhere in the
                    # pipeline leaves the outcome unknown (``verify`` settles it).
                    committing = True
                    with conn.pipeline():
                        cur.execute("BEGIN")
                        begin(cur)
                        result = fn(cur)
                        self.commit(conn)
                    return result
                cur.execute("BEGIN")
                begin(cur)
                result = fn(cur)
            committing = True
            self.commit(conn)
        except BaseException as exc:
            if connection_lost(exc, conn):
                raise _Lost(committing, exc) from exc
            if (pipeline or not committing) and not conn.closed:
                # A failed pipeline skipped its COMMIT: the transaction is open.
                with suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
            raise
        return result

    def wait(self) -> float:
        """Seconds a call may wait for a connection now."""
        return UNREACHABLE_WAIT if self.unreachable else self._connect_timeout

    def no_slot(self, doing: str) -> StoreUnavailableError:
        """The error of a call that found no free connection within :meth:`wait`."""
        if self.unreachable:
            return self._unavailable(doing, "no connection could be made")
        return StoreUnavailableError(
            f"{doing}: no free connection to {describe(self._url)} within "
            f"{self.wait():g} s: every pooled connection is in use (calls slowed by "
            "the database, or more load than the store's pool_size serves)"
        )

    def _reachable(self) -> bool:
        """Whether a new connection can be made now (the pool may be only busy)."""
        try:
            psycopg.connect(self._url, connect_timeout=2).close()
        except psycopg.Error:
            return False
        return True

    def _unavailable(self, doing: str, why: str) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"{doing}: PostgreSQL at {describe(self._url)} is unreachable: {why}. "
            "Clients are answered UNAVAILABLE (503) and may retry; the store "
            "reconnects by itself once PostgreSQL is back: check that it is running "
            "and reachable at that address"
        )

    def _mark_down(self, doing: str, exc: BaseException) -> None:
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
        _log.warning(
            "PostgreSQL at %s is unreachable (%s: %s); store calls fail fast with "
            "StoreUnavailableError until it is back",
            describe(self._url),
            doing,
            exc,
        )

    def _mark_up(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            _log.info(
                "PostgreSQL at %s is reachable again after %.1f s",
                describe(self._url),
                time.monotonic() - since,
            )
