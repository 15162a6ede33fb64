"""Push-notification configs of the PostgreSQL store (the contract: :mod:`accord.stores.base`).

One row per config in ``push_configs`` (migration 0004), carrying its task's tenant and
owner, so scoped reads filter on the row itself (and row-level security scopes it like
the task's rows); a config is written only while its task is visible (``INSERT ...
SELECT ... FROM tasks WHERE`` the scope), and the foreign key deletes it with its task.

The row also carries its task's version (``task_version``, migration 0005): the put
copies it, a trigger on ``tasks`` keeps it up to date (the migration's header explains
why no concurrent append, delivery or put can undo another's column). So the claim
needs no join: it reads the partial index of live configs with events past their
position (``task_version > delivered_seq``), whose cost is what is pending, not every
config kept.

Times (next attempt, delivery lease) are on the database's clock (``now()``), so
instance clocks need not agree. :meth:`PostgresPush.claim_push_deliveries` locks the
config rows it takes with ``FOR UPDATE SKIP LOCKED`` (it reads no task row: a task row
locked by an append does not hide its configs): instances claiming at once each get
different configs and never wait for each other. A write that a holder makes
(delivered, failed, release) checks that it still holds the config: one whose lease
expired and was claimed by another deliverer is no longer its to write.

A lost connection is handled by the rules of :mod:`accord.stores._postgres_retry`; the
rows for these operations are in its table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from accord.errors import StoreError
from accord.stores._common import (
    DEFAULT_DEAD_REASON,
    decode_config_cursor,
    encode_config_cursor,
    push_page_size,
    push_record,
    scope_params,
)
from accord.stores._postgres_part import PostgresPart
from accord.stores.base import PushConfigRecord, PushDelivery
from accord.stores.postgres_db import ForeignKeyViolation

if TYPE_CHECKING:
    from collections.abc import Sequence

    import psycopg
    from psycopg.rows import TupleRow

    from accord.stores.base import Scope

    Cursor = psycopg.Cursor[TupleRow]

__all__ = ["PostgresPush"]

T = TypeVar("T")

_COLUMNS = (
    "task_id, config_id, tenant, owner, data, delivered_seq, failures, dead_reason"
)
_SCOPE = "tenant = %s AND (%s::text IS NULL OR owner = %s)"
_KEY = "task_id = %s AND config_id = %s"
# New rows start after ``after_seq``, or the task's version (coalesce), and copy the
# task's version (the trigger keeps it from then on); a replaced row keeps its position
# and holder, is revived and due at once. ``FOR SHARE``: an append of the task that has
# not committed is waited for (its trigger cannot see the new row), and one that comes
# later waits for this put, so its trigger sees the row (migration 0005).
_PUT = (
    "INSERT INTO push_configs (task_id, config_id, tenant, owner, data, delivered_seq,"
    " task_version)"
    " SELECT id, %s, tenant, owner, %s, coalesce(%s::integer, version), version"
    f" FROM tasks WHERE id = %s AND {_SCOPE} FOR SHARE"
    " ON CONFLICT (task_id, config_id) DO UPDATE SET data = excluded.data,"
    " dead_reason = '', failures = 0, next_attempt_at = now(),"
    " task_version = greatest(push_configs.task_version, excluded.task_version)"
    f" RETURNING {_COLUMNS}"
)
_GET = f"SELECT {_COLUMNS} FROM push_configs WHERE {_KEY} AND {_SCOPE}"
_PAGE = (
    f"SELECT {_COLUMNS} FROM push_configs WHERE task_id = %s AND {_SCOPE}"
    " AND (%s::text IS NULL OR config_id > %s) ORDER BY config_id LIMIT %s"
)
_DELETE = f"DELETE FROM push_configs WHERE {_KEY} AND {_SCOPE}"
# Row-local: the first two conditions are the predicate of the partial index
# ``push_configs_pending``, which holds live configs with events to deliver, in the
# order taken. A row locked after it changed is re-checked against all of them.
_CLAIM = (
    "WITH picked AS (SELECT task_id, config_id FROM push_configs"
    " WHERE task_version > delivered_seq AND dead_reason = ''"
    " AND next_attempt_at <= now() AND (holder = '' OR lease_expires_at <= now())"
    " ORDER BY next_attempt_at, task_id, config_id LIMIT %s"
    " FOR UPDATE SKIP LOCKED),"
    " taken AS (UPDATE push_configs p SET holder = %s,"
    " lease_expires_at = now() + make_interval(secs => %s) FROM picked"
    " WHERE p.task_id = picked.task_id AND p.config_id = picked.config_id"
    " RETURNING p.task_id, p.config_id, p.tenant, p.owner, p.data, p.delivered_seq,"
    " p.failures, p.dead_reason, p.task_version, p.next_attempt_at)"
    " SELECT * FROM taken ORDER BY next_attempt_at, task_id, config_id"
)
_HELD = f"{_KEY} AND holder = %s AND holder <> ''"
# Delivered: a config that stays held waits behind the others from now on.
_DELIVERED = (
    "UPDATE push_configs SET delivered_seq = greatest(delivered_seq, %s),"
    f" failures = 0, next_attempt_at = now() WHERE {_HELD}"
)
_RETRY = (
    "UPDATE push_configs SET failures = failures + 1,"
    " next_attempt_at = now() + make_interval(secs => %s), holder = '',"
    f" lease_expires_at = '-infinity' WHERE {_HELD}"
)
_DEAD_LETTER = (
    "UPDATE push_configs SET failures = failures + 1, dead_reason = %s, holder = '',"
    f" lease_expires_at = '-infinity' WHERE {_HELD}"
)
_RELEASE = (
    f"UPDATE push_configs SET holder = '', lease_expires_at = '-infinity' WHERE {_HELD}"
)
# The keys as two arrays, matched by the primary key.
_RENEW = (
    "UPDATE push_configs p SET lease_expires_at = now() + make_interval(secs => %s)"
    " FROM unnest(%s::text[], %s::text[]) AS k(task_id, config_id)"
    " WHERE p.task_id = k.task_id AND p.config_id = k.config_id"
    " AND p.holder = %s AND p.holder <> ''"
)
_DEAD = (
    f"SELECT {_COLUMNS} FROM push_configs WHERE dead_reason <> '' AND {_SCOPE}"
    " ORDER BY task_id, config_id LIMIT %s"
)
_REVIVE = (
    "UPDATE push_configs SET dead_reason = '', failures = 0, next_attempt_at = now()"
    f" WHERE {_KEY} AND dead_reason <> '' AND {_SCOPE}"
)
# For a write whose COMMIT outcome is unknown: is the row still as before the write?
_STILL_THERE = f"SELECT 1 FROM push_configs WHERE {_KEY}"
_STILL_HELD = f"SELECT 1 FROM push_configs WHERE {_HELD}"
_STILL_DEAD = f"SELECT 1 FROM push_configs WHERE {_KEY} AND dead_reason <> ''"


class _Change:
    """A one-row write (delete, failed, revive) that returns whether it matched.

    ``verify`` settles a lost COMMIT: when the attempt matched the row and ``before``
    (the row still as the write found it) finds nothing now, the write committed
    (True); otherwise it did not (None: the call runs again and answers itself).
    """

    def __init__(self, sql: str, params: tuple[object, ...], before: str) -> None:
        self._sql = sql
        self._params = params
        self._before = before
        self._matched = False

    def run(self, cur: Cursor) -> bool:
        cur.execute(self._sql, self._params)
        self._matched = cur.rowcount == 1
        return self._matched

    def verify(self, cur: Cursor, key: tuple[object, ...]) -> bool | None:
        if not self._matched:
            return None
        return True if cur.execute(self._before, key).fetchone() is None else None


class PostgresPush(PostgresPart):
    """The push-config methods of :class:`~accord.stores.postgres.PostgresTaskStore`."""

    async def put_push_config(
        self,
        task_id: str,
        config_id: str,
        data: bytes,
        *,
        scope: Scope,
        after_seq: int | None = None,
    ) -> PushConfigRecord | None:
        """Create the config or replace its data (keeping its delivery position, and
        reviving it); None when the task is not visible within ``scope``."""
        params = (config_id, data, after_seq, task_id, *scope_params(scope))

        def run(cur: Cursor) -> PushConfigRecord | None:
            row = cur.execute(_PUT, params).fetchone()
            return None if row is None else push_record(row)

        # COMMIT outcome unknown: run again (it sets the same row again; a new config
        # that committed is replaced by itself, keeping its position).
        try:
            return await self._run(run, tenant=scope.tenant)
        except StoreError as exc:
            if isinstance(exc.__cause__, ForeignKeyViolation):
                return None  # the task was deleted meanwhile (retention)
            raise

    async def get_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> PushConfigRecord | None:
        """Return the config if its task is visible within ``scope``, else None."""
        params = (task_id, config_id, *scope_params(scope))

        def run(cur: Cursor) -> PushConfigRecord | None:
            row = cur.execute(_GET, params).fetchone()
            return None if row is None else push_record(row)

        return await self._run(run, tenant=scope.tenant)

    async def list_push_configs(
        self, task_id: str, *, scope: Scope, page_size: int, cursor: str = ""
    ) -> tuple[list[PushConfigRecord], str]:
        """One page of the task's configs in ``config_id`` order, and the next cursor.

        Raises:
            InvalidParamsError: the cursor is not one this store issued.
        """
        after = decode_config_cursor(cursor) if cursor else None
        size = push_page_size(page_size)
        # One extra row tells whether a next page exists.
        params = (task_id, *scope_params(scope), after, after, size + 1)

        def run(cur: Cursor) -> tuple[list[PushConfigRecord], str]:
            page = [push_record(row) for row in cur.execute(_PAGE, params).fetchall()]
            if len(page) <= size:
                return page, ""
            return page[:size], encode_config_cursor(page[size - 1].config_id)

        return await self._run(run, tenant=scope.tenant)

    async def delete_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> bool:
        """Delete the config; False when there was none within ``scope``."""
        key = (task_id, config_id)
        change = _Change(_DELETE, (*key, *scope_params(scope)), _STILL_THERE)
        return await self._run(
            change.run,
            tenant=scope.tenant,
            verify=lambda cur: change.verify(cur, key),
        )

    # --- delivery ----------------------------------------------------------------------

    async def claim_push_deliveries(
        self, *, holder: str, seconds: float, limit: int
    ) -> list[PushDelivery]:
        """Lease up to ``limit`` due configs to ``holder``, the longest-waiting first."""
        if not holder:
            raise ValueError("claim_push_deliveries needs a holder ('' is nobody)")
        params = (max(limit, 0), holder, seconds)

        def run(cur: Cursor) -> list[PushDelivery]:
            rows = cur.execute(_CLAIM, params).fetchall()
            return [PushDelivery(push_record(row), row[8], holder) for row in rows]

        # COMMIT outcome unknown: fail; what it claimed is claimed again once the
        # lease expires (as claim_expired).
        return await self._run(run, tenant=None, rerun_unknown=False)

    async def push_delivered(
        self, task_id: str, config_id: str, *, holder: str, seq: int
    ) -> bool:
        """Record delivery up to ``seq`` (failures reset, lease kept); False when
        ``holder`` no longer holds the config."""
        params = (seq, task_id, config_id, holder)

        def run(cur: Cursor) -> bool:
            cur.execute(_DELIVERED, params)
            return cur.rowcount == 1

        # COMMIT outcome unknown: run again (greatest() and a reset: the same state).
        return await self._run(run, tenant=None)

    async def push_failed(
        self,
        task_id: str,
        config_id: str,
        *,
        holder: str,
        retry_in: float | None,
        reason: str,
    ) -> bool:
        """Record a failed attempt and release the lease: due again in ``retry_in``
        seconds, or dead-lettered with ``reason`` (None); False when ``holder`` no
        longer holds the config."""
        key = (task_id, config_id, holder)
        if retry_in is None:
            change = _Change(
                _DEAD_LETTER, (reason or DEFAULT_DEAD_REASON, *key), _STILL_HELD
            )
        else:
            change = _Change(_RETRY, (retry_in, *key), _STILL_HELD)
        # COMMIT outcome unknown: released (no longer ours) means it committed; still
        # ours means it did not, and it runs again (failures counted once).
        return await self._run(
            change.run, tenant=None, verify=lambda cur: change.verify(cur, key)
        )

    async def release_push(self, task_id: str, config_id: str, *, holder: str) -> None:
        """Release the lease ``holder`` holds on the config."""
        params = (task_id, config_id, holder)

        def run(cur: Cursor) -> None:
            cur.execute(_RELEASE, params)

        await self._run(run, tenant=None)

    async def renew_push_leases(
        self, keys: Sequence[tuple[str, str]], *, holder: str, seconds: float
    ) -> int:
        """Hold for ``seconds`` more the configs of ``keys`` ``holder`` still holds;
        how many."""
        if not keys:
            return 0
        tasks = [task_id for task_id, _ in keys]
        configs = [config_id for _, config_id in keys]
        params = (seconds, tasks, configs, holder)

        def run(cur: Cursor) -> int:
            return cur.execute(_RENEW, params).rowcount

        return await self._run(run, tenant=None)

    async def dead_push_configs(
        self, *, scope: Scope, limit: int = 100
    ) -> list[PushConfigRecord]:
        """The dead-lettered configs within ``scope``, in (task, config) id order."""
        params = (*scope_params(scope), max(limit, 0))

        def run(cur: Cursor) -> list[PushConfigRecord]:
            return [push_record(row) for row in cur.execute(_DEAD, params).fetchall()]

        return await self._run(run, tenant=scope.tenant)

    async def revive_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> bool:
        """Make a dead-lettered config live and due at once; False when there is no
        dead-lettered config of that id within ``scope``."""
        key = (task_id, config_id)
        change = _Change(_REVIVE, (*key, *scope_params(scope)), _STILL_DEAD)
        return await self._run(
            change.run, tenant=scope.tenant, verify=lambda cur: change.verify(cur, key)
        )
