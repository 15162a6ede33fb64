"""The base of the parts :class:`~accord.stores.postgres.PostgresTaskStore` is made
of (retention, leases, push configs, audit): each runs its statements through the
store's one ``_run``, which owns the connection, the transaction, the tenant setting
and the retries (:mod:`accord.stores._postgres_retry`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    import psycopg
    from psycopg.rows import TupleRow

    Cursor = psycopg.Cursor[TupleRow]

__all__ = ["PostgresPart"]

T = TypeVar("T")


class PostgresPart:
    """Declares what the parts use of the store they are mixed into."""

    if TYPE_CHECKING:  # provided by PostgresTaskStore

        async def _run(
            self,
            fn: Callable[[Cursor], T],
            *,
            tenant: str | None,
            write: bool = False,
            verify: Callable[[Cursor], T | None] | None = None,
            rerun_unknown: bool = True,
        ) -> T: ...
