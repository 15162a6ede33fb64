"""``accord serve``'s push-notification options: the key that seals webhook configs
at rest, and the egress allow-list (:mod:`accord.server.push`, :mod:`accord.egress`).

The key comes from ``--push-key-file``, else ``$ACCORD_PUSH_KEY`` (the file's content:
URL-safe base64 of 32 bytes), else, beside a SQLite ``--db``, from ``DB.push-key``,
made owner-only on first start (the engine's default). Instances sharing a PostgreSQL
database must share the key, so there it has to be given.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import TYPE_CHECKING, Any

from .._errors import UsageError

if TYPE_CHECKING:
    import argparse

    from accord.egress import EgressPolicy
    from accord.server import A2AApp
    from accord.server.push import PushSettings

__all__ = ["KEY_ENV", "add_push_options", "configure_push", "push_settings"]

#: The environment variable holding the key when no file is named.
KEY_ENV = "ACCORD_PUSH_KEY"


def add_push_options(serve: argparse.ArgumentParser) -> None:
    """Add the push options to ``accord serve``."""
    push = serve.add_argument_group(
        "push notifications (for an agent that declares them)"
    )
    push.add_argument(
        "--push-key-file",
        metavar="PATH",
        help=(
            "the key webhook credentials are sealed with at rest (default: "
            f"${KEY_ENV}, else DB.push-key beside a SQLite --db, made on first start; "
            "required with PostgreSQL, the same on every instance)"
        ),
    )
    push.add_argument(
        "--push-allow",
        action="append",
        default=[],
        metavar="HOST_OR_CIDR",
        help=(
            "a webhook host or network that may be called although it is private "
            "(loopback, 10/8, ...) or plain http:// (repeatable; default: HTTPS to "
            "public addresses only)"
        ),
    )


def push_settings(args: argparse.Namespace, db: str) -> PushSettings:
    """The :class:`PushSettings` of the flags (no key given: the engine's default, a
    key file beside a SQLite ``db``; PostgreSQL needs one, the engine says so).

    Raises:
        UsageError: a bad allow entry or an unreadable key.
    """
    from accord.server.push import PushSettings

    keys = _keys(args)
    return PushSettings(keys=keys or (), egress=_egress(args))


def configure_push(app: A2AApp, args: argparse.Namespace) -> None:
    """Apply ``--push-allow`` / ``--push-key-file`` to an app that serves push (an
    A2AApp a factory made keeps its other push settings; read on start)."""
    from dataclasses import replace

    from accord.server.push import push_configs

    push = app.engine.push
    if push is None:
        return
    changes: dict[str, Any] = {}
    if getattr(args, "push_allow", None):
        changes["egress"] = _egress(args)
    keys = _keys(args)
    if keys:
        changes["keys"] = keys
    if changes:
        engine = app.engine
        engine.push = push_configs(engine.store, replace(push.settings, **changes))


def _keys(args: argparse.Namespace) -> list[bytes] | None:
    """The key of ``--push-key-file``, else of ``$ACCORD_PUSH_KEY``; None if neither."""
    from accord.server.push import load_key

    key_file = getattr(args, "push_key_file", None)
    try:
        if key_file:
            return [load_key(key_file)]
        if os.environ.get(KEY_ENV):
            return [_env_key(os.environ[KEY_ENV])]
    except (OSError, ValueError) as exc:
        raise UsageError(f"push-notification key: {exc}") from None
    return None


def _egress(args: argparse.Namespace) -> EgressPolicy:
    from accord.egress import EgressPolicy

    try:
        return EgressPolicy.from_strings(getattr(args, "push_allow", None) or ())
    except ValueError as exc:
        raise UsageError(f"--push-allow: {exc}") from None


def _env_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValueError(f"${KEY_ENV} is not base64") from None
    return key
