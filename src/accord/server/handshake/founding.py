"""The founding documents' shapes, served by an Accord agent (opt-in compatibility).

The documents Accord was founded on describe a partner agent two ways that predate
A2A v1.0: a manifest at ``/.well-known/agent.json``::

    {"name": "Receptionist",
     "tasks": [{"name": "schedule_callback", "input_schema": {...},
                "output_schema": {...}}],
     "auth": "bearer",
     "endpoint": "https://agent.example.com/"}

and a JSON-RPC call whose method is the skill's name, with a bearer token::

    {"jsonrpc": "2.0", "id": 1, "method": "schedule_callback",
     "params": {"phone": "+1...", "time_window": "tomorrow 9-12"}}

:class:`FoundingSurface` wraps an :class:`~accord.server.A2AApp` and serves both. The
manifest replaces the A2A card at ``/.well-known/agent.json`` (the spec's path,
``/.well-known/agent-card.json``, still serves the card). A skill-named call is
rewritten into the A2A request it means: SendMessage (spec §3.1.1, ``A2A-Version:
1.0``) of a user message with one data part (the ``params`` object) and the metadata
``{"skill": name}``; everything else (authentication, skill contracts, the agent, the
audit trail) is the ordinary A2A path, and the answer is SendMessage's: ``{"task":
{...}}`` under ``result``, with the same ``id``. Only skills that have a
:class:`~accord.protocol.handshake.SkillContract` become methods, so A2A's own methods
are never shadowed. Other requests pass through untouched.

The body of a ``POST /`` is read to decide, up to the app's ``max_body_bytes``; a
longer body is handed on as it is, for the app to refuse.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from accord.server.auth.verifier import scheme_kind

if TYPE_CHECKING:
    from accord.types import SecurityScheme

    from ..asgi import A2AApp
    from .skills import SkillContracts

__all__ = ["MANIFEST_PATH", "FoundingSurface", "manifest_auth"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Where the founding documents' manifest is served.
MANIFEST_PATH = "/.well-known/agent.json"
_INVALID_PARAMS = -32602


def manifest_auth(schemes: dict[str, SecurityScheme]) -> str | list[str]:
    """The manifest's ``auth``: ``"bearer"``, ``"api_key"``, ``"oauth2"``,
    ``"openid"``, ``"mtls"`` (a list when the card declares several, ``"none"``
    when it declares none)."""
    names = {
        "apiKey": "api_key",
        "oauth2": "oauth2",
        "openIdConnect": "openid",
        "mutualTLS": "mtls",
    }
    kinds: list[str] = []
    for scheme in schemes.values():
        kind = scheme_kind(scheme)
        http = scheme.http_auth_security_scheme
        name = http.scheme.lower() if http is not None else names[kind]
        if name not in kinds:
            kinds.append(name)
    if not kinds:
        return "none"
    return kinds[0] if len(kinds) == 1 else kinds


class FoundingSurface:
    """ASGI app: the founding documents' manifest and skill-named methods over ``app``.

    Example::

        contracts = SkillContracts([...])
        app = A2AApp(agent, interceptors=[contracts])
        asgi = FoundingSurface(app, contracts)   # serve this one
    """

    def __init__(self, app: A2AApp, contracts: SkillContracts) -> None:
        self.app = app
        self.contracts = contracts

    def manifest(self, base_url: str) -> dict[str, Any]:
        """The manifest served for the app at ``base_url`` (no trailing slash)."""
        agent = self.app.engine.agent
        tasks = []
        for contract in self.contracts.contracts.values():
            task: dict[str, Any] = {"name": contract.skill}
            task["input_schema"] = dict(contract.input_schema or {})
            task["output_schema"] = dict(contract.output_schema or {})
            tasks.append(task)
        return {
            "name": agent.name,
            "tasks": tasks,
            "auth": manifest_auth(agent.security_schemes),
            "endpoint": base_url + "/",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        method = scope["method"]
        if path == MANIFEST_PATH and method in ("GET", "HEAD"):
            body = json.dumps(self.manifest(self.app.base_url(scope))).encode()
            await _answer(send, 200, body, head=method == "HEAD")
            return
        if method == "POST" and path in ("", "/"):
            await self._jsonrpc(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _jsonrpc(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.app.limits.max_body_bytes
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= limit:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunk = bytes(message.get("body", b""))
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        rewritten = None if more else self._rewrite(body)
        if isinstance(rewritten, dict):  # refused here: params is not an object
            await _answer(send, 200, json.dumps(rewritten).encode())
            return
        if rewritten is not None:
            body = rewritten
            scope = {**scope, "headers": _a2a_headers(scope, len(body))}
        await self.app(scope, _replay(body, more, receive), send)

    def _rewrite(self, body: bytes) -> bytes | dict[str, Any] | None:
        """The SendMessage request a skill-named call means (bytes), a JSON-RPC error
        answer (dict), or None: not a skill-named call."""
        try:
            request = json.loads(body)
        except ValueError:
            return None
        if not isinstance(request, dict):
            return None
        skill = request.get("method")
        if not isinstance(skill, str) or skill not in self.contracts.contracts:
            return None
        params = request.get("params", {})
        if not isinstance(params, dict):
            return {
                "jsonrpc": "2.0",
                "id": request.get("id"),
                "error": {
                    "code": _INVALID_PARAMS,
                    "message": f"{skill}: params must be a JSON object of the "
                    "skill's input fields",
                },
            }
        send_message = {
            "jsonrpc": "2.0",
            "id": request.get("id"),
            "method": "SendMessage",
            "params": {
                "message": {
                    "messageId": str(uuid.uuid4()),
                    "role": "ROLE_USER",
                    "parts": [{"data": params, "mediaType": "application/json"}],
                    "metadata": {"skill": skill},
                }
            },
        }
        return json.dumps(send_message).encode()


def _a2a_headers(scope: Scope, length: int) -> list[tuple[bytes, bytes]]:
    replaced = {b"content-length", b"content-type", b"a2a-version"}
    headers = [
        (bytes(k), bytes(v))
        for k, v in scope.get("headers", ())
        if bytes(k).lower() not in replaced
    ]
    headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(length).encode()))
    headers.append((b"a2a-version", b"1.0"))
    return headers


def _replay(body: bytes, more: bool, receive: Receive) -> Receive:
    """A ``receive`` giving ``body`` first, then (when ``more``) the rest of the
    original request."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replayed


async def _answer(send: Send, status: int, body: bytes, *, head: bool = False) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
