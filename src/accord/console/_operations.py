"""What the console does for the page: connect, send, cancel, list and inspect tasks.

Each function takes the session (:mod:`._session`) and the console's settings and
returns JSON-ready values; the routes (:mod:`.app`) only move them. Agent URLs come
from whoever types them, so every request leaves through the console's egress policy
(:mod:`accord.egress`): the card, the agent's keys, every call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from accord.client import ApiKey, BearerToken, Client, ClientConfig
from accord.client.card import card_url
from accord.egress import EgressPolicy, EgressRefused, EgressTransport
from accord.errors import CardError, ProtocolError, TransportError, UnauthenticatedError
from accord.registry import discover
from accord.security import card_pin
from accord.stores.audit import AuditQuery
from accord.types import TaskState, to_builtins

from ._asgi import HttpError
from ._card_report import inspect_card
from ._recording import RecordingTransport
from ._session import Connection, timeline_entry

if TYPE_CHECKING:
    from accord.client import ClientTimeouts, CredentialProvider
    from accord.security import TrustStore
    from accord.stores.audit import AuditStore

    from ._session import Session

__all__ = [
    "BINDING_CHOICES",
    "MAX_PAGE",
    "PAGE",
    "Settings",
    "connect",
    "credentials_of",
    "list_tasks",
    "task_details",
]

#: Tasks listed per page by default, and at most.
PAGE = 50
MAX_PAGE = 100

#: What the page may ask for as the binding ("" lets the card decide).
BINDING_CHOICES = ("", "JSONRPC", "HTTP+JSON")
#: The most agents a registry search shows, and the longest query it sends.
REGISTRY_RESULTS = 20
MAX_QUERY = 500


@dataclass(frozen=True, slots=True)
class Settings:
    """The console's configuration the operations need."""

    egress: EgressPolicy
    config: ClientConfig
    credentials: tuple[CredentialProvider, ...] = ()
    trust: TrustStore | None = None
    agent_audit: AuditStore | None = None
    #: The origin (scheme://host:port) the configured credentials belong to; None:
    #: any agent the user connects to.
    credentials_origin: str | None = None

    def configured_for(self, url: str) -> tuple[CredentialProvider, ...]:
        """The configured credentials, when ``url`` may receive them: an agent found
        in a registry or typed by the user never gets another agent's key."""
        if self.credentials_origin is None or origin_of(url) == self.credentials_origin:
            return self.credentials
        return ()

    @property
    def timeouts(self) -> ClientTimeouts:
        """The client's timeouts."""
        return self.config.timeouts


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url`` (the port made explicit), lower-cased."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


def credentials_of(
    body: dict[str, Any], configured: tuple[CredentialProvider, ...]
) -> list[CredentialProvider]:
    """The providers for a connect request: what was typed, else what is configured."""
    typed: list[CredentialProvider] = []
    try:
        if key := str(body.get("apiKey") or "").strip():
            typed.append(ApiKey(key))
        if token := str(body.get("token") or "").strip():
            typed.append(BearerToken(token))
    except ValueError as exc:  # the message names the field, never the value
        raise HttpError(400, str(exc)) from None
    return typed or list(configured)


def _http(session: Session, settings: Settings) -> httpx.AsyncClient:
    transport = RecordingTransport(EgressTransport(settings.egress), session.log)
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        timeout=settings.egress.timeout,
        headers={"Accept-Encoding": "identity"},
    )


