"""The request Content-Type both HTTP bindings accept (spec §9.1, §11.1).

JSON-RPC bodies are ``application/json``; HTTP+JSON bodies ``application/a2a+json``
(SHOULD since 1.0) or ``application/json``. Any ``+json`` structured-syntax type is
accepted too (RFC 6839 §3.1), parameters such as ``charset`` are ignored, and a
request without the header is read as JSON. Anything else is refused before the body
is read, as :class:`UnsupportedMediaTypeError`: ContentTypeNotSupportedError on the
wire (JSON-RPC -32005, reason ``CONTENT_TYPE_NOT_SUPPORTED``), which HTTP+JSON answers
with 415 Unsupported Media Type (RFC 9110 §15.5.16).

HTTP+JSON answers in the media type the request asked for or used
(:func:`response_media_type`): spec v1.0.0 §11.1 said ``application/json`` MUST be
used, v1.0.1 says ``application/a2a+json`` SHOULD; a client of either version gets
the type it sent or accepts. One that says neither (a GET with ``Accept: */*``; both
versions send ``A2A-Version: 1.0``) gets ``application/json``: that meets v1.0.0's
MUST and misses only v1.0.1's SHOULD, where the other choice would break a MUST.
Accord's own client asks for ``application/a2a+json``.
"""

from __future__ import annotations

from accord._quote import shorten
from accord.errors import ContentTypeNotSupportedError

__all__ = [
    "A2A_JSON",
    "JSON",
    "UnsupportedMediaTypeError",
    "check_content_type",
    "response_media_type",
]

#: The HTTP+JSON media type (spec §11.1, SHOULD since v1.0.1).
A2A_JSON = b"application/a2a+json"
#: Plain JSON: JSON-RPC bodies, and HTTP+JSON for clients that ask for it (v1.0.0).
JSON = b"application/json"

_JSON_TYPES = ("application/json", "application/a2a+json")


class UnsupportedMediaTypeError(ContentTypeNotSupportedError):
    """The request body's Content-Type is not JSON (HTTP+JSON answers 415)."""


def check_content_type(value: str | None, expected: str) -> None:
    """Refuse a request whose Content-Type header ``value`` is not JSON.

    Raises:
        UnsupportedMediaTypeError: naming the type sent and ``expected``.
    """
    if value is None or value in _JSON_TYPES:
        return
    base = value.split(";", 1)[0].strip(" \t").lower()
    if base in _JSON_TYPES or base.endswith("+json"):
        return
    shown = shorten(value)
    raise UnsupportedMediaTypeError(
        f"Unsupported Content-Type {shown!r}: send {expected}",
        metadata={"contentType": shown},
    )


def response_media_type(content_type: str | None, accept: str | None) -> bytes:
    """The media type of an HTTP+JSON answer, from the request's headers.

    An ``Accept`` that names one of the two JSON types (with a quality above zero)
    decides, ``application/a2a+json`` first when it names both; otherwise the type the
    request body was sent as; otherwise ``application/json`` (module doc). A type that
    is not JSON is answered as JSON all the same: a body in another type is refused
    anyway, and an ``Accept`` without JSON gets the error in JSON.
    """
    if accept:
        named = _accepted(accept)
        if "application/a2a+json" in named:
            return A2A_JSON
        if "application/json" in named:
            return JSON
    if content_type:
        base = content_type.split(";", 1)[0].strip(" \t").lower()
        if base == "application/a2a+json":
            return A2A_JSON
    return JSON


def _accepted(accept: str) -> set[str]:
    """The media types an ``Accept`` header names with a quality above zero."""
    named: set[str] = set()
    for item in accept.split(",")[:32]:  # a bound: the header is the client's
        kind, _, params = item.partition(";")
        if _quality(params) > 0:
            named.add(kind.strip(" \t").lower())
    return named


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip(" \t").lower() == "q":
            try:
                return float(value.strip(" \t"))
            except ValueError:
                return 0.0
    return 1.0
