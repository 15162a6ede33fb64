"""Small ASGI pieces of the console: bounded JSON bodies, answers, cookies, assets."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from importlib import resources
from typing import Any

__all__ = [
    "ASSETS",
    "COOKIE",
    "HttpError",
    "Receive",
    "Scope",
    "Send",
    "answer",
    "answer_json",
    "asset",
    "cookie_of",
    "read_json",
    "session_cookie",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The session cookie's name.
COOKIE = "accord_console"

#: The page's files (shipped in the wheel under accord/console/static) and their types.
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
}

#: Headers of every answer: no caching of per-session answers, no sniffing, no
#: framing, and a policy allowing only the console's own scripts and styles.
_SECURITY_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; "
        b"connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        b"base-uri 'none'; form-action 'none'",
    ),
)


class HttpError(Exception):
    """An answer other than 2xx, with a message the page shows."""

    def __init__(self, status: int, message: str, *, kind: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


def header(scope: Scope, name: bytes) -> str | None:
    """The value of the request header ``name`` (lower case), if sent."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def cookie_of(scope: Scope) -> str | None:
    """The session cookie's value, if the request carries one."""
    raw = header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def session_cookie(scope: Scope, value: str) -> tuple[bytes, bytes]:
    """The ``Set-Cookie`` header of a new session, scoped to where the console is
    mounted: ``HttpOnly`` (no script reads it) and ``SameSite=Strict`` (no other
    site's page sends it)."""
    path = scope.get("root_path") or "/"
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return (
        b"set-cookie",
        f"{COOKIE}={value}; Path={path}; HttpOnly; SameSite=Strict{secure}".encode(),
    )


async def read_json(scope: Scope, receive: Receive, limit: int) -> dict[str, Any]:
    """The request's JSON object body, at most ``limit`` bytes.

    Raises:
        HttpError: 415 not ``application/json``, 413 too large, 400 not an object.
    """
    kind = (header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HttpError(415, "send the request as application/json")
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HttpError(413, f"the request is larger than {limit} bytes")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, "the client went away")
        body += message.get("body", b"")
        if len(body) > limit:
            raise HttpError(413, f"the request is larger than {limit} bytes")
        if not message.get("more_body"):
            break
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        raise HttpError(400, "the request body is not JSON") from None
    if not isinstance(value, dict):
        raise HttpError(400, "the request body is not a JSON object")
    return value


async def answer(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Send a whole answer with the console's security headers."""
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *_SECURITY_HEADERS,
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def answer_json(
    send: Send,
    value: Any,
    *,
    status: int = 200,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Send ``value`` as JSON."""
    body = json.dumps(value, ensure_ascii=False).encode()
    await answer(send, status, body, "application/json", extra)


def asset(name: str) -> bytes:
    """The bytes of one of the page's files (package data of ``accord.console``)."""
    return resources.files("accord.console").joinpath("static", name).read_bytes()


def security_headers() -> tuple[tuple[bytes, bytes], ...]:
    """The headers every answer carries (an SSE answer too)."""
    return _SECURITY_HEADERS
