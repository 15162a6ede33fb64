"""The request Content-Type both HTTP bindings accept (spec §9.1, §11.1).

JSON-RPC bodies are ``application/json``; HTTP+JSON bodies ``application/a2a+json``
(SHOULD since 1.0) or ``application/json``. Any ``+json`` structured-syntax type is
accepted too (RFC 6839 §3.1), parameters such as ``charset`` are ignored, and a
request without the header is read as JSON. Anything else is refused before the body
is read, as :class:`UnsupportedMediaTypeError`: ContentTypeNotSupportedError on the
wire (JSON-RPC -32005, reason ``CONTENT_TYPE_NOT_SUPPORTED``), which HTTP+JSON answers
with 415 Unsupported Media Type (RFC 9110 §15.5.16).
"""

from __future__ import annotations

from accord._quote import shorten
from accord.errors import ContentTypeNotSupportedError

__all__ = ["UnsupportedMediaTypeError", "check_content_type"]

_JSON_TYPES = ("application/json", "application/a2a+json")


class UnsupportedMediaTypeError(ContentTypeNotSupportedError):
    """The request body's Content-Type is not JSON (HTTP+JSON answers 415)."""


def check_content_type(value: str | None, expected: str) -> None:
    """Refuse a request whose Content-Type header ``value`` is not JSON.

    Raises:
        UnsupportedMediaTypeError: naming the type sent and ``expected``.
    """
    if value is None:
        return
    base = value.split(";", 1)[0].strip(" \t").lower()
    if base in _JSON_TYPES or base.endswith("+json"):
        return
    shown = shorten(value)
    raise UnsupportedMediaTypeError(
        f"Unsupported Content-Type {shown!r}: send {expected}",
        metadata={"contentType": shown},
    )
