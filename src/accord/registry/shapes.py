"""The registry's wire shapes: ARD, the community registration API, MCP registry v0.1.

Theory of operation. The registry answers in three dialects, each read and written
here and nowhere else (pure functions; :mod:`.api` moves the bytes):

* **ARD** (Agentic Resource Discovery, draft-bu-dawn-ard-discovery; the shapes
  follow its OpenAPI description, v0.5): ``POST /search`` takes
  ``{"query": {"text", "filter"}, "pageSize", "pageToken"}`` and answers
  ``{"results": [catalog entry + score + source], "pageToken"}``;
  ``POST /explore`` takes ``{"query", "resultType": {"facets": [{"field", "limit",
  "minCount"}]}}`` and answers ``{"resultType": "facets", "facets": {field:
  {"buckets": [{"value", "count"}]}}}``; ``GET /agents/{identifier}`` answers one
  catalog entry. An agent is a catalog entry of type
  :data:`CARD_MEDIA_TYPE` (:func:`catalog_entry`). Errors are
  ``{"errorCode", "message"}``.
* **Registration** (community registries): ``POST /api/agents/register`` with
  ``{"wellKnownURI": URL}`` (:func:`parse_registration`).
* **MCP registry v0.1** (read only, :func:`mcp_server_list`): ``GET
  /v0.1/servers?search&cursor&limit`` answers ``{"servers": [{"server": {...},
  "_meta": {...}}], "metadata": {"nextCursor", "count"}}``, the shape tool
  clients already call.

ARD filter keys are the registry's filter names (:data:`.entries.FILTER_FIELDS`:
``skill``, ``tag``, ``inputMode``, ``outputMode``, ``provider``,
``securityScheme``, ``protocolVersion``, ``binding``, and the guarantees
extension's ``residency`` and ``compliance``), plus ``type``, which every
entry here has as :data:`CARD_MEDIA_TYPE`. Assumptions where the draft is silent
are listed in ``docs/how-to/registry.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from accord.client.handshake import check_guarantees

from .entries import (
    DEFAULT_PAGE_SIZE,
    FILTER_FIELDS,
    MAX_PAGE_SIZE,
    Entry,
    Hit,
    SearchPage,
    SearchQuery,
)

if TYPE_CHECKING:
    from accord.types import AgentCard

__all__ = [
    "CARD_MEDIA_TYPE",
    "BadRequest",
    "FacetRequest",
    "catalog_entry",
    "explore_response",
    "mcp_server_list",
    "parse_explore",
    "parse_mcp_query",
    "parse_registration",
    "parse_search",
    "search_response",
]

#: The ARD ``type`` of an agent-card catalog entry.
CARD_MEDIA_TYPE = "application/a2a-agent-card+json"
#: The most facet buckets one field may ask for.
MAX_FACET_LIMIT = 100


class BadRequest(ValueError):
    """A request the registry cannot read; the message says what to fix."""


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return value


def _only(data: dict[str, Any], allowed: set[str], what: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise BadRequest(
            f"{what} has unknown member(s) {', '.join(extra)} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )


def _page_size(value: Any, name: str) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} must be an integer")
    return max(1, min(value, MAX_PAGE_SIZE))


def _filters(value: Any) -> dict[str, tuple[str, ...]]:
    raw = _object(value if value is not None else {}, "query.filter")
    out: dict[str, tuple[str, ...]] = {}
    for key, item in raw.items():
        values = item if isinstance(item, list) else [item]
        if not all(isinstance(v, str) for v in values):
            raise BadRequest(f"query.filter.{key} must be a string or strings")
        if key == "type":
            out["type"] = tuple(values)
            continue
        if key not in FILTER_FIELDS:
            raise BadRequest(
                f"query.filter has the unknown field {key!r} (known: type, "
                f"{', '.join(FILTER_FIELDS)})"
            )
        out[key] = tuple(values)
    return out


def _query(
    value: Any, *, require_text: bool, size: int = DEFAULT_PAGE_SIZE
) -> tuple[SearchQuery | None, str | None]:
    """The search of an ARD query object (``None`` when a ``type`` rules all out)."""
    query = _object(value if value is not None else {}, "query")
    _only(query, {"text", "filter"}, "query")
    text = query.get("text", "")
    if not isinstance(text, str) or (require_text and "text" not in query):
        raise BadRequest("query.text is required and must be a string")
    filters = _filters(query.get("filter"))
    kinds = filters.pop("type", None)
    try:
        search = SearchQuery(text=text, filters=filters, limit=size)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if kinds is not None and CARD_MEDIA_TYPE not in kinds:
        return None, text
    return search, text


def parse_search(body: Any) -> SearchQuery | None:
    """The :class:`SearchQuery` of an ARD ``POST /search`` body.

    ``None`` when the request filters on a ``type`` this registry does not hold
    (the answer is then an empty page).

    Raises:
        BadRequest: the body is not an ARD search request.
    """
    data = _object(body, "the request body")
    _only(data, {"query", "federation", "pageSize", "pageToken"}, "the search request")
    if "query" not in data:
        raise BadRequest("the search request needs a query ({'query': {'text': ...}})")
    federation = data.get("federation", "none")
    if federation not in ("auto", "referrals", "none"):
        raise BadRequest("federation must be auto, referrals or none")
    size = _page_size(data.get("pageSize"), "pageSize")
    token = data.get("pageToken")
    if token is not None and not isinstance(token, str):
        raise BadRequest("pageToken must be a string")
    search, _ = _query(data["query"], require_text=True, size=size)
    if search is None:
        return None
    try:
        return SearchQuery(
            text=search.text, filters=search.filters, limit=size, cursor=token
        )
    except ValueError as exc:
        raise BadRequest(f"pageToken: {exc}") from None


@dataclass(frozen=True, slots=True)
class FacetRequest:
    """One facet asked for: the field, how many buckets, the smallest count shown."""

    field: str
    limit: int = 20
    min_count: int = 1


def parse_explore(body: Any) -> tuple[SearchQuery | None, tuple[FacetRequest, ...]]:
    """The query and the facets of an ARD ``POST /explore`` body.

    Raises:
        BadRequest: the body is not an ARD explore request, or names a field that
            cannot be faceted.
    """
    data = _object(body, "the request body")
    _only(data, {"query", "resultType"}, "the explore request")
    result_type = _object(data.get("resultType"), "resultType")
    facets = result_type.get("facets")
    if not isinstance(facets, list) or not facets:
        raise BadRequest("resultType.facets must be a non-empty list")
    out: list[FacetRequest] = []
    for item in facets:
        facet = _object(item, "each facet")
        _only(facet, {"field", "limit", "minCount"}, "a facet")
        name = facet.get("field")
        if not isinstance(name, str) or (name not in FILTER_FIELDS and name != "type"):
            raise BadRequest(
                f"cannot facet on {name!r} (fields: type, {', '.join(FILTER_FIELDS)})"
            )
        limit, min_count = facet.get("limit", 20), facet.get("minCount", 1)
        for key, number in (("limit", limit), ("minCount", min_count)):
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise BadRequest(f"a facet's {key} must be a non-negative integer")
        out.append(FacetRequest(name, min(limit, MAX_FACET_LIMIT), min_count))
    search, _ = _query(data.get("query"), require_text=False)
    return search, tuple(out)


def parse_registration(body: Any) -> str:
    """The ``wellKnownURI`` of a registration request.

    Raises:
        BadRequest: no ``wellKnownURI`` string.
    """
    data = _object(body, "the request body")
    uri = data.get("wellKnownURI")
    if not isinstance(uri, str) or not uri.strip():
        raise BadRequest(
            "the registration request needs wellKnownURI, the URL of the agent's card "
            '({"wellKnownURI": "https://agent.example/.well-known/agent-card.json"})'
        )
    return uri.strip()


def parse_mcp_query(params: dict[str, str]) -> SearchQuery:
    """The search of ``GET /v0.1/servers`` query parameters (search, cursor, limit).

    Raises:
        BadRequest: a limit that is not a number, or a foreign cursor.
    """
    limit = params.get("limit", "30")
    if not limit.isdigit():
        raise BadRequest("limit must be a whole number (1-100)")
    try:
        return SearchQuery(
            text=params.get("search", ""),
            limit=max(1, min(int(limit), MAX_PAGE_SIZE)),
            cursor=params.get("cursor") or None,
        )
    except ValueError as exc:
        raise BadRequest(f"cursor: {exc}") from None


# --- answers ------------------------------------------------------------------------


def catalog_entry(entry: Entry, *, base_url: str) -> dict[str, Any]:
    """The ARD catalog entry of a registered agent.

    ``url`` is where the card is fetched (the registry's own copy for a published
    card); ``metadata`` carries what the registry observed: the card's pin and
    version number, drift and breaking flags, health and the signing key.
    """
    card = entry.card
    health = entry.health
    metadata: dict[str, Any] = {
        "pin": entry.pin,
        "cardVersion": entry.version,
        "drift": entry.drift,
        "breaking": entry.breaking,
        "status": health.status.value,
        "latencyMs": health.latency_ms,
        "checkedAt": _iso(health.checked_at) if health.checked_at else None,
        "signedBy": entry.signed_by,
        **_guarantees(card),
    }
    out: dict[str, Any] = {
        "identifier": entry.identifier,
        "displayName": card.name,
        "type": CARD_MEDIA_TYPE,
        "url": entry.source_url or f"{base_url}/agents/{entry.identifier}/card",
        "description": card.description,
        "tags": sorted({t for s in card.skills for t in s.tags}),
        "capabilities": [s.id for s in card.skills],
        "updatedAt": _iso(entry.updated_at),
        "metadata": metadata,
    }
    if card.version:
        out["version"] = card.version
    return out


def _guarantees(card: AgentCard) -> dict[str, str]:
    """What the card's guarantees extension declares against the figures the agent
    publishes as observed, as ARD metadata (scalar values): ``guarantees`` is
    ``none`` (a best-effort card), ``kept`` or ``breached``; ``guaranteeBreaches``
    says which (a skill's observed p50/p99 over its declared one), ``; ``-joined."""
    try:
        report = check_guarantees(card)
    except ValueError as exc:  # not in the extension's shape
        return {"guarantees": "invalid", "guaranteeBreaches": str(exc)}
    if report.best_effort:
        return {"guarantees": "none", "guaranteeBreaches": ""}
    found = "; ".join(str(b) for b in report.breaches)
    return {"guarantees": "breached" if found else "kept", "guaranteeBreaches": found}


def search_response(page: SearchPage, *, base_url: str) -> dict[str, Any]:
    """The ARD answer to ``POST /search``."""
    out: dict[str, Any] = {"results": [_result(hit, base_url) for hit in page.hits]}
    if page.next_cursor is not None:
        out["pageToken"] = page.next_cursor
    return out


def _result(hit: Hit, base_url: str) -> dict[str, Any]:
    return {
        **catalog_entry(hit.entry, base_url=base_url),
        "score": hit.score,
        "source": f"{base_url}/",
    }


def explore_response(
    facets: dict[str, list[tuple[str, int]]], asked: tuple[FacetRequest, ...]
) -> dict[str, Any]:
    """The ARD answer to ``POST /explore``."""
    out: dict[str, Any] = {}
    for facet in asked:
        buckets = [
            {"value": value, "count": count}
            for value, count in facets.get(facet.field, [])
            if count >= facet.min_count
        ]
        out[facet.field] = {"buckets": buckets}
    return {"resultType": "facets", "facets": out}


def mcp_server_list(page: SearchPage) -> dict[str, Any]:
    """The MCP registry v0.1 answer to ``GET /v0.1/servers``.

    Each agent is a "server" named by its identifier, its interfaces as
    ``remotes`` (``type`` is ``a2a+`` the binding, lower-case), registry facts under
    ``_meta``.
    """
    servers = []
    for hit in page.hits:
        entry, card = hit.entry, hit.entry.card
        server: dict[str, Any] = {
            "name": entry.identifier,
            "title": card.name,
            "description": card.description,
            "version": card.version or str(entry.version),
            "remotes": [
                {"type": f"a2a+{i.protocol_binding.lower()}", "url": i.url}
                for i in card.supported_interfaces
            ],
        }
        if card.documentation_url:
            server["websiteUrl"] = card.documentation_url
        servers.append(
            {
                "server": server,
                "_meta": {
                    "io.modelcontextprotocol.registry/official": {
                        "status": "active",
                        "publishedAt": _iso(entry.registered_at),
                        "updatedAt": _iso(entry.updated_at),
                        "isLatest": True,
                    },
                    "dev.accord.registry/agent": {
                        "pin": entry.pin,
                        "health": entry.health.status.value,
                    },
                },
            }
        )
    metadata: dict[str, Any] = {"count": len(servers)}
    if page.next_cursor is not None:
        metadata["nextCursor"] = page.next_cursor
    return {"servers": servers, "metadata": metadata}
