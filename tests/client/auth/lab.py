"""A real agent behind a credential check, with an OAuth 2.0 token endpoint.

:class:`Lab` is one ASGI app, served by a real uvicorn on loopback:

* ``/.well-known/agent-card.json``: the agent's card with the security schemes and
  requirements the test sets (``lab.secure(...)``); the OAuth token URL in it points
  back at this server;
* ``/oauth/token``: a client-credentials token endpoint (RFC 6749 §4.4) that checks
  the client with HTTP Basic, records every request, and issues ``tok-1``, ``tok-2``…;
* ``/.well-known/openid-configuration``: OpenID Connect discovery of that endpoint;
* everything else: the A2A agent (JSON-RPC at ``/``, REST below it), answered only
  when one alternative of the card's requirements is satisfied, else ``401``.

It enforces the requirements itself (the server's own enforcement is not what is
under test here) and records what every agent request carried.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import anyio

from accord.server import A2AApp, Agent, TaskContext, build_card
from accord.types import (
    AgentCard,
    APIKeySecurityScheme,
    ClientCredentialsOAuthFlow,
    HTTPAuthSecurityScheme,
    MutualTlsSecurityScheme,
    OAuth2SecurityScheme,
    OAuthFlows,
    OpenIdConnectSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
    encode,
    replace,
)
from tests.helpers.gates import GATE_TIMEOUT

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

API_KEY = "key-Zq8#secret"
STATIC_TOKEN = "static-token-7Hx"
USER, PASSWORD = "ada", "pa:ss wörd"
CLIENT_ID, CLIENT_SECRET = "client one", "cl!ent-secret-9Q"
TOKEN_PATH = "/oauth/token"
OIDC_PATH = "/.well-known/openid-configuration"
#: Every secret a test hands the client; none may show up in reprs, errors or logs.
SECRETS = (API_KEY, STATIC_TOKEN, PASSWORD, CLIENT_SECRET)


def api_key(location: str = "header", name: str = "X-API-Key") -> SecurityScheme:
    return SecurityScheme(
        api_key_security_scheme=APIKeySecurityScheme(location=location, name=name)
    )


def http_auth(scheme: str) -> SecurityScheme:
    return SecurityScheme(
        http_auth_security_scheme=HTTPAuthSecurityScheme(scheme=scheme)
    )


def oauth2(token_url: str = "") -> SecurityScheme:
    """A client-credentials scheme; an empty ``token_url`` means this lab's."""
    flow = ClientCredentialsOAuthFlow(
        token_url=token_url, scopes={"read": "read things", "write": "write things"}
    )
    return SecurityScheme(
        oauth2_security_scheme=OAuth2SecurityScheme(
            flows=OAuthFlows(client_credentials=flow)
        )
    )


def oidc() -> SecurityScheme:
    """An OpenID Connect scheme whose discovery URL is this lab's."""
    return SecurityScheme(open_id_connect_security_scheme=OpenIdConnectSecurityScheme())


def mtls() -> SecurityScheme:
    return SecurityScheme(mtls_security_scheme=MutualTlsSecurityScheme())


def requirement(**schemes: tuple[str, ...]) -> SecurityRequirement:
    """``requirement(oauth=("read",), key=())``: schemes required together."""
    return SecurityRequirement(
        schemes={name: StringList(list=scopes) for name, scopes in schemes.items()}
    )


