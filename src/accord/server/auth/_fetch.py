"""Fetching identity-provider documents (JWKS, discovery, introspection) safely.

HTTPS only; ``http://`` is accepted for loopback hosts when the caller sets
``allow_insecure_http_for_tests`` (a test identity provider on 127.0.0.1). No
redirects, small bodies, short timeouts. Failures raise :class:`FetchError`; callers
turn them into 503 UnavailableError (the credential cannot be judged right now).
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from accord._net import is_loopback_host

__all__ = ["MAX_DOCUMENT_BYTES", "FetchError", "Fetcher", "check_url"]

#: Largest JWKS / metadata / introspection answer read.
MAX_DOCUMENT_BYTES = 1024 * 1024
#: Seconds allowed for one fetch.
TIMEOUT = 5.0


class FetchError(Exception):
    """A document could not be fetched or is not a JSON object."""


def check_url(url: str, *, what: str, allow_insecure_http_for_tests: bool) -> str:
    """``url`` if it is HTTPS (or loopback HTTP when allowed for tests).

    Raises:
        ValueError: any other URL.
    """
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if (
        parts.scheme == "http"
        and allow_insecure_http_for_tests
        and is_loopback_host(parts.hostname or "")
    ):
        return url
    hint = (
        " (plain http is allowed only for loopback hosts with "
        "allow_insecure_http_for_tests=True)"
        if parts.scheme == "http"
        else ""
    )
    raise ValueError(f"{what} must be an https:// URL, got {url!r}{hint}")


class Fetcher:
    """GETs and POSTs JSON documents with one lazily created httpx client."""

    def __init__(self, http: httpx.AsyncClient | None = None) -> None:
        self._borrowed = http
        self._owned: httpx.AsyncClient | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._borrowed is not None:
            return self._borrowed
        if self._owned is None:
            self._owned = httpx.AsyncClient(
                timeout=TIMEOUT, follow_redirects=False, trust_env=False
            )
        return self._owned

    async def aclose(self) -> None:
        """Close the client this fetcher created (a borrowed one stays open)."""
        owned, self._owned = self._owned, None
        if owned is not None:
            await owned.aclose()

    async def _json(self, request: httpx.Request) -> dict[str, Any]:
        try:
            response = await self._client().send(request, stream=True)
            try:
                if response.status_code != 200:
                    raise FetchError(f"HTTP {response.status_code} from {request.url}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise FetchError(f"{request.url} answered more than 1 MiB")
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise FetchError(f"{request.url}: {type(exc).__name__}") from exc
        try:
            document = json.loads(bytes(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise FetchError(f"{request.url} did not answer JSON") from exc
        if not isinstance(document, dict):
            raise FetchError(f"{request.url} did not answer a JSON object")
        return document

    async def get_json(self, url: str) -> dict[str, Any]:
        """GET ``url`` and return its JSON object."""
        request = self._client().build_request(
            "GET", url, headers={"Accept": "application/json"}
        )
        return await self._json(request)

    async def post_form(
        self, url: str, form: dict[str, str], *, client_id: str, client_secret: str
    ) -> dict[str, Any]:
        """POST a form with HTTP Basic client authentication (RFC 6749 §2.3.1)."""
        pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
        basic = base64.b64encode(pair.encode()).decode("ascii")
        request = self._client().build_request(
            "POST",
            url,
            data=form,
            headers={"Accept": "application/json", "Authorization": f"Basic {basic}"},
        )
        return await self._json(request)
