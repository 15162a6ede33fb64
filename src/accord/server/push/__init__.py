"""Push notifications (spec §4.3): webhooks partners register for a task's updates.

An agent declares them (``Agent(push_notifications=True)``) and its engine serves the
four push-config operations and the inline config of SendMessage
(``configuration.taskPushNotificationConfig``). Configs are checked against the
:class:`~accord.egress.EgressPolicy` when they are given, sealed at rest
(:mod:`.sealing`: they carry the webhook's credentials) and stored per task with the
caller's owner and tenant (:mod:`.configs`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from accord.stores import MemoryTaskStore, SQLiteTaskStore
from accord.stores.base import PushConfigStore

from .configs import PushConfigs, PushSettings
from .sealing import (
    ConfigSealer,
    SealError,
    generate_key,
    generate_key_file,
    load_key,
    load_or_create_key,
)

if TYPE_CHECKING:
    from accord.stores import TaskStore

__all__ = [
    "ConfigSealer",
    "PushConfigs",
    "PushSettings",
    "SealError",
    "generate_key",
    "generate_key_file",
    "load_key",
    "load_or_create_key",
    "push_configs",
]


def push_configs(store: TaskStore, settings: PushSettings) -> PushConfigs:
    """The push configs of an engine on ``store``.

    Without a key in ``settings``: a SQLite file's is kept beside it
    (``FILE.push-key``, made owner-only on first use, :func:`load_or_create_key`);
    a store that does not outlive the process (memory, SQLite ``:memory:``) gets one
    made for it.

    Raises:
        ValueError: the store keeps no push configs; it is shared (PostgreSQL) and
            ``settings`` has no key (configs sealed with a key of one instance could
            not be opened by the others); the key file beside a SQLite file cannot be
            read or made.
    """
    if not isinstance(store, PushConfigStore):
        raise ValueError(
            f"{type(store).__name__} does not keep push notification configs "
            "(accord.stores.base.PushConfigStore)"
        )
    keys = tuple(settings.keys)
    if not keys:
        keys = (_default_key(store),)
    return PushConfigs(store, settings, ConfigSealer(keys))


def _default_key(store: TaskStore) -> bytes:
    if isinstance(store, MemoryTaskStore) or (
        isinstance(store, SQLiteTaskStore) and store.path == ":memory:"
    ):
        return generate_key()
    if isinstance(store, SQLiteTaskStore):
        path = store.path + ".push-key"
        try:
            return load_or_create_key(path)
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"the push-config key beside the database, {path}: {exc}"
            ) from None
    raise ValueError(
        "the agent declares push notifications and the store is shared: give the key "
        "that seals webhook credentials at rest, the same on every instance: "
        "Engine(push=PushSettings(keys=[load_key(PATH)])), or accord serve "
        "--push-key-file PATH (make one with accord.server.push.generate_key_file)"
    )
