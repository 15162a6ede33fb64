"""Bounding client-supplied text quoted back in error messages (no I/O).

An error message that names what the client sent (a method, a path, a task id, a
header) helps the caller fix the request, but echoing it in full lets a 5 MB id
produce a 10 MB answer. Every such quote goes through :func:`shorten`.
"""

from __future__ import annotations

__all__ = ["MAX_QUOTED", "shorten"]

#: Longest piece of client input quoted back in an error, in characters.
MAX_QUOTED = 128


def shorten(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"
