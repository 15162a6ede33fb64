"""Exit codes, and the one-line messages the CLI prints for expected failures.

Every expected failure maps to an exit code (documented in ``accord --help``) and a
single actionable line. An unexpected exception (a bug) is one line too, with exit
code 70, unless ``$ACCORD_DEBUG`` is set: then it keeps its traceback. A missing
optional dependency names the extra that installs it. A closed stdout (``accord … |
head``) ends the run quietly with 141, like a program killed by SIGPIPE. This module
imports only ``accord.errors``, which is light.
"""

from __future__ import annotations

import contextlib
import os
import sys
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
    TimeoutError,
    TransportError,
    UnauthenticatedError,
)

__all__ = [
    "DEBUG_ENV",
    "EXIT_AUTH",
    "EXIT_CONNECT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_SOFTWARE",
    "EXIT_USAGE",
    "UsageError",
    "broken_pipe",
    "exit_code_for",
    "explain",
    "report",
    "silence_stdout",
    "unexpected",
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
#: An unexpected error: a bug in accord (sysexits.h EX_SOFTWARE).
EXIT_SOFTWARE = 70
#: Ctrl-C (128 + SIGINT, the shell convention).
EXIT_INTERRUPTED = 130
#: stdout was closed by its reader (128 + SIGPIPE, what `cat big | head` reports).
EXIT_PIPE = 141
#: Set (to anything but "" or "0") to see the traceback of an unexpected error.
DEBUG_ENV = "ACCORD_DEBUG"

#: Optional dependencies, and the extra of ``accord`` that installs each.
_EXTRAS = {
    "cryptography": "security",
    "uvicorn": "serve",
    "grpc": "grpc",
    "google": "grpc",
    "mcp": "mcp",
    "mcp_types": "mcp",
}


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
    if any(isinstance(e, ConnectionRefusedError) for e in _chain(exc)):
        return True
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


def _timeout(exc: BaseException, url: str, seconds: float | None) -> str:
    """A timeout, in the CLI's terms (``--timeout``, not the library's settings)."""
    kinds = {type(e).__name__ for e in _chain(exc)}
    limit = f" within {seconds:g} s" if seconds is not None else ""
    if "ConnectTimeout" in kinds:
        return f"timed out connecting to {url} — is the agent reachable?"
    if "ReadTimeout" in kinds:
        return (
            f"no answer from {url}{limit} — pass a larger --timeout SECONDS for "
            "long-running tasks"
        )
    return f"timed out talking to {url}{limit} — try again, or pass a larger --timeout"


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
    if isinstance(exc, TimeoutError):
        return _timeout(exc, url, getattr(args, "timeout", None))
    if isinstance(exc, TransportError) and not isinstance(exc, HTTPStatusError):
        return str(exc)
    status = _status(exc)
    if isinstance(exc, CardError) and status in (401, 404) and str(exc)[:1].islower():
        return str(exc)  # already says what happened (commands/_remote.fetch_card)
    sent = getattr(args, "credentials_sent", None)
    if sent and (isinstance(exc, UnauthenticatedError) or status == 401):
        # The agent card was read and the request carried these: they were refused.
        what = sent[0][0] if len(sent) == 1 else "the credentials"
        options = ", ".join(option for _, option in sent)
        return f"the server refused {what} (401): check {options}"
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


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc``, the members of exception groups in it, and their causes."""
    found: list[BaseException] = []
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(
            e for e in (current.__cause__, current.__context__) if e is not None
        )
    return found


def broken_pipe(exc: BaseException) -> bool:
    """True when ``exc`` is (or wraps) a write to a pipe whose reader went away."""
    return any(isinstance(e, BrokenPipeError) for e in _chain(exc))


def silence_stdout() -> int:
    """Point stdout at /dev/null (so the exit-time flush stays quiet); return 141.

    The recipe of the Python docs (``signal`` module, "Note on SIGPIPE").
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a real file
        pass
    return EXIT_PIPE


def report(line: str) -> None:
    """Write one line to stderr; a closed stderr is not worth a traceback."""
    with contextlib.suppress(BrokenPipeError, ValueError):
        print(line, file=sys.stderr, flush=True)


def _missing_extra(exc: BaseException) -> str | None:
    """The extra that would install the module whose absence ``exc`` reports."""
    for error in _chain(exc):
        name = getattr(error, "name", None)
        if isinstance(error, ModuleNotFoundError) and isinstance(name, str):
            extra = _EXTRAS.get(name.partition(".")[0])
            if extra is not None:
                return extra
    return None


def unexpected(exc: BaseException, command: str = "accord") -> int:
    """Report an exception no table knows; return its exit code.

    A missing optional dependency is a usage matter (2) with the ``pip`` line that
    fixes it. Anything else is a bug: one line (70), or, with ``$ACCORD_DEBUG``
    set, the exception is raised again so its traceback is printed.
    """
    extra = _missing_extra(exc)
    if extra is not None:
        report(
            f"accord: {command} needs the {extra} extra: pip install 'accord[{extra}]'"
        )
        return EXIT_USAGE
    if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        raise exc
    leaf = _leaf(exc)
    detail = f"{type(leaf).__name__}: {leaf}" if str(leaf) else type(leaf).__name__
    report(
        f"accord: unexpected error ({detail}) — this is a bug in accord; "
        f"run again with {DEBUG_ENV}=1 for the traceback and report it"
    )
    return EXIT_SOFTWARE
