"""What all task stores share: scope checks, state classes, ListTasks order, cursors.

Theory of operation. Both stores must answer ListTasks identically, so the ordering and
the cursor live here. Tasks are ordered by the *sort key* ``(status_ts, id)``,
descending: newest ``status.timestamp`` first, task id as the tie-breaker (spec §3.1.4
only asks for newest first; the id makes the order total, which keyset pagination
needs). A task whose status carries no timestamp has ``status_ts == ""``, which sorts
below every canonical timestamp and so lands last. Canonical timestamps are fixed-width
UTC strings, so string order is chronological; and UTF-8 byte order (SQLite's
``BINARY`` collation) equals code point order (Python's ``str`` comparison), so both
stores agree on ties too.

The cursor (``pageToken``) is opaque to clients: ``base64url("1|<status_ts>|<id>")``
of the last task on the page. The next page holds the tasks whose sort key is strictly
below it. Because it is keyset pagination, not an offset, pages stay consistent while
tasks are added. A token that does not decode to this shape is an
``InvalidParamsError``.

ListTaskPushNotificationConfigs pages a task's configs by ``config_id`` (keyset, in
code point order: Python's, SQLite's ``BINARY`` and PostgreSQL's ``"C"`` collation
agree). Its token is ``base64url("c1|<config_id>")`` of the page's last config
(:func:`encode_config_cursor`); the ``c1`` tag keeps the two kinds of token apart.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

from accord._clock import now_timestamp
from accord.errors import InvalidParamsError
from accord.stores.base import MAX_PAGE_SIZE, PushConfigRecord
from accord.types import TaskState, normalize_timestamp

if TYPE_CHECKING:
    from collections.abc import Sequence

    from accord.stores.base import Scope
    from accord.types import Task

__all__ = [
    "DEFAULT_DEAD_REASON",
    "TERMINAL_STATES",
    "UNFINISHED_STATES",
    "SortKey",
    "decode_config_cursor",
    "decode_cursor",
    "effective_page_size",
    "effective_state",
    "effective_timestamp",
    "encode_config_cursor",
    "encode_cursor",
    "now_timestamp",
    "push_page_size",
    "push_record",
    "scope_params",
    "sort_key",
    "visible",
]

#: States after which a task never changes again (spec §3.2.2: terminal class).
TERMINAL_STATES = frozenset(
    {TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELED, TaskState.REJECTED}
)

#: States in which an agent may still be working on the task (spec §3.2.2: active
#: class); what a restarted server must recover.
UNFINISHED_STATES = (TaskState.SUBMITTED, TaskState.WORKING)

#: The dead-letter reason stored when ``push_failed`` gives up without one: a config's
#: ``dead_reason`` is what tells dead from live (``""``), so it is never empty.
DEFAULT_DEAD_REASON = "delivery failed"

#: ``(status_ts, id)``; ``status_ts`` is ``""`` when the status has no timestamp.
SortKey = tuple[str, str]

_CURSOR_VERSION = "1"
_CONFIG_CURSOR_TAG = "c1|"
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+\Z")
_CANONICAL_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
#: Longest token quoted back in an error message (the token is caller input).
_QUOTE_LIMIT = 40


def visible(scope: Scope, owner: str, tenant: str) -> bool:
    """Return whether a task of ``owner`` in ``tenant`` is visible within ``scope``.

    The tenant must match exactly; the owner too unless ``scope.owner`` is None
    (server maintenance). Spec §13.1: an invisible task behaves as a missing one.
    """
    return tenant == scope.tenant and (scope.owner is None or owner == scope.owner)


def sort_key(task: Task) -> SortKey:
    """Return the ListTasks sort key of ``task`` (compare descending)."""
    return (task.status.timestamp or "", task.id)


def encode_cursor(key: SortKey) -> str:
    """Return the opaque page token that continues after ``key``."""
    raw = f"{_CURSOR_VERSION}|{key[0]}|{key[1]}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(token: str) -> SortKey:
    """Return the sort key a page token made by :func:`encode_cursor` carries.

    Raises:
        InvalidParamsError: ``token`` is not a token this module made.
    """
    try:
        if not _BASE64URL.match(token):
            raise ValueError("not base64url")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        version, status_ts, task_id = raw.decode("utf-8").split("|", 2)
        if version != _CURSOR_VERSION or not (
            status_ts == "" or _CANONICAL_TS.match(status_ts)
        ):
            raise ValueError("unknown layout")
    except (ValueError, binascii.Error):
        raise _bad_token(token) from None
    return (status_ts, task_id)


def encode_config_cursor(config_id: str) -> str:
    """Return the opaque token of the push-config page after ``config_id``."""
    raw = f"{_CONFIG_CURSOR_TAG}{config_id}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_config_cursor(token: str) -> str:
    """Return the config id a token made by :func:`encode_config_cursor` carries.

    Raises:
        InvalidParamsError: ``token`` is not a token this module made.
    """
    try:
        if not _BASE64URL.match(token):
            raise ValueError("not base64url")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        text = raw.decode("utf-8")
        if not text.startswith(_CONFIG_CURSOR_TAG):
            raise ValueError("unknown layout")
    except (ValueError, binascii.Error):
        raise _bad_token(token) from None
    return text[len(_CONFIG_CURSOR_TAG) :]


def push_page_size(page_size: int) -> int:
    """The push-config page size to use: the caller's (the server clamps it), >= 1."""
    return max(1, page_size)


def _bad_token(token: str) -> InvalidParamsError:
    shown = token if len(token) <= _QUOTE_LIMIT else token[:_QUOTE_LIMIT] + "..."
    return InvalidParamsError(
        f"invalid pageToken {shown!r}: not a token this server issued",
        field_violations=[("pageToken", "not a token this server issued")],
    )


def effective_state(state: TaskState | None) -> TaskState | None:
    """Return the state filter to apply; UNSPECIFIED means no filter (spec §4.1.3)."""
    return None if state is TaskState.UNSPECIFIED else state


def effective_timestamp(value: str | None) -> str | None:
    """Return ``value`` in canonical form, or None when it is None or empty."""
    return normalize_timestamp(value) if value else None


def effective_page_size(page_size: int) -> int:
    """Clamp ``page_size`` to 1..MAX_PAGE_SIZE (the handler validates; this guards)."""
    return max(1, min(page_size, MAX_PAGE_SIZE))


def push_record(row: Sequence[Any]) -> PushConfigRecord:
    """The :class:`PushConfigRecord` of a ``push_configs`` row's first eight columns:
    task_id, config_id, tenant, owner, data, delivered_seq, failures, dead_reason."""
    task_id, config_id, tenant, owner, data, delivered_seq, failures, reason = row[:8]
    return PushConfigRecord(
        task_id=task_id,
        config_id=config_id,
        tenant=tenant,
        owner=owner,
        data=bytes(data),  # SQLite and psycopg may hand back a view
        delivered_seq=delivered_seq,
        failures=failures,
        dead_reason=reason,
    )


def scope_params(scope: Scope) -> tuple[str, str | None, str | None]:
    """The SQL parameters of a scope test ``tenant = ? AND (? IS NULL OR owner = ?)``."""
    return (scope.tenant, scope.owner, scope.owner)
