"""Finding agents in a registry: the caller's side of an ARD ``POST /search``.

Theory of operation. A registry (``accord registry serve``, or any registry speaking
ARD, draft-bu-dawn-ard-discovery) answers ``POST /search`` with
``{"query": {"text", "filter"}, "pageSize", "pageToken"}`` by
``{"results": [...], "pageToken"}``. This module builds that request
(:func:`search_request`, the filters named by :data:`FILTER_KEYS`), reads each
result as a :class:`Discovered`, and maps a refusal to :class:`RegistryError` (the
registry's ``errorCode``) and an unreachable registry to
:class:`~accord.errors.ConnectError` or :class:`~accord.errors.TimeoutError`.

:class:`RegistryReader` holds the HTTP side (base URL, tenant, API key, timeout);
:func:`discover` (also ``Client.discover``) is one search. A result carries what the
registry recorded of the agent, enough to go straight to the agent pinned to the
card the registry saw::

    found = await Client.discover(registry, "schedule a callback", skill="callback")
    async with await Client.connect(found[0].agent_url, pin=found[0].pin) as client:
        ...

The registry's own management calls (register, publish, remove...) are
:class:`accord.registry.client.RegistryClient`, built on :class:`RegistryReader`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self, TypedDict, Unpack, cast

import httpx

from accord.errors import ConnectError, HTTPStatusError, TimeoutError
from accord.types import decode_json

from .card import WELL_KNOWN_PATH

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import TracebackType

__all__ = [
    "DEFAULT_TIMEOUT",
    "FILTER_KEYS",
    "Discovered",
    "RegistryError",
    "RegistryReader",
    "SearchFilters",
    "discover",
    "search_request",
]

#: Seconds a registry call may take.
DEFAULT_TIMEOUT = 10.0

#: The search filters: keyword argument -> ARD ``query.filter`` key.
FILTER_KEYS: Mapping[str, str] = {
    "skill": "skill",
    "tag": "tag",
    "input_mode": "inputMode",
    "output_mode": "outputMode",
    "provider": "provider",
    "security_scheme": "securityScheme",
    "protocol_version": "protocolVersion",
    "binding": "binding",
    "residency": "residency",
    "compliance": "compliance",
}


class SearchFilters(TypedDict, total=False):
    """The filters of a search: the agent must have every value of every filter."""

    skill: Iterable[str] | str | None
    tag: Iterable[str] | str | None
    input_mode: Iterable[str] | str | None
    output_mode: Iterable[str] | str | None
    provider: Iterable[str] | str | None
    security_scheme: Iterable[str] | str | None
    protocol_version: Iterable[str] | str | None
    binding: Iterable[str] | str | None
    residency: Iterable[str] | str | None
    compliance: Iterable[str] | str | None


class RegistryError(HTTPStatusError):
    """The registry refused a call.

    Attributes:
        code: the ARD ``errorCode`` (``INVALID_ARGUMENT``, ``NOT_FOUND``...).
        status_code: the HTTP status.
    """

    def __init__(self, message: str, *, code: str, status_code: int) -> None:
        super().__init__(message, status_code=status_code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Discovered:
    """An agent a registry returned.

    Attributes:
        identifier: its URN in the registry.
        name: its card's name.
        description: its card's description.
        card_url: where its card is (the registry's copy for a published card).
        score: relevance, 0-100 (not a trust rating).
        skills: its skill ids.
        tags: its skills' tags.
        version: its card's version.
        pin: the pin of the card the registry recorded, for
            ``Client.connect(..., pin=...)`` (``None``: the registry gave none).
        status: ``up``, ``down`` or ``unknown`` (the registry's last check).
        drift: its card last changed without a version bump.
        raw: the registry's whole result object.
    """

    identifier: str
    name: str
    description: str
    card_url: str
    score: int
    skills: tuple[str, ...]
    tags: tuple[str, ...]
    version: str
    pin: str | None
    status: str
    drift: bool
    raw: Mapping[str, Any]

    @property
    def agent_url(self) -> str:
        """The URL to give ``Client.connect``: the card URL without the well-known
        path when it has one."""
        return self.card_url.removesuffix(WELL_KNOWN_PATH)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Discovered:
        """Read an ARD search result (missing members read as empty)."""
        metadata = data.get("metadata") or {}
        return cls(
            identifier=str(data.get("identifier", "")),
            name=str(data.get("displayName", "")),
            description=str(data.get("description", "")),
            card_url=str(data.get("url", "")),
            score=int(data.get("score", 0)),
            skills=tuple(data.get("capabilities") or ()),
            tags=tuple(data.get("tags") or ()),
            version=str(data.get("version", "")),
            pin=str(metadata["pin"]) if metadata.get("pin") else None,
            status=str(metadata.get("status", "unknown")),
            drift=bool(metadata.get("drift", False)),
            raw=dict(data),
        )


def search_request(
    text: str = "",
    *,
    limit: int = 20,
    page_token: str | None = None,
    **filters: Unpack[SearchFilters],
) -> dict[str, Any]:
    """The ARD ``POST /search`` body for ``text`` and the filters.

    Raises:
        TypeError: a filter that is not one of :data:`FILTER_KEYS`.
    """
    query: dict[str, Any] = {"text": text}
    chosen: dict[str, list[str]] = {}
    given = cast("Mapping[str, Iterable[str] | str | None]", filters)
    for name, value in given.items():
        if name not in FILTER_KEYS:
            raise TypeError(
                f"unknown search filter {name!r} (filters: {', '.join(FILTER_KEYS)})"
            )
        items = [value] if isinstance(value, str) else list(value or ())
        if items:
            chosen[FILTER_KEYS[name]] = items
    if chosen:
        query["filter"] = chosen
    request: dict[str, Any] = {"query": query, "pageSize": limit}
    if page_token:
        request["pageToken"] = page_token
    return request


class RegistryReader:
    """A registry's API at ``url`` (its base URL, e.g. ``https://registry.example``),
    for searching it.

    Args:
        url: the registry's base URL.
        tenant: a private registry's tenant (``None``: the public one).
        api_key: sent as ``X-API-Key`` (what ``accord registry serve`` checks).
        headers: more request headers (e.g. ``Authorization``).
        timeout: seconds per call.
        http: an httpx client to use (borrowed); by default one is made and closed.
    """

    def __init__(
        self,
        url: str,
        *,
        tenant: str | None = None,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        base = url.rstrip("/")
        self.url = f"{base}/tenants/{tenant}" if tenant else base
        self._headers = dict(headers or {})
        if api_key:
            self._headers["X-API-Key"] = api_key
        self._timeout = timeout
        self._own = http is None
        self._http = http if http is not None else httpx.AsyncClient()

    async def aclose(self) -> None:
        """Close the httpx client if this reader made it."""
        if self._own:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _call(
        self, method: str, path: str, *, json: Any = None, content: bytes | None = None
    ) -> Any:
        """The decoded JSON answer of one call (``None`` for an empty body)."""
        target = f"{self.url}{path}"
        try:
            response = await self._http.request(
                method,
                target,
                json=json,
                content=content,
                headers=self._headers,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"no answer from the registry at {target}") from exc
        except httpx.HTTPError as exc:
            raise ConnectError(
                f"cannot reach the registry at {target}: {exc or type(exc).__name__}"
                " — is it running (`accord registry serve`)?"
            ) from exc
        try:
            body = decode_json(response.content) if response.content else None
        except ValueError:
            body = None
        if response.status_code >= 400:
            error = body if isinstance(body, dict) else {}
            code = str(error.get("errorCode", "UNKNOWN"))
            message = str(error.get("message", f"HTTP {response.status_code}"))
            raise RegistryError(
                f"the registry refused: {message} ({code}, HTTP "
                f"{response.status_code})",
                code=code,
                status_code=response.status_code,
            )
        return body

    async def discover(
        self,
        text: str = "",
        *,
        limit: int = 20,
        page_token: str | None = None,
        **filters: Unpack[SearchFilters],
    ) -> tuple[list[Discovered], str | None]:
        """One page of agents matching ``text`` and the filters (all of them), best
        first, and the token of the next page (``None``: the last).

        Raises:
            RegistryError: the registry refused the search.
            ConnectError: the registry cannot be reached.
            TimeoutError: it did not answer in time.
        """
        request = search_request(text, limit=limit, page_token=page_token, **filters)
        body = await self._call("POST", "/search", json=request)
        if not isinstance(body, dict) or not isinstance(body.get("results"), list):
            raise RegistryError(
                f"the registry at {self.url} answered /search without a results list"
                " — is it an ARD registry?",
                code="UNKNOWN",
                status_code=200,
            )
        try:
            results = [
                Discovered.from_json(r) for r in body["results"] if isinstance(r, dict)
            ]
        except (TypeError, ValueError):
            raise RegistryError(
                f"the registry at {self.url} answered /search with a result that is"
                " not an ARD search result (a score that is not a number?)",
                code="UNKNOWN",
                status_code=200,
            ) from None
        token = body.get("pageToken")
        return results, token if isinstance(token, str) and token else None


async def discover(
    registry: str,
    text: str = "",
    *,
    limit: int = 20,
    tenant: str | None = None,
    api_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    http: httpx.AsyncClient | None = None,
    **filters: Unpack[SearchFilters],
) -> list[Discovered]:
    """The best ``limit`` agents of ``registry`` for ``text`` and the filters.

    Filters (:class:`SearchFilters`): ``skill``, ``tag``, ``input_mode``,
    ``output_mode``, ``provider``, ``security_scheme``, ``protocol_version``,
    ``binding``; each a value or a list of values, all of which the agent must have. Each call
    may take :data:`DEFAULT_TIMEOUT` seconds (another: :class:`RegistryReader`).

    Raises:
        RegistryError: the registry refused the search (its ``code`` says why).
        ConnectError: the registry cannot be reached.
        TimeoutError: it did not answer in time.
        TypeError: an unknown filter.
    """
    async with RegistryReader(
        registry,
        tenant=tenant,
        api_key=api_key,
        headers=headers,
        http=http,
    ) as reader:
        found, _ = await reader.discover(text, limit=limit, **filters)
        return found