@dataclass
class Seen:
    """What one agent request carried."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    cookies: dict[str, str]

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


@dataclass
class TokenRequest:
    """One request to the token endpoint, as the endpoint parsed it."""

    client_id: str | None
    client_secret: str | None
    form: dict[str, str]
    content_type: str


async def _echo(ctx: TaskContext) -> None:
    await ctx.add_artifact(f"echo: {ctx.text}")
    await ctx.complete()


def _agent() -> Agent:
    return Agent(_echo, name="Vault", description="an agent that wants credentials")


@dataclass
class Lab:
    """See the module docstring. ``reset()`` between tests."""

    app: A2AApp = field(default_factory=lambda: A2AApp(_agent()))
    schemes: dict[str, SecurityScheme] = field(default_factory=dict)
    requirements: tuple[SecurityRequirement, ...] = ()
    seen: list[Seen] = field(default_factory=list)
    token_requests: list[TokenRequest] = field(default_factory=list)
    discoveries: int = 0
    issued: list[str] = field(default_factory=list)
    #: Tokens the agent accepts (issued ones, until revoked).
    valid: set[str] = field(default_factory=set)
    expires_in: Any = 3600
    #: When set, the token endpoint answers only once the test opens this gate, so
    #: concurrent callers all find the token expired before it is renewed.
    token_gate: threading.Event | None = None
    #: Answer every agent request with 401, whatever it carries.
    reject_all: bool = False

    def reset(self) -> None:
        self.schemes, self.requirements = {}, ()
        self.seen, self.token_requests, self.issued = [], [], []
        self.valid = set()
        self.discoveries = 0
        self.expires_in, self.token_gate, self.reject_all = 3600, None, False

    def secure(
        self, schemes: dict[str, SecurityScheme], *requirements: SecurityRequirement
    ) -> None:
        """Declare (and enforce) these schemes and requirement alternatives."""
        self.schemes = dict(schemes)
        self.requirements = requirements

    @property
    def agent_requests(self) -> list[Seen]:
        """Requests to the agent's interfaces (not the card)."""
        return [s for s in self.seen if not s.path.startswith("/.well-known/")]

    # --- ASGI ---------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        base = f"{scope['scheme']}://{headers['host']}"
        path = scope["path"]
        if path == TOKEN_PATH:
            await self._token(receive, send, headers)
            return
        if path == OIDC_PATH:
            self.discoveries += 1
            body = encode({"issuer": base, "token_endpoint": base + TOKEN_PATH})
            await _respond(send, 200, body, "application/json")
            return
        seen = Seen(
            method=scope["method"],
            path=path,
            query=dict(parse_qsl(scope["query_string"].decode())),
            headers=headers,
            cookies=_cookies(headers.get("cookie", "")),
        )
        self.seen.append(seen)
        if path == "/.well-known/agent-card.json":
            await _respond(send, 200, encode(self.card(base)), "application/json")
            return
        if self.reject_all or not self._allowed(seen):
            await _respond(
                send,
                401,
                b"who are you?",
                "text/plain",
                [(b"www-authenticate", b'Bearer realm="vault"')],
            )
            return
        await self.app(scope, receive, send)

    def card(self, base: str) -> AgentCard:
        schemes = {}
        for name, scheme in self.schemes.items():
            if (o := scheme.oauth2_security_scheme) is not None:
                flow = o.flows.client_credentials
                if flow is not None and not flow.token_url:
                    flow = replace(flow, token_url=base + TOKEN_PATH)
                    scheme = oauth2_with(flow)
            elif scheme.open_id_connect_security_scheme is not None:
                scheme = SecurityScheme(
                    open_id_connect_security_scheme=OpenIdConnectSecurityScheme(
                        open_id_connect_url=base + OIDC_PATH
                    )
                )
            schemes[name] = scheme
        return replace(
            build_card(self.app.agent, base),
            security_schemes=schemes,
            security_requirements=self.requirements,
        )

    def _allowed(self, seen: Seen) -> bool:
        if not self.requirements:
            return True
        return any(
            all(self._satisfied(self.schemes[name], seen) for name in alt.schemes)
            for alt in self.requirements
        )

    def _satisfied(self, scheme: SecurityScheme, seen: Seen) -> bool:
        auth = seen.headers.get("authorization", "")
        if (key := scheme.api_key_security_scheme) is not None:
            where = {
                "header": {k.lower(): v for k, v in seen.headers.items()},
                "query": seen.query,
                "cookie": seen.cookies,
            }[key.location]
            name = key.name.lower() if key.location == "header" else key.name
            return where.get(name) == API_KEY
        if (http := scheme.http_auth_security_scheme) is not None:
            if http.scheme.lower() == "basic":
                raw = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                return auth == f"Basic {raw}"
            return seen.bearer in self.valid | {STATIC_TOKEN}
        if scheme.mtls_security_scheme is not None:
            return True  # checked by the TLS layer in the TLS tests
        return seen.bearer in self.valid

    async def _token(
        self, receive: Receive, send: Send, headers: dict[str, str]
    ) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        client_id = client_secret = None
        auth = headers.get("authorization", "")
        if auth.startswith("Basic "):
            raw = base64.b64decode(auth.removeprefix("Basic ")).decode()
            user, _, password = raw.partition(":")
            client_id, client_secret = unquote_plus(user), unquote_plus(password)
        form = dict(parse_qsl(body.decode()))
        self.token_requests.append(
            TokenRequest(
                client_id, client_secret, form, headers.get("content-type", "")
            )
        )
        if self.token_gate is not None:
            # Opened from the test's thread: a threading.Event, so poll it (bounded).
            with anyio.fail_after(GATE_TIMEOUT):
                while not self.token_gate.is_set():  # noqa: ASYNC110
                    await anyio.sleep(0.005)
        if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
            error = {"error": "invalid_client", "error_description": "unknown client"}
            await _respond(send, 401, encode(error), "application/json")
            return
        if form.get("grant_type") != "client_credentials":
            error = {"error": "unsupported_grant_type"}
            await _respond(send, 400, encode(error), "application/json")
            return
        token = f"tok-{len(self.issued) + 1}"
        self.issued.append(token)
        self.valid.add(token)
        answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
        if self.expires_in is not None:
            answer["expires_in"] = self.expires_in
        await _respond(send, 200, encode(answer), "application/json")


def oauth2_with(flow: ClientCredentialsOAuthFlow) -> SecurityScheme:
    return SecurityScheme(
        oauth2_security_scheme=OAuth2SecurityScheme(
            flows=OAuthFlows(client_credentials=flow)
        )
    )


def _cookies(header: str) -> dict[str, str]:
    pairs = (p.strip().partition("=") for p in header.split(";") if p.strip())
    return {name: value for name, _, value in pairs}


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
