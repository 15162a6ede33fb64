"""The ListTasks statements of the PostgreSQL store (spec §3.1.4), built from a query.

Theory of operation. A page is one statement: the filters, the keyset condition
``(status_ts, id) < (cursor)`` and ``ORDER BY status_ts DESC, id DESC LIMIT n + 1``,
with the total (the filters without the cursor) counted by a scalar subquery of the
same statement, so the page and its total come from one snapshot. Scope equality
(``tenant``, ``owner``) and ``context_id`` lead the indexes of the migration
(``tasks_by_scope``, ``tasks_by_context``), whose ``status_ts DESC, id DESC`` tail
gives the order and the keyset condition without a sort: a page costs its own rows,
however deep in the list it is. The ordering and the cursor are those of
:mod:`accord.stores._common`, shared with the other stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from accord.stores._common import (
    decode_cursor,
    effective_page_size,
    effective_state,
    effective_timestamp,
)

if TYPE_CHECKING:
    from accord.stores.base import TaskQuery

__all__ = ["ListStatements", "list_statements"]


@dataclass(frozen=True, slots=True)
class ListStatements:
    """The statements (and parameters) that answer one ListTasks query."""

    #: ``id, body, total`` of up to ``size + 1`` tasks, in list order.
    page_sql: str
    page_params: tuple[object, ...]
    #: The total alone, for a page that came back empty.
    count_sql: str
    count_params: tuple[object, ...]
    size: int


def list_statements(query: TaskQuery) -> ListStatements:
    """The statements for ``query``.

    Raises:
        InvalidParamsError: the cursor is not one this store issued.
    """
    below = decode_cursor(query.cursor) if query.cursor else None
    scope = query.scope
    where, params = ["tenant = %s"], [scope.tenant]
    if scope.owner is not None:
        where.append("owner = %s")
        params.append(scope.owner)
    if query.context_id:
        where.append("context_id = %s")
        params.append(query.context_id)
    if (state := effective_state(query.state)) is not None:
        where.append("state = %s")
        params.append(state.value)
    if (after := effective_timestamp(query.status_after)) is not None:
        # Spec §3.1.4: statusTimestampAfter keeps status.timestamp >= value.
        where.append("status_ts >= %s")
        params.append(after)
    matching = " AND ".join(where)
    count_sql = f"SELECT count(*) FROM tasks WHERE {matching}"
    page_where = matching
    page_params: list[object] = [*params, *params]
    if below is not None:
        page_where += " AND (status_ts, id) < (%s, %s)"
        page_params.extend(below)
    size = effective_page_size(query.page_size)
    page_params.append(size + 1)  # one extra row tells whether a next page exists
    page_sql = (
        f"SELECT id, body, ({count_sql}) FROM tasks WHERE {page_where}"
        " ORDER BY status_ts DESC, id DESC LIMIT %s"
    )
    return ListStatements(
        page_sql=page_sql,
        page_params=tuple(page_params),
        count_sql=count_sql,
        count_params=tuple(params),
        size=size,
    )
