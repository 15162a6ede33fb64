"""The argparse types of ``accord``: each checks one option's value at parse time.

A bad value is a usage error (exit 2) with a message that says what was expected.
``--data`` may name a :class:`~accord.cli._input.Source` (``-``, ``@file``) that the
send command reads later.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ._input import Source, is_source

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "BINDING_CHOICES",
    "STATE_NAMES",
    "binding",
    "count",
    "days",
    "grace",
    "header",
    "json_value",
    "lease",
    "rate_limit",
    "seconds",
    "state",
    "url",
]

BINDING_CHOICES = {
    "JSONRPC": "JSONRPC",
    "HTTP+JSON": "HTTP+JSON",
    "REST": "HTTP+JSON",
    "GRPC": "GRPC",
}
STATE_NAMES = (
    "submitted",
    "working",
    "completed",
    "failed",
    "canceled",
    "input-required",
    "rejected",
    "auth-required",
)


def _binding(value: str) -> str:
    binding = BINDING_CHOICES.get(value.upper())
    if binding is None:
        raise argparse.ArgumentTypeError(
            f"unknown binding {value!r}; choose JSONRPC, HTTP+JSON or GRPC"
        )
    return binding


def _json(value: str) -> Any:
    """An argparse type: JSON text, or a :class:`Source` (``-``, ``@path``) read later."""
    if is_source(value):
        return Source(value)
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None


def _state(value: str) -> str:
    name = value.strip().upper().removeprefix("TASK_STATE_").replace("-", "_")
    if name.lower().replace("_", "-") not in STATE_NAMES:
        raise argparse.ArgumentTypeError(
            f"unknown state {value!r}; choose one of: {', '.join(STATE_NAMES)}"
        )
    return name


def _count(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number within ``[minimum, maximum]``."""
    allowed = f">= {minimum}" if maximum is None else f"{minimum}-{maximum}"

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{value!r} is not a whole number"
            ) from None
        if number < minimum or (maximum is not None and number > maximum):
            raise argparse.ArgumentTypeError(f"{number} is out of range ({allowed})")
        return number

    return parse


def _seconds(value: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a positive number of seconds"
        )
    return seconds


def _grace(value: str) -> float:
    """An argparse type: a finite number of seconds, zero allowed."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a number of seconds (0 or more)"
        )
    return seconds


def _finite_positive(says: str) -> Callable[[str], float]:
    """An argparse type: a finite number above 0; ``says`` ends the error message."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not 0 < number < float("inf"):
            raise argparse.ArgumentTypeError(f"{value!r} {says}")
        return number

    return parse


_lease = _finite_positive("is not a number of seconds (more than 0)")
_days = _finite_positive("is not a positive number of days (e.g. 90, or 0.5)")


def _header(value: str) -> tuple[str, str]:
    name, sep, content = value.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {value!r}")
    return name.strip(), content.strip()


def _url(value: str) -> str:
    """An argparse type: an absolute http(s) URL (checked here, so a typo is a usage error)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        valid = False
    if not valid:
        hint = f"; did you mean http://{value}?" if "://" not in value else ""
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an http(s) URL such as http://127.0.0.1:8000{hint}"
        )
    return value


binding = _binding
json_value = _json
state = _state
count = _count
seconds = _seconds
days = _days
grace = _grace
lease = _lease
header = _header
url = _url


def rate_limit(text: str) -> Any:
    """``--rate-limit``: a :class:`~accord.server.RateLimit` (``5/s``, ``300/min:20``)."""
    from accord.server.quotas import RateLimit

    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
