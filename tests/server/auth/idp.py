"""A tiny identity provider on loopback: JWKS, discovery documents, introspection.

An ASGI app served with uvicorn by the tests. Its issuer is its own base URL (from
the ``Host`` header), as a real provider's would be.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qsl, unquote

from accord.security.jose import JWK, sign_compact

CLIENT_ID = "agent-server"
CLIENT_SECRET = "s3cret/with:specials"
AUDIENCE = "https://agent.test"


def token(
    key: JWK, claims: dict[str, Any], *, header: dict[str, Any] | None = None
) -> str:
    """A JWT signed with ``key``."""
    return sign_compact(
        json.dumps(claims).encode(), key, header={"typ": "JWT", **(header or {})}
    )


def claims(issuer: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": issuer,
        "sub": "user-1",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        **extra,
    }


class IdP:
    """JWKS at ``/jwks``; OIDC discovery; RFC 8414 metadata; RFC 7662 introspection."""

    def __init__(self) -> None:
        self.keys: list[JWK] = [JWK.generate("ES256", kid="k1")]
        self.jwks_hits = 0
        self.introspections = 0
        #: opaque token -> introspection answer
        self.opaque: dict[str, dict[str, Any]] = {}
        #: issuer the discovery document claims (None: the real one)
        self.claimed_issuer: str | None = None

    def base(self, scope: dict[str, Any]) -> str:
        host = dict(scope["headers"]).get(b"host", b"").decode()
        return f"http://{host}"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, answer = self.route(scope, body)
        payload = json.dumps(answer).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def route(self, scope: dict[str, Any], body: bytes) -> tuple[int, Any]:
        base = self.base(scope)
        path = scope["path"]
        if path == "/jwks":
            self.jwks_hits += 1
            return 200, {"keys": [k.public().to_dict() for k in self.keys]}
        if path == "/.well-known/openid-configuration":
            return 200, {
                "issuer": self.claimed_issuer or base,
                "jwks_uri": base + "/jwks",
                "introspection_endpoint": base + "/introspect",
            }
        if path.startswith("/.well-known/oauth-authorization-server"):
            return 200, {
                "issuer": base
                + path.removeprefix("/.well-known/oauth-authorization-server"),
                "jwks_uri": base + "/jwks",
            }
        if path == "/introspect" and scope["method"] == "POST":
            return self.introspect(scope, body)
        return 404, {"error": "not_found"}

    def introspect(self, scope: dict[str, Any], body: bytes) -> tuple[int, Any]:
        self.introspections += 1
        auth = dict(scope["headers"]).get(b"authorization", b"").decode()
        scheme, _, value = auth.partition(" ")
        pair = base64.b64decode(value).decode() if scheme == "Basic" else ""
        client, _, secret = pair.partition(":")
        if (unquote(client), unquote(secret)) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        form = dict(parse_qsl(body.decode()))
        return 200, self.opaque.get(form.get("token", ""), {"active": False})
