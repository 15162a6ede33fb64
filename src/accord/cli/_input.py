"""Where ``accord send`` takes its message from: the argument, stdin (``-``), a file (``@path``).

The convention of curl and many Unix tools: ``-`` reads standard input to its end,
``@path`` reads the file ``path``; anything else is the value itself. Both are read as
UTF-8, up to :data:`MAX_INPUT` bytes (a bound, so a wrong file cannot exhaust
memory), and lose one trailing newline (``echo hi | accord send URL -`` sends ``hi``,
as ``$(…)`` would). Text that starts with ``@`` can still be sent through stdin.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ._errors import UsageError

__all__ = ["MAX_INPUT", "STDIN", "Source", "is_source", "read_json", "read_text"]

#: The argument that means "read standard input".
STDIN = "-"
#: Largest message accepted from stdin or a file (bytes).
MAX_INPUT = 64 * 1024 * 1024


def _read(value: str, what: str) -> str:
    """The text ``value`` names (stdin or a file); ``what`` names it in errors."""
    if value == STDIN:
        source, label = sys.stdin.buffer, "standard input"
        data = source.read(MAX_INPUT + 1)
    else:
        label = value[1:]
        try:
            with open(label, "rb") as file:
                data = file.read(MAX_INPUT + 1)
        except OSError as exc:
            raise UsageError(
                f"cannot read {what} from {label}: {exc.strerror} (an argument that "
                f"starts with @ names a file; send such text through stdin with -)"
            ) from None
    if len(data) > MAX_INPUT:
        raise UsageError(
            f"{what} from {label} is larger than {MAX_INPUT // (1024 * 1024)} MiB"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{what} from {label} is not UTF-8 text (byte {exc.start})"
        ) from None
    return text.removesuffix("\n").removesuffix("\r")


class Source(str):
    """An argument that names where a value is (``-`` or ``@path``), read on use."""

    __slots__ = ()


def is_source(value: str) -> bool:
    """True when ``value`` is ``-`` or ``@path``."""
    return value == STDIN or value.startswith("@")


_named = is_source


def read_text(value: str) -> str:
    """The message text: ``value`` itself, or what ``-`` / ``@path`` name.

    Raises:
        UsageError: the file cannot be read, is too large, or is not UTF-8.
    """
    return _read(value, "the message") if _named(value) else value


def read_json(value: str) -> Any:
    """The JSON value of ``value``, or of what ``-`` / ``@path`` name.

    Raises:
        UsageError: the source cannot be read or does not hold one JSON value.
    """
    text = _read(value, "--data") if _named(value) else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = "" if not _named(value) else f" in {value[1:] or 'standard input'}"
        raise UsageError(
            f"--data is not valid JSON{where} ({exc.msg} at line {exc.lineno} "
            f"column {exc.colno})"
        ) from None
