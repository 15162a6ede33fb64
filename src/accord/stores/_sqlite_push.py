"""Push-notification configs of the SQLite store (the contract: :mod:`accord.stores.base`).

One row per config in ``push_configs`` (migration 0005), carrying its task's tenant and
owner, so scoped reads filter on the row itself; a config is written only while its
task is visible (``INSERT ... SELECT ... FROM tasks WHERE`` the scope), and the foreign
key deletes it with its task. The row also carries its task's version
(``task_version``, migration 0006): the put copies it, a trigger on ``tasks`` keeps it
up to date. So the claim needs no join: it reads the partial index of live configs
with events past their position (``task_version > delivered_seq``), whose cost is what
is pending, not every config kept.

Reads run on the store's reader; every write runs on the writer, inside its ``BEGIN
IMMEDIATE`` transaction: SQLite's write lock makes :meth:`claim_push_deliveries` hand
each config to one caller, even when several processes share the file. Times (next
attempt, lease expiry) are epoch seconds on the host's clock, which every process on
one file shares. A write that a holder makes (delivered, failed, release) checks that
it still holds the config: one whose lease expired and was claimed by another
deliverer is no longer its to write.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TypeVar

from accord.stores._common import (
    DEFAULT_DEAD_REASON,
    decode_config_cursor,
    encode_config_cursor,
    now_timestamp,
    push_page_size,
    push_record,
    scope_params,
)
from accord.stores.base import PushConfigRecord, PushDelivery

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Sequence

    from accord.stores.base import Scope

__all__ = ["SQLitePush"]

T = TypeVar("T")

_COLUMNS = (
    "task_id, config_id, tenant, owner, data, delivered_seq, failures, dead_reason"
)
_SCOPE = "tenant = ? AND (? IS NULL OR owner = ?)"
# New rows start after ``after_seq``, or the task's version (coalesce), and copy the
# task's version (the trigger of migration 0006 keeps it from then on); a replaced row
# keeps its position and holder, is revived and due at once.
_PUT = (
    "INSERT INTO push_configs (task_id, config_id, tenant, owner, data, delivered_seq,"
    " next_attempt_at, created_at, task_version)"
    " SELECT id, ?, tenant, owner, ?, coalesce(?, version), ?, ?, version FROM tasks"
    " WHERE id = ? AND tenant = ? AND (? IS NULL OR owner = ?)"
    " ON CONFLICT (task_id, config_id) DO UPDATE SET data = excluded.data,"
    " dead_reason = '', failures = 0, next_attempt_at = excluded.next_attempt_at,"
    " task_version = max(task_version, excluded.task_version)"
    f" RETURNING {_COLUMNS}"
)
_GET = (
    f"SELECT {_COLUMNS} FROM push_configs WHERE task_id = ? AND config_id = ?"
    f" AND {_SCOPE}"
)
_PAGE = (
    f"SELECT {_COLUMNS} FROM push_configs WHERE task_id = ? AND {_SCOPE}"
    " AND (? IS NULL OR config_id > ?) ORDER BY config_id LIMIT ?"
)
_DELETE = f"DELETE FROM push_configs WHERE task_id = ? AND config_id = ? AND {_SCOPE}"
# Row-local: the first two conditions are the predicate of the partial index
# ``push_configs_pending`` (SQLite uses it only when the query repeats them), which
# holds live configs with events to deliver, in the order taken.
_PENDING = "task_version > delivered_seq AND dead_reason = ''"
_DUE = (
    f"SELECT {_COLUMNS}, task_version FROM push_configs"
    f" WHERE {_PENDING} AND next_attempt_at <= ?"
    " AND (holder = '' OR lease_expires_at <= ?)"
    " ORDER BY next_attempt_at, task_id, config_id LIMIT ?"
)
_TAKE = (
    "UPDATE push_configs SET holder = ?, lease_expires_at = ?"
    " WHERE task_id = ? AND config_id = ?"
)
_HELD = "task_id = ? AND config_id = ? AND holder = ? AND holder <> ''"
# Delivered: a config that stays held waits behind the others from now on.
_DELIVERED = (
    "UPDATE push_configs SET delivered_seq = max(delivered_seq, ?), failures = 0,"
    f" next_attempt_at = ? WHERE {_HELD}"
)
_RETRY = (
    "UPDATE push_configs SET failures = failures + 1, next_attempt_at = ?,"
    f" holder = '', lease_expires_at = 0 WHERE {_HELD}"
)
_DEAD_LETTER = (
    "UPDATE push_configs SET failures = failures + 1, dead_reason = ?,"
    f" holder = '', lease_expires_at = 0 WHERE {_HELD}"
)
_RELEASE = f"UPDATE push_configs SET holder = '', lease_expires_at = 0 WHERE {_HELD}"
_RENEW = f"UPDATE push_configs SET lease_expires_at = ? WHERE {_HELD}"
_DEAD = (
    f"SELECT {_COLUMNS} FROM push_configs WHERE dead_reason <> '' AND {_SCOPE}"
    " ORDER BY task_id, config_id LIMIT ?"
)
_REVIVE = (
    "UPDATE push_configs SET dead_reason = '', failures = 0, next_attempt_at = ?"
    f" WHERE task_id = ? AND config_id = ? AND dead_reason <> '' AND {_SCOPE}"
)


class SQLitePush:
    """The push-config methods of :class:`~accord.stores.SQLiteTaskStore` (a mixin)."""

    if TYPE_CHECKING:  # provided by the store this class is mixed into

        async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

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
        created_at = now_timestamp()

        def run(conn: sqlite3.Connection) -> PushConfigRecord | None:
            new = (config_id, data, after_seq, time.time(), created_at)
            rows = conn.execute(_PUT, (*new, task_id, *scope_params(scope))).fetchall()
            return push_record(rows[0]) if rows else None

        return await self._write(run)

    async def get_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> PushConfigRecord | None:
        """Return the config if its task is visible within ``scope``, else None."""

        def run(conn: sqlite3.Connection) -> PushConfigRecord | None:
            rows = conn.execute(
                _GET, (task_id, config_id, *scope_params(scope))
            ).fetchall()
            return push_record(rows[0]) if rows else None

        return await self._read(run)

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

        def run(conn: sqlite3.Connection) -> tuple[list[PushConfigRecord], str]:
            page = [push_record(row) for row in conn.execute(_PAGE, params).fetchall()]
            if len(page) <= size:
                return page, ""
            return page[:size], encode_config_cursor(page[size - 1].config_id)

        return await self._read(run)

    async def delete_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> bool:
        """Delete the config; False when there was none within ``scope``."""

        def run(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(_DELETE, (task_id, config_id, *scope_params(scope)))
            return cur.rowcount == 1

        return await self._write(run)

    # --- delivery ----------------------------------------------------------------------

    async def claim_push_deliveries(
        self, *, holder: str, seconds: float, limit: int
    ) -> list[PushDelivery]:
        """Lease up to ``limit`` due configs to ``holder``, the longest-waiting first."""
        if not holder:
            raise ValueError("claim_push_deliveries needs a holder ('' is nobody)")

        def run(conn: sqlite3.Connection) -> list[PushDelivery]:
            now = time.time()
            rows = conn.execute(_DUE, (now, now, max(limit, 0))).fetchall()
            conn.executemany(
                _TAKE, [(holder, now + seconds, row[0], row[1]) for row in rows]
            )
            return [PushDelivery(push_record(row[:8]), row[8], holder) for row in rows]

        return await self._write(run)

    async def push_delivered(
        self, task_id: str, config_id: str, *, holder: str, seq: int
    ) -> bool:
        """Record delivery up to ``seq`` (failures reset, lease kept); False when
        ``holder`` no longer holds the config."""

        def run(conn: sqlite3.Connection) -> bool:
            params = (seq, time.time(), task_id, config_id, holder)
            return conn.execute(_DELIVERED, params).rowcount == 1

        return await self._write(run)

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

        def run(conn: sqlite3.Connection) -> bool:
            key = (task_id, config_id, holder)
            if retry_in is None:
                cur = conn.execute(_DEAD_LETTER, (reason or DEFAULT_DEAD_REASON, *key))
            else:
                cur = conn.execute(_RETRY, (time.time() + retry_in, *key))
            return cur.rowcount == 1

        return await self._write(run)

    async def release_push(self, task_id: str, config_id: str, *, holder: str) -> None:
        """Release the lease ``holder`` holds on the config."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(_RELEASE, (task_id, config_id, holder))

        await self._write(run)

    async def renew_push_leases(
        self, keys: Sequence[tuple[str, str]], *, holder: str, seconds: float
    ) -> int:
        """Hold for ``seconds`` more the configs of ``keys`` ``holder`` still holds;
        how many."""

        def run(conn: sqlite3.Connection) -> int:
            until = time.time() + seconds
            return sum(
                conn.execute(_RENEW, (until, task_id, config_id, holder)).rowcount
                for task_id, config_id in keys
            )

        return await self._write(run) if keys else 0

    async def dead_push_configs(
        self, *, scope: Scope, limit: int = 100
    ) -> list[PushConfigRecord]:
        """The dead-lettered configs within ``scope``, in (task, config) id order."""

        def run(conn: sqlite3.Connection) -> list[PushConfigRecord]:
            rows = conn.execute(_DEAD, (*scope_params(scope), max(limit, 0))).fetchall()
            return [push_record(row) for row in rows]

        return await self._read(run)

    async def revive_push_config(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> bool:
        """Make a dead-lettered config live and due at once; False when there is no
        dead-lettered config of that id within ``scope``."""

        def run(conn: sqlite3.Connection) -> bool:
            params = (time.time(), task_id, config_id, *scope_params(scope))
            return conn.execute(_REVIVE, params).rowcount == 1

        return await self._write(run)
