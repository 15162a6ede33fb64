"""A registry served by uvicorn on loopback for the API tests, with two API keys."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from accord.registry.api import RegistryApp, RegistryAuth
from accord.server.auth import ApiKeyRing, ApiKeyVerifier
from accord.types import APIKeySecurityScheme, SecurityScheme
from tests.helpers.uvicorn_thread import serve_in_thread

from ._hosts import LOOPBACK

#: The key of a publisher of the public registry, and of one of tenant "acme".
PUBLISHER_KEY = "publisher-key-0123456789abcdef"
ACME_KEY = "acme-key-0123456789abcdef012345"
API_KEY_SCHEME = {
    "apiKey": SecurityScheme(
        api_key_security_scheme=APIKeySecurityScheme(
            location="header", name="X-API-Key"
        )
    )
}


def registry_auth() -> RegistryAuth:
    ring = ApiKeyRing()
    ring.add(PUBLISHER_KEY, principal="publisher")
    ring.add(ACME_KEY, principal="acme-admin", tenant="acme")
    return RegistryAuth(API_KEY_SCHEME, {"apiKey": ApiKeyVerifier(ring)})


@contextmanager
def serve_registry(tmp_path: Path, **options: Any) -> Iterator[str]:
    """Serve a registry (SQLite in ``tmp_path``); yield its base URL."""
    options.setdefault("auth", registry_auth())
    options.setdefault("egress", LOOPBACK)
    app = RegistryApp(str(tmp_path / "registry.db"), **options)
    with serve_in_thread(app) as url:
        yield url


def register(registry: str, *agent_urls: str) -> None:
    """Register the agents at ``agent_urls`` (by URL) as the public publisher."""
    for url in agent_urls:
        answer = httpx.post(
            f"{registry}/api/agents/register",
            json={"wellKnownURI": url},
            headers={"X-API-Key": PUBLISHER_KEY},
        )
        assert answer.status_code == 201, answer.text
