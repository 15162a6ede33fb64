"""The registry's HTTP API as a plain ASGI app: :class:`RegistryApp`.

Routes (each also under ``/tenants/{tenant}`` for a private registry):

==========================================  ==============================================
``POST /search``                            ARD search (:func:`.shapes.parse_search`)
``POST /explore``                           ARD facets
``GET /agents/{identifier}``                ARD catalog entry
``GET /agents/{identifier}/card``           the latest card, as received
``GET /agents/{identifier}/versions``       every version with its diff
``DELETE /agents/{identifier}``             forget an agent (publishers only)
``POST /agents``                            publish a card (publishers only)
``POST /api/agents/register``               register by ``wellKnownURI`` (publishers only)
``GET /v0.1/servers``                       MCP registry v0.1 read API
``/.well-known/agent-card.json``, ``/a2a``  the registry's own A2A agent (:mod:`.agent`)
==========================================  ==============================================

*Who may do what.* Reads of the public registry (tenant ``""``) are open. Writes,
and every call to a private tenant, authenticate with Accord's auth module
(:mod:`accord.server.auth`), as ``accord serve`` does: the registry declares
security schemes and a :class:`~accord.server.auth.Verifier` for each
(:class:`RegistryAuth`, e.g. API keys), and a caller's
:class:`~accord.server.auth.Principal` must allow the tenant
(:meth:`~accord.server.auth.Principal.allows_tenant`). Without a
:class:`RegistryAuth` the registry is *open*: anyone may register in the public
tenant, as community registries allow, and private tenants do not exist.

*Bad input.* Bodies are bounded (``max_body_bytes``, else 413) and read as JSON;
every refusal is an ARD error object ``{"errorCode", "message"}`` with the matching
HTTP status (:data:`STATUS`). A store failure is logged and answered as
``UNAVAILABLE`` without its details.

*Lifespan.* The app opens its store and its outbound HTTP client (the SSRF guard,
:func:`accord.egress.egress_client`) in the ASGI lifespan, or in
:meth:`RegistryApp.running` when mounted elsewhere, and closes them at shutdown;
the health checker (:mod:`.health`) runs in the same task group.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio

from accord.egress import EgressPolicy, egress_client
from accord.errors import ParseError, StoreError
from accord.server.auth import (
    AuthConfig,
    AuthenticationRequired,
    Authenticator,
    InsufficientScope,
    Principal,
    RequestInfo,
)
from accord.types import SecurityRequirement, StringList, decode_json, encode

from . import shapes
from .registration import Registrar, RegistrationError
from .store import RegistryStore, open_registry_store

if TYPE_CHECKING:
    from accord.security import TrustStore
    from accord.server.auth import Verifier
    from accord.types import SecurityScheme

    from .health import HealthSettings
    from .store import Recorded

__all__ = ["DEFAULT_MAX_BODY_BYTES", "STATUS", "RegistryApp", "RegistryAuth"]

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: The largest request body read (a card is a few KiB; 1 MiB leaves room).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

#: HTTP status of each ARD error code this registry answers with.
STATUS: Mapping[str, int] = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "RESOURCE_EXHAUSTED": 413,
    "FAILED_PRECONDITION": 422,
    "UNAVAILABLE": 503,
}


class _Refusal(Exception):
    def __init__(
        self, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers


@dataclass(frozen=True)
class RegistryAuth:
    """Who may publish: security schemes and a verifier for each (any one will do).

    Attributes:
        schemes: scheme name -> :class:`~accord.types.SecurityScheme`, as in a card.
        verifiers: scheme name -> :class:`~accord.server.auth.Verifier`.
    """

    schemes: Mapping[str, SecurityScheme]
    verifiers: Mapping[str, Verifier] = field(default_factory=dict)

    def authenticator(self) -> Authenticator:
        """The :class:`~accord.server.auth.Authenticator` enforcing this (fails fast)."""
        requirements = [
            SecurityRequirement(schemes={name: StringList()}) for name in self.verifiers
        ]
        return Authenticator(
            self.schemes,
            requirements,
            AuthConfig(verifiers=self.verifiers),
            realm="accord registry",
        )


#: Where the registry's own A2A agent is served (:mod:`.agent`), and its card.
AGENT_PATH = "/a2a"
CARD_PATH = "/.well-known/agent-card.json"

_TENANT = re.compile(r"/tenants/([A-Za-z0-9._~-]{1,64})(/.*)")


class RegistryApp:
    """The registry's ASGI app.

    Args:
        store: a :class:`RegistryStore` (entered by the app) or where to open one
            (a SQLite path or a ``postgresql://`` URL).
        auth: who may publish (:class:`RegistryAuth`); ``None``: an open registry.
        trust: the keys cards must be signed with; ``None`` records cards unverified.
        egress: what the registry may fetch (the SSRF guard's policy).
        public_url: the registry's base URL in answers (default: from the request).
        max_body_bytes: the largest request body read.
        health: re-fetch registered agents (:mod:`.health`); ``None``: never.
    """

    def __init__(
        self,
        store: RegistryStore | str,
        *,
        auth: RegistryAuth | None = None,
        trust: TrustStore | None = None,
        egress: EgressPolicy | None = None,
        public_url: str | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        health: HealthSettings | None = None,
        agent: bool = True,
    ) -> None:
        self.store = open_registry_store(store) if isinstance(store, str) else store
        self.auth = auth.authenticator() if auth is not None else None
        self.trust = trust
        self.egress = egress if egress is not None else EgressPolicy()
        self.public_url = public_url.rstrip("/") if public_url else None
        self.max_body_bytes = max_body_bytes
        self.health = health
        self._registrar: Registrar | None = None
        self.agent_app = None
        if agent:
            from accord.server import A2AApp

            from .agent import registry_agent

            self.agent_app = A2AApp(
                registry_agent(self.store, base_url=self.public_url or ""),
                public_url=f"{self.public_url}{AGENT_PATH}"
                if self.public_url
                else None,
            )

    @property
    def registrar(self) -> Registrar:
        """The registrar (only while the app runs)."""
        if self._registrar is None:
            raise RuntimeError("the registry is not running (lifespan not started)")
        return self._registrar

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RegistryApp]:
        """Open the store and the HTTP client, run the health checks; close at exit."""
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.store)
            if self.agent_app is not None:
                await stack.enter_async_context(self.agent_app.running())
            http = await stack.enter_async_context(egress_client(self.egress))
            self._registrar = Registrar(self.store, http, trust=self.trust)
            stack.callback(setattr, self, "_registrar", None)
            tasks = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tasks.cancel_scope.cancel)
            if self.health is not None:
                from .health import HealthChecker

                checker = HealthChecker(self.store, self._registrar, self.health)
                tasks.start_soon(checker.run)
            yield self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            async with self.running():
                await send({"type": "lifespan.startup.complete"})
                message = await receive()
        except Exception as exc:
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            raise
        await send({"type": "lifespan.shutdown.complete"})

    # --- HTTP -------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if self.agent_app is not None and (
            path in (CARD_PATH, AGENT_PATH) or path.startswith(AGENT_PATH + "/")
        ):
            # The registry's own agent: mounted at /a2a, its card also at the root.
            root = scope.get("root_path", "") + AGENT_PATH
            inner = {**scope, "root_path": root}
            if path == CARD_PATH:
                inner["path"] = root + CARD_PATH
                inner["raw_path"] = inner["path"].encode()
            await self.agent_app(inner, receive, send)
            return
        tenant = ""
        if matched := _TENANT.fullmatch(path):
            tenant, path = matched.group(1), matched.group(2)
        try:
            status, body, content_type = await self._route(
                scope, receive, scope["method"], path, tenant
            )
        except _Refusal as refusal:
            await _send(
                send,
                STATUS[refusal.code],
                encode({"errorCode": refusal.code, "message": refusal.message}),
                refusal.headers,
            )
            return
        except StoreError:
            logger.exception("registry store failure")
            await _send(
                send,
                503,
                encode(
                    {
                        "errorCode": "UNAVAILABLE",
                        "message": "the registry's store is unavailable; retry later",
                    }
                ),
            )
            return
        await _send(send, status, body, content_type=content_type)

    async def _route(
        self, scope: Scope, receive: Receive, method: str, path: str, tenant: str
    ) -> tuple[int, bytes, str]:
        base = self._base_url(scope) + (f"/tenants/{tenant}" if tenant else "")
        if path.startswith("/agents/") and path != "/agents/":
            return await self._agent(scope, method, path[8:], tenant, base)
        routes: dict[tuple[str, str], Callable[[], Awaitable[Any]]] = {
            ("POST", "/search"): lambda: self._search(scope, receive, tenant, base),
            ("POST", "/explore"): lambda: self._explore(scope, receive, tenant),
            ("GET", "/v0.1/servers"): lambda: self._mcp(scope, tenant),
            ("POST", "/api/agents/register"): lambda: self._register(
                scope, receive, tenant
            ),
            ("POST", "/agents"): lambda: self._publish(scope, receive, tenant),
        }
        handler = routes.get((method, path))
        if handler is None:
            if any(p == path for _, p in routes):
                allowed = ", ".join(m for m, p in routes if p == path)
                raise _Refusal(
                    "METHOD_NOT_ALLOWED",
                    f"{method} is not allowed on {path} (use {allowed})",
                    (("allow", allowed),),
                )
            raise _Refusal("NOT_FOUND", f"no such resource: {path}")
        result = await handler()
        if isinstance(result, tuple):
            status, payload = result
            return status, encode(payload), "application/json"
        return 200, encode(result), "application/json"

    def _base_url(self, scope: Scope) -> str:
        if self.public_url:
            return self.public_url
        host = RequestInfo.from_scope(scope).header("host") or "localhost"
        return f"{scope.get('scheme', 'http')}://{host}"

    # --- access -------------------------------------------------------------------------

    async def _principal(self, scope: Scope, tenant: str, *, write: bool) -> None:
        """Refuse the call unless the caller may read (or write) ``tenant``."""
        if self.auth is None:
            if tenant:
                raise _Refusal(
                    "NOT_FOUND", "this registry has no private tenants (it is open)"
                )
            return
        if not write and not tenant:
            return
        try:
            principal: Principal | None = await self.auth.authenticate(
                RequestInfo.from_scope(scope)
            )
        except (AuthenticationRequired, InsufficientScope) as exc:
            code = (
                "UNAUTHENTICATED"
                if isinstance(exc, AuthenticationRequired)
                else "PERMISSION_DENIED"
            )
            raise _Refusal(
                code,
                f"publishing, and private registries, need credentials ({exc.message})",
                tuple(("www-authenticate", c) for c in exc.challenges),
            ) from None
        if principal is None or not principal.allows_tenant(tenant):
            raise _Refusal(
                "PERMISSION_DENIED",
                f"these credentials may not use the registry {tenant or '(public)'}",
            )

    async def _json(self, scope: Scope, receive: Receive) -> Any:
        return _parse(await self._body(scope, receive))

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.max_body_bytes
        declared = RequestInfo.from_scope(scope).header("content-length")
        too_large = _Refusal(
            "RESOURCE_EXHAUSTED", f"the request body exceeds {limit} bytes"
        )
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Refusal("INVALID_ARGUMENT", "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    # --- handlers ---------------------------------------------------------------------

    async def _search(
        self, scope: Scope, receive: Receive, tenant: str, base: str
    ) -> Any:
        await self._principal(scope, tenant, write=False)
        body = await self._json(scope, receive)
        query = _bad_request(shapes.parse_search, body)
        if query is None:
            return {"results": []}
        page = await self.store.search(tenant, query)
        return shapes.search_response(page, base_url=base)

    async def _explore(self, scope: Scope, receive: Receive, tenant: str) -> Any:
        await self._principal(scope, tenant, write=False)
        query, facets = _bad_request(
            shapes.parse_explore, await self._json(scope, receive)
        )
        fields = [f.field for f in facets if f.field != "type"]
        counts: dict[str, list[tuple[str, int]]] = {}
        if query is not None:
            limit = max((f.limit for f in facets), default=20)
            counts = await self.store.facets(tenant, query, fields, limit)
            total = await self.store.count(tenant, query)
            counts["type"] = [(shapes.CARD_MEDIA_TYPE, total)] if total else []
        return shapes.explore_response(
            {f.field: counts.get(f.field, [])[: f.limit] for f in facets}, facets
        )

    async def _mcp(self, scope: Scope, tenant: str) -> Any:
        await self._principal(scope, tenant, write=False)
        params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        page = await self.store.search(
            tenant, _bad_request(shapes.parse_mcp_query, params)
        )
        return shapes.mcp_server_list(page)

    async def _register(self, scope: Scope, receive: Receive, tenant: str) -> Any:
        await self._principal(scope, tenant, write=True)
        uri = _bad_request(shapes.parse_registration, await self._json(scope, receive))
        return _registered(await _refusing(self.registrar.register_url(tenant, uri)))

    async def _publish(self, scope: Scope, receive: Receive, tenant: str) -> Any:
        await self._principal(scope, tenant, write=True)
        body = await self._body(scope, receive)
        return _registered(await _refusing(self.registrar.publish(tenant, body)))

    async def _agent(
        self, scope: Scope, method: str, rest: str, tenant: str, base: str
    ) -> tuple[int, bytes, str]:
        identifier, _, tail = rest.partition("/")
        if (method, tail) not in {("GET", ""), ("GET", "card"), ("GET", "versions")} | {
            ("DELETE", "")
        }:
            raise _Refusal("NOT_FOUND", f"no such resource: /agents/{rest}")
        await self._principal(scope, tenant, write=method == "DELETE")
        if method == "DELETE":
            if not await self.store.remove(tenant, identifier):
                raise _Refusal("NOT_FOUND", f"no agent {identifier} in this registry")
            return 200, encode({"identifier": identifier, "removed": True}), _JSON
        if tail == "versions":
            versions = await self.store.versions(tenant, identifier)
            if not versions:
                raise _Refusal("NOT_FOUND", f"no agent {identifier} in this registry")
            payload = {
                "identifier": identifier,
                "versions": [v.to_json() for v in versions],
            }
            return 200, encode(payload), _JSON
        entry = await self.store.get(tenant, identifier)
        if entry is None:
            raise _Refusal("NOT_FOUND", f"no agent {identifier} in this registry")
        if tail == "card":
            return 200, entry.card_json.encode(), _JSON
        out = shapes.catalog_entry(entry, base_url=base)
        out["health"] = entry.health.to_json()
        return 200, encode(out), _JSON


_JSON = "application/json"


def _parse(body: bytes) -> Any:
    try:
        return decode_json(body)
    except ParseError:
        raise _Refusal("INVALID_ARGUMENT", "the request body is not JSON") from None


def _bad_request(parse: Callable[[Any], Any], value: Any) -> Any:
    try:
        return parse(value)
    except shapes.BadRequest as exc:
        raise _Refusal("INVALID_ARGUMENT", str(exc)) from None


async def _refusing(call: Awaitable[Recorded]) -> Recorded:
    try:
        return await call
    except RegistrationError as exc:
        raise _Refusal(exc.code, exc.message) from None


def _registered(recorded: Recorded) -> tuple[int, dict[str, Any]]:
    entry, version = recorded.entry, recorded.version
    if recorded.created:
        status = "registered"
    elif version is not None:
        status = "updated"
    else:
        status = "unchanged"
    payload: dict[str, Any] = {
        "identifier": entry.identifier,
        "status": status,
        "cardVersion": entry.version,
        "pin": entry.pin,
        "drift": version is not None and version.version_unchanged,
        "breaking": version is not None and version.breaking,
    }
    if version is not None and version.diff is not None:
        payload["diff"] = dict(version.diff)
    return (201 if recorded.created else 200), payload


async def _send(
    send: Send,
    status: int,
    body: bytes,
    headers: tuple[tuple[str, str], ...] = (),
    *,
    content_type: str = _JSON,
) -> None:
    raw = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *((k.encode(), v.encode()) for k, v in headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
