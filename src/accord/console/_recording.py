"""The raw view: every HTTP exchange a session's client makes, as sent and received.

:class:`RecordingTransport` sits between the session's httpx client and the egress
transport (:mod:`accord.egress`). It keeps, per exchange, the request line, headers and
body, and the response status, headers and the first :data:`BODY_LIMIT` bytes of the
body (a stream's SSE frames included, as they arrive). Credential headers are
replaced by ``[redacted]``: the raw view is shown in the browser, and credentials
never go there. The log is a bounded deque: the oldest exchanges go first.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = [
    "BODY_LIMIT",
    "REDACTED_HEADERS",
    "Exchange",
    "ExchangeLog",
    "RecordingTransport",
]

#: Bytes of each body kept for the raw view.
BODY_LIMIT = 64 * 1024
#: Headers whose values never reach the browser (lower case).
REDACTED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)


def _headers(headers: httpx.Headers, secret: frozenset[str]) -> list[list[str]]:
    return [
        [name, "[redacted]" if name.lower() in secret else value]
        for name, value in headers.multi_items()
    ]


def _text(body: bytes, limit: int) -> str:
    cut = body[:limit]
    text = cut.decode("utf-8", "replace")
    return text + ("\n[... cut]" if len(body) > limit else "")


@dataclass(slots=True)
class Exchange:
    """One request and its response (filled in as the body arrives)."""

    id: int
    time: float
    method: str
    url: str
    request_headers: list[list[str]]
    request_body: str
    status: int = 0
    response_headers: list[list[str]] = field(default_factory=list)
    response_body: bytearray = field(default_factory=bytearray)
    truncated: bool = False
    error: str = ""

    def add_body(self, chunk: bytes, limit: int) -> None:
        """Keep ``chunk`` within ``limit`` bytes of body in total."""
        room = limit - len(self.response_body)
        if room > 0:
            self.response_body += chunk[:room]
        if len(chunk) > room:
            self.truncated = True

    def to_json(self) -> dict[str, Any]:
        """The exchange for the page."""
        body = self.response_body.decode("utf-8", "replace")
        return {
            "id": self.id,
            "time": self.time,
            "method": self.method,
            "url": self.url,
            "requestHeaders": self.request_headers,
            "requestBody": self.request_body,
            "status": self.status,
            "responseHeaders": self.response_headers,
            "responseBody": body + ("\n[... cut]" if self.truncated else ""),
            "error": self.error,
        }


class ExchangeLog:
    """The newest ``size`` exchanges of one session."""

    def __init__(self, size: int, *, secret: frozenset[str] = REDACTED_HEADERS) -> None:
        self._items: deque[Exchange] = deque(maxlen=size)
        self._ids = itertools.count(1)
        self.secret = secret

    def start(self, request: httpx.Request, body: bytes) -> Exchange:
        """Record ``request`` (its body already read)."""
        exchange = Exchange(
            id=next(self._ids),
            time=time.time(),
            method=request.method,
            url=str(request.url),
            request_headers=_headers(request.headers, self.secret),
            request_body=_text(body, BODY_LIMIT),
        )
        self._items.append(exchange)
        return exchange

    def after(self, after: int) -> list[Exchange]:
        """The exchanges with an id above ``after``, oldest first."""
        return [e for e in self._items if e.id > after]


class _Tee(httpx.AsyncByteStream):
    """A response body that copies what passes through into its exchange."""

    def __init__(self, inner: httpx.AsyncByteStream, exchange: Exchange) -> None:
        self._inner = inner
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._exchange.add_body(chunk, BODY_LIMIT)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class RecordingTransport(httpx.AsyncBaseTransport):
    """Send through ``inner``, keeping each exchange in ``log``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, log: ExchangeLog) -> None:
        self._inner = inner
        self.log = log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()  # A2A requests are small JSON documents
        exchange = self.log.start(request, body)
        try:
            response = await self._inner.handle_async_request(request)
        except Exception as exc:
            exchange.error = f"{type(exc).__name__}: {exc}"
            raise
        exchange.status = response.status_code
        exchange.response_headers = _headers(response.headers, self.log.secret)
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Tee(stream, exchange),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
