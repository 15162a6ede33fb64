"""The console's ASGI application: the page, its assets, and the JSON/SSE API.

Routes (relative to where the app is mounted):

* ``GET /``: the page; ``GET /assets/NAME``: its script and style (package data);
* ``GET /api/state``: the default agent URL and the session's connection, if any;
* ``POST /api/connect`` ``{url, apiKey?, token?, binding?}``: fetch, check and show
  the card, and connect (the session cookie is set here); ``POST /api/disconnect``;
* ``POST /api/send`` ``{text?, data?, taskId?, contextId?}``: send a message and
  stream what comes back as SSE (``event: a2a`` per agent event, ``event: error``,
  then ``event: end``);
* ``GET /api/tasks?state=&contextId=&pageSize=&pageToken=``; ``GET /api/tasks/ID`` (timeline,
  push configs, audit); ``POST /api/tasks/ID/cancel``; ``POST /api/tasks/ID/subscribe``
  (SSE, as send);
* ``GET /api/audit?taskId=``: the console's audit trail of its own calls;
* ``GET /api/raw?after=N``: the raw HTTP exchanges (credentials redacted);
* ``GET /api/registry?q=&skill=``: agents of the console's registry (``registry=``)
  matching the words and skill, best first, each with its card's pin (the page
  connects with ``{url, pin}``: a card changed since the registry saw it is refused).

The browser talks only to the console. Credentials stay in the console's process
(:mod:`._session`): the cookie is ``HttpOnly`` and ``SameSite=Strict``, every POST
must be ``application/json`` (which a cross-site form cannot send) and, when the
browser sends ``Origin``, come from the console's own origin. Everything is bounded by
:class:`~accord.console.ConsoleLimits`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import anyio

from accord.client import ClientConfig
from accord.egress import EgressPolicy, EgressRefused
from accord.errors import (
    CardError,
    ProtocolError,
    SecurityError,
    TransportError,
    UnauthenticatedError,
)
from accord.protocol.errors import spec_for
from accord.stores.audit import AuditQuery
from accord.types import to_builtins

from . import _operations as ops
from ._asgi import (
    ASSETS,
    HttpError,
    Receive,
    Scope,
    Send,
    answer,
    answer_json,
    asset,
    cookie_of,
    header,
    read_json,
    session_cookie,
)
from ._relay import relay
from ._session import Session, SessionTable
from .limits import ConsoleLimits

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from accord.client import Client, CredentialProvider, EventStream
    from accord.security import TrustStore
    from accord.stores.audit import AuditStore

__all__ = ["LOOPBACK", "ConsoleApp"]

#: What a console may reach by default besides https to public addresses: this
#: machine (where ``accord console`` listens by default).
LOOPBACK = ("127.0.0.0/8", "::1", "localhost")

logger = logging.getLogger(__name__)


def _status_of(exc: Exception) -> tuple[int, str, str]:
    """(HTTP status, message, kind) of a failure the page is shown."""
    kind = type(exc).__name__
    if isinstance(exc, HttpError):
        return exc.status, exc.message, exc.kind
    if isinstance(exc, EgressRefused):
        return 403, f"refused by the console's egress policy: {exc}", kind
    if isinstance(exc, UnauthenticatedError):
        return 401, f"the agent refused the credentials: {exc.message}", kind
    if isinstance(exc, ProtocolError):
        return 502, f"the agent answered {spec_for(exc).reason}: {exc.message}", kind
    if isinstance(exc, TransportError | CardError | SecurityError):
        return 502, str(exc), kind
    # A bug of the console (or of what it calls): logged here, a plain 500 there.
    logger.exception("console request failed")
    return 500, "the console failed (see its log)", "InternalError"


@dataclass(frozen=True, slots=True)
class _Call:
    """One API request: the ASGI triple, the caller's session and the request's
    JSON body (a POST) or query parameters (a GET)."""

    scope: Scope
    receive: Receive
    send: Send
    session: Session | None
    body: dict[str, Any]

    def client(self) -> tuple[Session, Client]:
        """The session and its agent client.

        Raises:
            HttpError: 409, not connected, or connected without a usable client.
        """
        session = self.session
        if session is None or session.connection is None:
            raise HttpError(409, "connect to an agent first")
        if session.connection.client is None:
            raise HttpError(409, session.connection.problem or "not connected")
        return session, session.connection.client


#: An API route's handler.
Route = Callable[[_Call], Awaitable[None]]


class ConsoleApp:
    """A web console to look at and talk to A2A agents (ASGI).

    Args:
        agent_url: the agent the page offers to connect to (None: the user types
            one).
        credentials: providers used when the user types none (e.g. ``ApiKey(...)``
            from the command line); the browser never sees them, and with an
            ``agent_url`` they are sent to that agent's origin only (never to an
            agent typed or found in the registry elsewhere).
        egress: which agent URLs the console may reach (SSRF guard); default: https
            to public addresses, plus plain http to loopback.
        trust: keys that make a card signature ``verified``; without, a signature is
            checked against the agent's own published keys (``self-signed``).
        config: the client configuration (timeouts); audit and bindings are set per
            session.
        limits: the console's bounds.
        agent_audit: the served agent's own audit store, when the console runs in
            the agent's process (``accord serve --console``): a task's page then
            also shows what the agent recorded about it.
        registry: an agent registry's base URL (``accord registry serve``): the page
            then offers to find agents there and connect to one pinned to the card
            the registry recorded.

    Example::

        app = ConsoleApp(agent_url="http://127.0.0.1:8000")
        # uvicorn module:app, or accord console --agent http://127.0.0.1:8000
    """

    def __init__(
        self,
        *,
        agent_url: str | None = None,
        credentials: Iterable[CredentialProvider] = (),
        egress: EgressPolicy | None = None,
        trust: TrustStore | None = None,
        config: ClientConfig | None = None,
        limits: ConsoleLimits | None = None,
        agent_audit: AuditStore | None = None,
        registry: str | None = None,
    ) -> None:
        self.limits = limits if limits is not None else ConsoleLimits()
        if egress is None:
            egress = EgressPolicy.from_strings(LOOPBACK)
        egress = replace(egress, max_response_bytes=self.limits.max_response_bytes)
        self.agent_url = agent_url
        self.registry = registry
        self.settings = ops.Settings(
            egress=egress,
            config=config if config is not None else ClientConfig(),
            credentials=tuple(credentials),
            trust=trust,
            agent_audit=agent_audit,
            credentials_origin=ops.origin_of(agent_url) if agent_url else None,
        )
        self.sessions = SessionTable(self.limits)
        self._routes: dict[tuple[str, str], Route] = {
            ("GET", "state"): self._state,
            ("POST", "connect"): self._connect,
            ("POST", "disconnect"): self._disconnect,
            ("POST", "send"): self._send,
            ("GET", "tasks"): self._tasks,
            ("GET", "audit"): self._audit,
            ("GET", "raw"): self._raw,
            ("GET", "registry"): self._registry,
        }

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ConsoleApp]:
        """Serve while inside; on the way out every session's connection closes."""
        try:
            yield self
        finally:
            with anyio.CancelScope(shield=True):
                await self.sessions.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with self.running():
            await send({"type": "lifespan.startup.complete"})
            await receive()
        await send({"type": "lifespan.shutdown.complete"})

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        method = scope["method"]
        try:
            if not path:  # mounted at /console, asked for /console: the page is at /
                location = (root + "/").encode()
                await answer(send, 308, b"", "text/plain", ((b"location", location),))
            elif path in ("/", "/index.html") or path.startswith("/assets/"):
                await self._asset(send, method, path)
            elif path.startswith("/api/"):
                await self._api(scope, receive, send, method, path[len("/api/") :])
            else:
                raise HttpError(404, f"no such page: {path}")
        except Exception as exc:
            status, message, kind = _status_of(exc)
            await answer_json(send, {"error": message, "kind": kind}, status=status)

    async def _asset(self, send: Send, method: str, path: str) -> None:
        if method not in ("GET", "HEAD"):
            raise HttpError(405, "the page is read with GET")
        name = "index.html" if path in ("/", "/index.html") else path[len("/assets/") :]
        if name not in ASSETS:
            raise HttpError(404, f"no such file: {name}")
        await answer(send, 200, asset(name), ASSETS[name])

    def _check_origin(self, scope: Scope) -> None:
        origin = header(scope, b"origin")
        host = header(scope, b"host")
        if origin is not None and origin.split("://", 1)[-1] != host:
            raise HttpError(403, "requests come from the console's own page only")

    async def _api(
        self, scope: Scope, receive: Receive, send: Send, method: str, route: str
    ) -> None:
        if method == "POST":
            self._check_origin(scope)
            body = await read_json(scope, receive, self.limits.max_body)
        else:
            body = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        session = await self.sessions.get(cookie_of(scope))
        call = _Call(scope, receive, send, session, body)
        handler = self._routes.get((method, route))
        if handler is None and route.startswith("tasks/"):
            task_id, _, action = route[len("tasks/") :].partition("/")
            handler = self._task_routes(method, unquote(task_id), action)
        if handler is None:
            raise HttpError(404, f"no such API route: {method} /api/{route}")
        await handler(call)

    def _task_routes(self, method: str, task_id: str, action: str) -> Route | None:
        if not task_id:
            return None

        async def details(call: _Call) -> None:
            session, client = call.client()
            found = await ops.task_details(session, self.settings, client, task_id)
            await answer_json(call.send, found)

        async def cancel(call: _Call) -> None:
            _, client = call.client()
            await answer_json(call.send, to_builtins(await client.cancel_task(task_id)))

        async def subscribe(call: _Call) -> None:
            _, client = call.client()
            await self._stream(call, lambda: client.subscribe(task_id))

        table = {
            ("GET", ""): details,
            ("POST", "cancel"): cancel,
            ("POST", "subscribe"): subscribe,
        }
        return table.get((method, action))

    # --- routes ---------------------------------------------------------------------

    async def _state(self, call: _Call) -> None:
        connection = call.session.connection if call.session is not None else None
        await answer_json(
            call.send,
            {
                "agentUrl": self.agent_url or _beside(call.scope),
                "credentialsConfigured": bool(self.settings.credentials),
                "registry": self.registry,
                "connection": connection.to_json() if connection is not None else None,
            },
        )

    async def _connect(self, call: _Call) -> None:
        session = call.session
        extra: tuple[tuple[bytes, bytes], ...] = ()
        if session is None:
            session = await self.sessions.create()
            extra = (session_cookie(call.scope, session.id),)
        try:
            connection = await ops.connect(session, self.settings, call.body)
        except Exception as exc:
            status, message, kind = _status_of(exc)
            failure = {"error": message, "kind": kind}
            await answer_json(call.send, failure, status=status, extra=extra)
            return
        await answer_json(call.send, connection.to_json(), extra=extra)

    async def _disconnect(self, call: _Call) -> None:
        if call.session is not None:
            await call.session.close()
        await answer_json(call.send, {"connected": False})

    async def _send(self, call: _Call) -> None:
        _, client = call.client()
        content = _content(call.body)
        context_id = str(call.body.get("contextId") or "") or None
        task_id = str(call.body.get("taskId") or "") or None
        if client.card is not None and not client.card.capabilities.streaming:

            async def once() -> AsyncIterator[Any]:
                from accord.types import StreamResponse, Task

                reply = await client.send_message(
                    content, context_id=context_id, task_id=task_id
                )
                if isinstance(reply, Task):
                    yield StreamResponse(task=reply)
                else:
                    yield StreamResponse(message=reply)

            await self._stream(call, once)
            return
        await self._stream(
            call,
            lambda: client.send_streaming_message(
                content, context_id=context_id, task_id=task_id
            ),
        )

    async def _tasks(self, call: _Call) -> None:
        _, client = call.client()
        await answer_json(call.send, await ops.list_tasks(client, call.body))

    async def _audit(self, call: _Call) -> None:
        entries = []
        if call.session is not None:
            query = AuditQuery(task_id=call.body.get("taskId", ""), limit=500)
            found = await call.session.audit.audit_entries(query)
            entries = [e.to_json() for e in found]
        await answer_json(call.send, {"entries": entries})

    async def _raw(self, call: _Call) -> None:
        after = call.body.get("after", "0")
        exchanges = (
            call.session.log.after(int(after) if after.isdigit() else 0)
            if call.session is not None
            else []
        )
        await answer_json(call.send, {"exchanges": [e.to_json() for e in exchanges]})

    async def _registry(self, call: _Call) -> None:
        if self.registry is None:
            raise HttpError(404, "no registry: start the console with --registry URL")
        found = await ops.find_agents(self.registry, call.body)
        await answer_json(call.send, {"registry": self.registry, "agents": found})

    async def _stream(
        self, call: _Call, open_stream: Callable[[], EventStream | AsyncIterator[Any]]
    ) -> None:
        """Relay an agent stream to the page (:mod:`._relay`), within the session's
        bound on live streams."""
        session, _ = call.client()
        if session.streams >= self.limits.streams_per_session:
            most = self.limits.streams_per_session
            raise HttpError(429, f"at most {most} live streams per session")
        session.streams += 1
        try:
            await relay(
                call.receive, call.send, session, open_stream, self.limits, _status_of
            )
        finally:
            session.streams -= 1


def _beside(scope: Scope) -> str:
    """The URL of the agent the console is mounted beside (``""``: none)."""
    from .mount import AGENT_ROOT

    if AGENT_ROOT not in scope:
        return ""
    host = header(scope, b"host") or ""
    return f"{scope.get('scheme', 'http')}://{host}{scope[AGENT_ROOT]}"


def _content(body: dict[str, Any]) -> list[Any]:
    """The parts of the message the page sends: text, and JSON data."""
    parts: list[Any] = []
    text = body.get("text")
    if isinstance(text, str) and text.strip():
        parts.append(text)
    data = body.get("data")
    if data is not None:
        if not isinstance(data, dict):
            raise HttpError(400, "data is a JSON object")
        parts.append(data)
    if not parts:
        raise HttpError(400, "the message is empty: type text or data")
    return parts
