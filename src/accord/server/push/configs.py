"""The four push-config operations' rules (spec §3.1.7-§3.1.10, §4.3) over the store.

:class:`PushConfigs` checks a config before anything is stored (the URL against the
egress policy, so a partner learns at once that a webhook cannot be reached; the
sizes; the authentication scheme), gives it an id when it has none, seals it
(:mod:`.sealing`) and stores it per task with the caller's owner and tenant; reads
open it again. A config of a task outside the caller's scope does not exist (spec
§13.1), exactly like the task.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from accord._quote import shorten
from accord.egress import EgressPolicy, EgressRefused
from accord.errors import InvalidParamsError, TaskNotFoundError
from accord.stores.base import MAX_PAGE_SIZE
from accord.types import (
    ListTaskPushNotificationConfigsResponse,
    TaskPushNotificationConfig,
    replace,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from accord.stores.base import PushConfigRecord, PushConfigStore, Scope

    from .sealing import ConfigSealer

__all__ = ["PushConfigs", "PushSettings"]

#: ListTaskPushNotificationConfigs page size when the request sets none.
DEFAULT_PAGE_SIZE = 50
#: Longest webhook URL, token, config id and authentication value accepted.
MAX_URL_LENGTH = 2048
MAX_TOKEN_LENGTH = 4096
MAX_ID_LENGTH = 256


@dataclass(frozen=True, slots=True)
class PushSettings:
    """How an engine keeps and delivers push notifications (spec §4.3).

    Attributes:
        keys: the keys configs are sealed with at rest (32 bytes each; the first
            seals, all open: rotate by putting the new key first). Empty: a key made
            for this process, which suits only a store that does not outlive it (the
            memory store); a durable store needs its key given.
        egress: which webhook URLs may be called (HTTPS to public addresses by
            default; an allow-list for internal receivers and tests).
        max_configs_per_task: webhooks one task may have at once.
        give_up_after: failed attempts in a row after which a config is
            dead-lettered (delivered no more until revived).
        retry_base: seconds before the first retry; doubled each failure after.
        retry_max: the longest wait between attempts (a ``Retry-After`` too).
        concurrency: webhooks this instance delivers to at once.
        lease_seconds: how long a deliverer holds a config it claimed; one that
            stops is replaced after at most this long. A running deliverer renews
            the leases of its deliveries under way every third of it, so an attempt
            may last longer (``attempt_timeout``).
        poll_interval: seconds between looks at the store for work other instances
            left (this instance's own events wake its deliverer at once).
        attempt_timeout: seconds one delivery attempt may take in all (connect,
            send, answer; spec §4.3.3 suggests 10 to 30); the egress policy's
            timeouts bound each step.
    """

    keys: Sequence[bytes] = ()
    egress: EgressPolicy = field(default_factory=EgressPolicy)
    max_configs_per_task: int = 10
    give_up_after: int = 10
    retry_base: float = 1.0
    retry_max: float = 300.0
    concurrency: int = 16
    lease_seconds: float = 60.0
    poll_interval: float = 1.0
    attempt_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_configs_per_task", "give_up_after", "concurrency"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (got {getattr(self, name)})")
        for name in (
            "retry_base",
            "retry_max",
            "lease_seconds",
            "poll_interval",
            "attempt_timeout",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 (got {getattr(self, name)})")
        object.__setattr__(self, "keys", tuple(self.keys))


class PushConfigs:
    """Checks, seals, stores and reads one engine's push configs."""

    def __init__(
        self, store: PushConfigStore, settings: PushSettings, sealer: ConfigSealer
    ) -> None:
        self.store = store
        self.settings = settings
        self.sealer = sealer

    def check(self, config: TaskPushNotificationConfig, where: str) -> None:
        """Refuse a config that could never be delivered or is oversized.

        Raises:
            InvalidParamsError: naming the field (``where`` prefixes it).
        """
        prefix = f"{where}." if where else ""
        if not config.url:
            raise _invalid(f"{prefix}url", "is required")
        if len(config.url) > MAX_URL_LENGTH:
            raise _invalid(
                f"{prefix}url", f"is longer than {MAX_URL_LENGTH} characters"
            )
        try:
            self.settings.egress.check_url(config.url)
        except EgressRefused as refused:
            raise InvalidParamsError(
                f"{prefix}url: {refused}",
                field_violations=[(f"{prefix}url", str(refused))],
            ) from None
        if len(config.id) > MAX_ID_LENGTH:
            raise _invalid(f"{prefix}id", f"is longer than {MAX_ID_LENGTH} characters")
        if len(config.token) > MAX_TOKEN_LENGTH:
            raise _invalid(
                f"{prefix}token", f"is longer than {MAX_TOKEN_LENGTH} characters"
            )
        auth = config.authentication
        if auth is not None:
            if not auth.scheme.strip():
                raise _invalid(f"{prefix}authentication.scheme", "is required")
            if len(auth.scheme) + len(auth.credentials) > MAX_TOKEN_LENGTH:
                raise _invalid(
                    f"{prefix}authentication",
                    f"is longer than {MAX_TOKEN_LENGTH} characters",
                )
            if any(c in auth.scheme + auth.credentials for c in "\r\n\x00"):
                raise _invalid(
                    f"{prefix}authentication", "must not contain line breaks"
                )

    async def create(
        self,
        task_id: str,
        config: TaskPushNotificationConfig,
        *,
        scope: Scope,
        after_seq: int | None = None,
    ) -> TaskPushNotificationConfig:
        """Store ``config`` for the task (replacing one of the same id).

        Raises:
            TaskNotFoundError: the task is not visible within ``scope``.
            InvalidParamsError: the task has its maximum of configs already.
        """
        config_id = config.id or str(uuid.uuid4())
        stored = replace(config, task_id=task_id, id=config_id, tenant=scope.tenant)
        limit = self.settings.max_configs_per_task
        existing, _ = await self.store.list_push_configs(
            task_id, scope=scope, page_size=limit + 1
        )
        if len(existing) >= limit and all(r.config_id != config_id for r in existing):
            raise InvalidParamsError(
                f"Task {shorten(task_id)} has {limit} push notification configs "
                "already; delete one first",
                field_violations=[("id", f"at most {limit} configs per task")],
            )
        record = await self.store.put_push_config(
            task_id,
            config_id,
            self.sealer.seal(stored),
            scope=scope,
            after_seq=after_seq,
        )
        if record is None:
            raise _task_not_found(task_id)
        return stored

    async def get(
        self, task_id: str, config_id: str, *, scope: Scope
    ) -> TaskPushNotificationConfig:
        """The config ``config_id`` of the task.

        Raises:
            TaskNotFoundError: no such config within ``scope`` (spec §3.1.8).
        """
        record = await self.store.get_push_config(task_id, config_id, scope=scope)
        if record is None:
            raise TaskNotFoundError(
                f"Push notification config {shorten(config_id)} of task "
                f"{shorten(task_id)} not found",
                metadata={"taskId": shorten(task_id), "id": shorten(config_id)},
            )
        return self.open(record)

    async def list(
        self, task_id: str, *, scope: Scope, page_size: int, cursor: str
    ) -> ListTaskPushNotificationConfigsResponse:
        """One page of the task's configs (spec §3.1.9; ``page_size`` 0: the
        default).

        Raises:
            InvalidParamsError: a page size outside 1..100, or a cursor this store
                did not issue.
        """
        if not 0 <= page_size <= MAX_PAGE_SIZE:
            raise _invalid("pageSize", f"must be between 1 and {MAX_PAGE_SIZE}")
        records, next_cursor = await self.store.list_push_configs(
            task_id,
            scope=scope,
            page_size=page_size or DEFAULT_PAGE_SIZE,
            cursor=cursor,
        )
        return ListTaskPushNotificationConfigsResponse(
            configs=tuple(self.open(r) for r in records),
            next_page_token=next_cursor,
        )

    async def delete(self, task_id: str, config_id: str, *, scope: Scope) -> None:
        """Delete the config; deleting one that is gone already is not an error
        (spec §3.1.10: repeated deletes behave the same)."""
        await self.store.delete_push_config(task_id, config_id, scope=scope)

    def open(self, record: PushConfigRecord) -> TaskPushNotificationConfig:
        """The config a stored record holds.

        Raises:
            SealError: it was sealed with a key not configured, or altered.
        """
        return self.sealer.open(
            record.data, task_id=record.task_id, config_id=record.config_id
        )


def _invalid(name: str, problem: str) -> InvalidParamsError:
    return InvalidParamsError(f"{name} {problem}", field_violations=[(name, problem)])


def _task_not_found(task_id: str) -> TaskNotFoundError:
    return TaskNotFoundError(
        f"Task {shorten(task_id)} not found", metadata={"taskId": shorten(task_id)}
    )
