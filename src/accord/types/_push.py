"""Push-notification configuration (spec §4.3)."""

from __future__ import annotations

from ._base import A2AStruct

__all__ = ["AuthenticationInfo", "TaskPushNotificationConfig"]


class AuthenticationInfo(A2AStruct, frozen=True, kw_only=True):
    """How the agent authenticates to a webhook: ``Authorization: <scheme> <credentials>``."""

    scheme: str
    credentials: str = ""


class TaskPushNotificationConfig(A2AStruct, frozen=True, kw_only=True):
    """A webhook registered for a task's updates."""

    tenant: str = ""
    #: Config id; the server assigns one when absent.
    id: str = ""
    #: Owning task; empty when embedded in SendMessageConfiguration.
    task_id: str = ""
    url: str
    token: str = ""
    authentication: AuthenticationInfo | None = None