async def connect(
    session: Session, settings: Settings, body: dict[str, Any]
) -> Connection:
    """Fetch and inspect the card at ``body["url"]``; make the session's client.

    Raises:
        HttpError: no URL, a URL the egress policy refuses, no card there.
    """
    url = str(body.get("url") or "").strip()
    if not url:
        raise HttpError(400, "give the agent's URL")
    binding = str(body.get("binding") or "")
    if binding not in BINDING_CHOICES:
        raise HttpError(400, f"binding is one of {', '.join(BINDING_CHOICES[1:])}")
    try:
        target = card_url(url)
        settings.egress.check_url(target)
    except EgressRefused as exc:
        raise HttpError(403, f"{exc}", kind="EgressRefused") from None
    except ValueError as exc:
        raise HttpError(400, f"not a usable URL: {exc}") from None
    await session.close()
    http = _http(session, settings)
    try:
        try:
            response = await http.get(target, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise HttpError(
                502,
                f"cannot fetch the card at {target}: {exc}",
                kind=type(exc).__name__,
            ) from None
        if response.status_code != 200:
            raise HttpError(
                502,
                f"the card at {target}: HTTP {response.status_code}",
                kind="CardError",
            )
        report, card = await inspect_card(
            response.content,
            target,
            http,
            trust=settings.trust,
            timeouts=settings.timeouts,
        )
        pinned = str(body.get("pin") or "")
        if pinned and card is not None and card_pin(card) != pinned:
            raise HttpError(
                409,
                f"the card at {target} is not the one the registry recorded "
                f"({pinned}): it changed since; see its versions in the registry",
                kind="CardDriftError",
            )
        client = None
        problem = "" if report.usable else "the card is not usable (see the checks)"
        if card is not None and report.usable:
            config = replace(
                settings.config,
                audit=session.audit,
                preferred_bindings=(binding,) if binding else (),
            )
            providers = credentials_of(body, settings.configured_for(url))
            try:
                client = Client(card, config=config, http=http, credentials=providers)
            except (CardError, UnauthenticatedError) as exc:
                # The card shows; the page asks for what the agent requires.
                problem = exc.message if isinstance(exc, ProtocolError) else str(exc)
    except BaseException:
        await http.aclose()
        raise
    session.connection = Connection(url, report, http, client, problem)
    return session.connection


async def find_agents(registry: str, query: dict[str, str]) -> list[dict[str, Any]]:
    """The registry's best agents for the page's words (``q``) and ``skill``.

    Raises:
        HttpError: 502, the registry could not be asked or refused the search.
    """
    text = query.get("q", "")[:MAX_QUERY]
    skill = query.get("skill") or None
    try:
        found = await discover(registry, text, limit=REGISTRY_RESULTS, skill=skill)
    except TransportError as exc:  # unreachable, too slow, or refused (RegistryError)
        kind = type(exc).__name__
        raise HttpError(502, f"the registry at {registry}: {exc}", kind=kind) from None
    return [
        {
            "name": agent.name,
            "description": agent.description,
            "url": agent.agent_url,
            "skills": list(agent.skills),
            "version": agent.version,
            "pin": agent.pin,
            "status": agent.status,
            "drift": agent.drift,
        }
        for agent in found
    ]


async def list_tasks(client: Client, query: dict[str, str]) -> dict[str, Any]:
    """One page of the caller's tasks, filtered as the page asks."""
    state = query.get("state", "")
    try:
        status = TaskState(state) if state else None
    except ValueError:
        raise HttpError(400, f"not a task state: {state}") from None
    size = query.get("pageSize", "")
    page_size = min(int(size), MAX_PAGE) if size.isdigit() and int(size) > 0 else PAGE
    page = await client.list_tasks(
        context_id=query.get("contextId") or None,
        status=status,
        page_size=page_size,
        page_token=query.get("pageToken") or None,
    )
    result: dict[str, Any] = to_builtins(page)
    return result


async def task_details(
    session: Session, settings: Settings, client: Client, task_id: str
) -> dict[str, Any]:
    """A task with its timeline, push configs and audit records."""
    task = await client.get_task(task_id)
    timeline = list(session.timelines.get(task_id, ()))
    if not timeline:  # a task this session did not watch: what the task itself says
        from accord.types import StreamResponse

        timeline = [timeline_entry(StreamResponse(task=task), 0.0)]
    push: dict[str, Any] = {"configs": [], "error": ""}
    if client.card is not None and client.card.capabilities.push_notifications:
        try:
            configs = await client.list_push_configs(task_id)
            push["configs"] = to_builtins(configs).get("configs", [])
        except ProtocolError as exc:
            push["error"] = f"{type(exc).__name__}: {exc.message}"
    calls = await session.audit.audit_entries(AuditQuery(task_id=task_id, limit=200))
    agent: list[dict[str, Any]] | None = None
    if settings.agent_audit is not None:
        # The agent's own trail, for a task the session's credentials could read.
        found = await settings.agent_audit.audit_entries(
            AuditQuery(task_id=task_id, limit=200)
        )
        agent = [e.to_json() for e in found]
    return {
        "task": to_builtins(task),
        "timeline": timeline,
        "push": push,
        "audit": [e.to_json() for e in calls],
        "agentAudit": agent,
    }
