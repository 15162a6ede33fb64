"""A loopback agent host for the registry tests: serves a card a test can replace."""

from __future__ import annotations

import json
from typing import Any

from accord.egress import EgressPolicy


class CardHost:
    """ASGI app serving ``card`` (bytes) at the well-known path, and ``jwks``.

    ``cache_control`` and ``etag`` are sent when set; a request whose
    ``If-None-Match`` equals the ETag gets 304. ``requests`` counts card requests.
    """

    def __init__(self, card: bytes, *, jwks: dict[str, Any] | None = None) -> None:
        self.card = card
        self.jwks = jwks
        self.cache_control: str | None = None
        self.etag: str | None = None
        self.requests = 0
        self.not_modified = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"application/json")]
        status, body = 404, b"{}"
        if scope["path"] == "/.well-known/agent-card.json":
            self.requests += 1
            status, body = 200, self.card
            if self.cache_control:
                headers.append((b"cache-control", self.cache_control.encode()))
            if self.etag:
                headers.append((b"etag", self.etag.encode()))
                asked = dict(scope["headers"]).get(b"if-none-match")
                if asked == self.etag.encode():
                    self.not_modified += 1
                    status, body = 304, b""
        elif scope["path"] == "/.well-known/jwks.json" and self.jwks is not None:
            status, body = 200, json.dumps(self.jwks).encode()
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})


#: The SSRF guard as a registry on this machine's loopback agents needs it.
LOOPBACK = EgressPolicy.from_strings(["127.0.0.1"], require_https=False)
