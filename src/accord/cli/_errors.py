"""Exit codes, and the one-line messages the CLI prints for expected failures.

Every expected failure maps to an exit code (documented in ``accord --help``) and a
single actionable line; only an unexpected exception (a bug) shows a traceback. This
module imports only ``accord.errors``, which is light.
"""

from __future__ import annotations

from typing import Any

from accord.errors import (
    A2AError,
    CardError,
    ConnectError,
    HTTPStatusError,
    PermissionDeniedError,
    ProtocolError,
    StoreError,
    TaskNotFoundError,
    TransportError,
    UnauthenticatedError,
)

__all__ = [
    "EXIT_AUTH",
    "EXIT_CONNECT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "exit_code_for",
    "explain",
]

EXIT_OK = 0
#: The task ended FAILED/REJECTED/CANCELED, or the agent answered an A2A error.
EXIT_FAILED = 1
#: Bad arguments (argparse uses 2 as well).
EXIT_USAGE = 2
#: The agent could not be reached: refused, DNS, TLS, timeout.
EXIT_CONNECT = 3
#: HTTP 401/403, or the A2A errors that stand for them.
EXIT_AUTH = 4
#: Unknown task, or no agent card at the URL.
EXIT_NOT_FOUND = 5
#: Ctrl-C (128 + SIGINT, the shell convention).
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A command-line mistake found after parsing (e.g. a TARGET that does not exist)."""


def _leaf(exc: BaseException) -> BaseException:
    """The only exception of a (nested) single-member exception group, else ``exc``."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _status(exc: BaseException) -> int | None:
    """The HTTP status an error stands for, when it carries one."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _refused(exc: BaseException) -> bool:
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError):
            return True
        pending.extend(
            e for e in (current.__cause__, current.__context__) if e is not None
        )
    return "connection refused" in str(exc).lower()


def exit_code_for(exc: BaseException) -> int | None:
    """The exit code of an expected failure, or ``None`` for an unexpected one (a bug)."""
    exc = _leaf(exc)
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, UnauthenticatedError | PermissionDeniedError):
        return EXIT_AUTH
    if isinstance(exc, TaskNotFoundError):
        return EXIT_NOT_FOUND
    status = _status(exc)
    if status in (401, 403):
        return EXIT_AUTH
    if isinstance(exc, CardError) and status == 404:
        return EXIT_NOT_FOUND
    if isinstance(exc, TransportError) and not isinstance(exc, HTTPStatusError):
        return EXIT_CONNECT
    if isinstance(exc, A2AError):
        return EXIT_FAILED
    return None


def explain(exc: BaseException, args: Any = None) -> str:
    """One actionable line for an expected failure (without the ``accord:`` prefix)."""
    exc = _leaf(exc)
    url = getattr(args, "url", None) or "the agent"
    if isinstance(exc, UsageError):
        return str(exc)
    if isinstance(exc, ConnectError) and _refused(exc):
        return (
            f"cannot connect to {url}: connection refused — is the agent running? "
            "start one with `accord serve`"
        )
    if isinstance(exc, TransportError) and not isinstance(exc, HTTPStatusError):
        return str(exc)
    status = _status(exc)
    if isinstance(exc, UnauthenticatedError) or status == 401:
        detail = exc.message if isinstance(exc, ProtocolError) else "HTTP 401"
        # What the agent card asks for, when commands/_remote.py could read it.
        hint = getattr(args, "auth_hint", None) or (
            "pass a token with --token (or $ACCORD_TOKEN), an API key with --api-key "
            "(or $ACCORD_API_KEY), or a header with -H 'Authorization: …'"
        )
        return f"{url} requires authentication ({detail}) — {hint}"
    if isinstance(exc, PermissionDeniedError) or status == 403:
        detail = exc.message if isinstance(exc, ProtocolError) else "HTTP 403"
        return (
            f"{url} refused access ({detail}) — the credentials sent do not allow this"
        )
    if isinstance(exc, TaskNotFoundError):
        task_id = getattr(args, "task_id", None)
        which = f"task {task_id}" if task_id else "the task"
        return (
            f"{which} was not found at {url} — "
            f"list the tasks with `accord task list {url}`"
        )
    if isinstance(exc, CardError):
        return str(exc)
    if isinstance(exc, StoreError):
        return f"database error: {exc}"
    if isinstance(exc, ProtocolError):
        return f"the agent answered {type(exc).__name__}: {exc.message}"
    return str(exc) or type(exc).__name__
