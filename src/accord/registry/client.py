"""Talking to a registry: :func:`discover` agents, and :class:`RegistryClient`.

A client of the registry's HTTP API (:mod:`.api`), in its ARD dialect::

    found = await discover("https://registry.example", "schedule a callback",
                           skill=["callback"])
    async with Client.connect(found[0].agent_url, pin=found[0].pin) as client: ...

Each result is a :class:`Discovered`: what the registry knows of the agent (name,
score, skills, the card's pin, its health), enough to choose one and to connect to
it pinned to the card the registry saw. A refusal is a :class:`RegistryError` with
the registry's ARD ``errorCode`` and message; an unreachable registry is an
:class:`accord.errors.ConnectError` (or ``TimeoutError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from accord.client.card import WELL_KNOWN_PATH
from accord.errors import ConnectError, HTTPStatusError, TimeoutError
from accord.types import decode_json

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from types import TracebackType

__all__ = ["Discovered", "RegistryClient", "RegistryError", "discover"]

#: Seconds a registry call may take.
DEFAULT_TIMEOUT = 10.0


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
        pin: its card's pin, for ``Client.connect(..., pin=...)``.
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
    pin: str
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
        """Read an ARD search result."""
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
            pin=str(metadata.get("pin", "")),
            status=str(metadata.get("status", "unknown")),
            drift=bool(metadata.get("drift", False)),
            raw=dict(data),
        )


def _filters(**values: Iterable[str] | str | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in values.items():
        if value is None:
            continue
        items = [value] if isinstance(value, str) else list(value)
        if items:
            out[name] = items
    return out


class RegistryClient:
    """A registry's API at ``url`` (its base URL, e.g. ``https://registry.example``).

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

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._own:
            await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, json: Any = None, content: bytes | None = None
    ) -> Any:
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
        skill: Iterable[str] | str | None = None,
        tag: Iterable[str] | str | None = None,
        input_mode: Iterable[str] | str | None = None,
        output_mode: Iterable[str] | str | None = None,
        provider: Iterable[str] | str | None = None,
        security_scheme: Iterable[str] | str | None = None,
        protocol_version: Iterable[str] | str | None = None,
        binding: Iterable[str] | str | None = None,
        limit: int = 20,
        page_token: str | None = None,
    ) -> tuple[list[Discovered], str | None]:
        """One page of agents matching ``text`` and the filters (all of them), best
        first, and the token of the next page (``None``: the last).
        """
        query: dict[str, Any] = {"text": text}
        filters = _filters(
            skill=skill,
            tag=tag,
            inputMode=input_mode,
            outputMode=output_mode,
            provider=provider,
            securityScheme=security_scheme,
            protocolVersion=protocol_version,
            binding=binding,
        )
        if filters:
            query["filter"] = filters
        request: dict[str, Any] = {"query": query, "pageSize": limit}
        if page_token:
            request["pageToken"] = page_token
        body = await self._call("POST", "/search", json=request)
        results = [Discovered.from_json(r) for r in body.get("results", [])]
        return results, body.get("pageToken")

    async def register(self, agent_url: str) -> dict[str, Any]:
        """Register the agent whose card is at (or under) ``agent_url``."""
        result: dict[str, Any] = await self._call(
            "POST", "/api/agents/register", json={"wellKnownURI": agent_url}
        )
        return result

    async def publish(self, card: bytes) -> dict[str, Any]:
        """Publish a (signed) card, as JSON bytes."""
        result: dict[str, Any] = await self._call("POST", "/agents", content=card)
        return result

    async def get(self, identifier: str) -> dict[str, Any]:
        """The registry's entry for ``identifier`` (with its health)."""
        result: dict[str, Any] = await self._call("GET", f"/agents/{identifier}")
        return result

    async def versions(self, identifier: str) -> list[dict[str, Any]]:
        """Every recorded version of the agent's card, with its diff."""
        body = await self._call("GET", f"/agents/{identifier}/versions")
        versions: list[dict[str, Any]] = body["versions"]
        return versions

    async def remove(self, identifier: str) -> None:
        """Forget the agent."""
        await self._call("DELETE", f"/agents/{identifier}")


async def discover(
    registry: str,
    text: str = "",
    *,
    limit: int = 20,
    tenant: str | None = None,
    api_key: str | None = None,
    **filters: Sequence[str] | str | None,
) -> list[Discovered]:
    """The best ``limit`` agents of ``registry`` for ``text`` and the filters.

    Filters are keyword arguments of :meth:`RegistryClient.discover` (``skill``,
    ``tag``, ``input_mode``, ``output_mode``, ``provider``, ``security_scheme``,
    ``protocol_version``, ``binding``).
    """
    async with RegistryClient(registry, tenant=tenant, api_key=api_key) as client:
        found, _ = await client.discover(text, limit=limit, **filters)  # type: ignore[arg-type]
        return found
