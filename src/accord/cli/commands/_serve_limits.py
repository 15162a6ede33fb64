"""``accord serve``'s limits and operations options: running and queued tasks
(``--max-running``, ``--max-queued``), quotas (``--rate-limit``, ``--limits FILE``:
:mod:`accord.server.quotas`) and the audit trail's retention (``--audit-keep``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._errors import UsageError

if TYPE_CHECKING:
    import argparse

    from accord.server import A2AApp, Interceptor

__all__ = ["configure_audit", "configure_limits", "configure_rate_limit"]


def configure_limits(app: A2AApp, args: argparse.Namespace) -> None:
    """Apply ``--max-running`` / ``--max-queued`` to the app's engine (read on start)."""
    changes = {
        field: value
        for field, flag in (
            ("max_running_tasks", "max_running"),
            ("max_queued_tasks", "max_queued"),
        )
        if (value := getattr(args, flag, None)) is not None
    }
    if changes:
        from dataclasses import replace

        app.engine.limits = replace(app.engine.limits, **changes)


def configure_rate_limit(app: A2AApp, args: argparse.Namespace) -> None:
    """Put the quotas of ``--limits FILE`` or ``--rate-limit`` in front of the app's
    interceptors (read on start), so that a refused call costs nothing else.

    Raises:
        UsageError: both given, or a quota file that cannot be read or is wrong.
    """
    limit = getattr(args, "rate_limit", None)
    path = getattr(args, "limits", None)
    if limit is not None and path is not None:
        raise UsageError(
            "give --rate-limit or --limits, not both: put the default rate in the "
            "file as a [[limit]] with rate = ..."
        )
    quotas: Interceptor
    if path is not None:
        from accord.server.quotas import Quotas

        try:
            quotas = Quotas.from_file(path)
        except OSError as exc:
            raise UsageError(
                f"cannot read the quota file {path}: {exc.strerror}"
            ) from None
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif limit is not None:
        from accord.server.quotas import RateLimiter

        quotas = RateLimiter(limit)
    else:
        return
    app.engine.interceptors = (quotas, *app.engine.interceptors)


def configure_audit(app: A2AApp, args: argparse.Namespace) -> None:
    """Apply ``--audit-keep`` (retention) to the app's audit trail.

    Raises:
        UsageError: ``--audit-keep`` without an audit trail to keep.
    """
    keep = getattr(args, "audit_keep", None)
    if keep is None:
        return
    audit = app.engine.audit
    if audit is None:
        raise UsageError("--audit-keep keeps the audit trail: add --audit")
    audit.keep_days = keep
