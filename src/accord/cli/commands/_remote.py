"""What the commands that talk to an agent share: the client, its TLS, its credentials.

Credentials come from the options or, when an option is absent, from the environment
(``ACCORD_TOKEN``, ``ACCORD_API_KEY``, ``ACCORD_CLIENT_ID``, ``ACCORD_CLIENT_SECRET``),
read here at use time so their values never become argparse defaults (which ``--help``
could print). The client chooses among them with the card's security requirements;
:func:`connect` also leaves a one-line hint in ``args.auth_hint`` (what the card asks
for, and which option supplies it) for the message of a 401.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .._errors import UsageError

if TYPE_CHECKING:
    import argparse

    import httpx

    from accord.client import CardResolver, Client, ClientConfig, CredentialProvider
    from accord.types import AgentCard, SecurityScheme

__all__ = [
    "ENV_API_KEY",
    "ENV_CLIENT_ID",
    "ENV_CLIENT_SECRET",
    "ENV_TOKEN",
    "auth_hint",
    "client_config",
    "connect",
    "credentials",
    "fetch_card",
    "given_credentials",
    "http_client",
    "request_headers",
]

#: Connect and card timeouts never exceed these (seconds), whatever ``--timeout`` says:
#: a refused or unreachable agent should fail fast even when answers may take long.
CONNECT_TIMEOUT = 10.0
CARD_TIMEOUT = 30.0

ENV_TOKEN = "ACCORD_TOKEN"
ENV_API_KEY = "ACCORD_API_KEY"
ENV_CLIENT_ID = "ACCORD_CLIENT_ID"
ENV_CLIENT_SECRET = "ACCORD_CLIENT_SECRET"


def _option(args: argparse.Namespace, name: str, env: str) -> str | None:
    """The option's value, else the environment variable's, else ``None``."""
    value = getattr(args, name, None)
    return value or os.environ.get(env) or None


def request_headers(args: argparse.Namespace) -> dict[str, str]:
    """Headers from ``-H`` and ``--token`` (the token wins for ``Authorization``).

    Used for the agent card request, which is sent before the card's security
    requirements are known.
    """
    headers = dict(args.headers)
    token = _option(args, "token", ENV_TOKEN)
    if token:
        headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        headers["Authorization"] = f"Bearer {token}"
    return headers


def credentials(args: argparse.Namespace) -> list[CredentialProvider] | None:
    """The credential providers the options (or environment) supply; ``None``: none.

    Raises:
        UsageError: an option is incomplete or a value cannot be used.
    """
    from accord.client import (
        ApiKey,
        BearerToken,
        ClientCertificate,
        OAuth2ClientCredentials,
    )

    token = _option(args, "token", ENV_TOKEN)
    api_key = _option(args, "api_key", ENV_API_KEY)
    client_id = _option(args, "client_id", ENV_CLIENT_ID)
    client_secret = _option(args, "client_secret", ENV_CLIENT_SECRET)
    if bool(client_id) != bool(client_secret):
        raise UsageError(
            "--client-id and --client-secret go together"
            f" (or ${ENV_CLIENT_ID} and ${ENV_CLIENT_SECRET})"
        )
    cert, key = getattr(args, "cert", None), getattr(args, "key", None)
    if key and not cert:
        raise UsageError("--key needs --cert (the client certificate)")
    providers: list[CredentialProvider] = []
    # ValueError messages name the field, never the value.
    try:
        if token:
            providers.append(BearerToken(token))
        if api_key:
            providers.append(ApiKey(api_key))
        if client_id and client_secret:
            providers.append(OAuth2ClientCredentials(client_id, client_secret))
        if cert:
            providers.append(ClientCertificate(cert, key))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return providers or None


def client_config(args: argparse.Namespace) -> ClientConfig:
    """The :class:`~accord.client.ClientConfig` the options ask for."""
    from accord.client import ClientConfig, ClientTimeouts

    timeout = float(args.timeout)
    transports = {}
    if args.binding == "GRPC":
        # Only when asked: importing grpc costs the CLI's start-up time.
        from accord.grpc import GRPC_TRANSPORTS

        transports = GRPC_TRANSPORTS
    return ClientConfig(
        preferred_bindings=(args.binding,) if args.binding else (),
        transports=transports,
        timeouts=ClientTimeouts(
            connect=min(CONNECT_TIMEOUT, timeout),
            read=timeout,
            card=min(CARD_TIMEOUT, timeout),
        ),
        ca_bundle=getattr(args, "cacert", None),
    )


def http_client(
    args: argparse.Namespace, providers: list[CredentialProvider] | None = None
) -> httpx.AsyncClient:
    """An httpx client with the TLS options (``--cacert``, ``--cert``/``--key``).

    Raises:
        UsageError: the CA bundle or the certificate cannot be loaded.
    """
    from accord.client import ClientCertificate
    from accord.client.credentials import http_client as make_client

    if providers is None:
        providers = credentials(args)
    certificate = next(
        (p for p in providers or () if isinstance(p, ClientCertificate)), None
    )
    try:
        return make_client(client_config(args), certificate)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


_FLAGS = {
    "apiKey": f"pass --api-key or set {ENV_API_KEY}",
    "bearer": f"pass --token or set {ENV_TOKEN}",
    "basic": "pass -H 'Authorization: Basic …'",
    "client-credentials": (
        f"pass --client-id/--client-secret or set {ENV_CLIENT_ID}/{ENV_CLIENT_SECRET}"
    ),
    "mutualTLS": "pass --cert/--key",
}


def _flags(scheme: SecurityScheme) -> str:
    from accord.client.credentials import scheme_kind

    kind = scheme_kind(scheme)
    if kind in ("apiKey", "mutualTLS"):
        return _FLAGS[kind]
    if (http := scheme.http_auth_security_scheme) is not None:
        return _FLAGS.get(http.scheme.lower(), "pass -H 'Authorization: …'")
    oauth = scheme.oauth2_security_scheme
    if oauth is not None and oauth.flows.client_credentials is None:
        return f"pass a token with --token or set {ENV_TOKEN}"
    return f"{_FLAGS['client-credentials']}, or a token with --token"


def auth_hint(card: AgentCard) -> str | None:
    """What the card requires and which options supply it; ``None`` if nothing.

    Example: ``the agent requires an API key (header X-API-Key): pass --api-key or
    set ACCORD_API_KEY``.
    """
    from accord.client.credentials import describe_scheme

    alternatives = []
    for requirement in card.security_requirements:
        schemes = [
            card.security_schemes[name]
            for name in requirement.schemes
            if name in card.security_schemes
        ]
        if schemes:
            needs = " and ".join(describe_scheme(s) for s in schemes)
            flags = ", and ".join(_flags(s) for s in schemes)
            alternatives.append(f"{needs}: {flags}")
    if not alternatives:
        return None
    return "the agent requires " + "; or ".join(alternatives)


def given_credentials(args: argparse.Namespace) -> list[tuple[str, str]]:
    """What the options (or environment) supply: ``(what, which option)`` pairs.

    Used to say which credential a server refused, e.g. ``("the API key",
    "--api-key / $ACCORD_API_KEY")``. Never holds a value.
    """
    given = []
    if _option(args, "api_key", ENV_API_KEY):
        given.append(("the API key", f"--api-key / ${ENV_API_KEY}"))
    if _option(args, "token", ENV_TOKEN):
        given.append(("the token", f"--token / ${ENV_TOKEN}"))
    if _option(args, "client_id", ENV_CLIENT_ID):
        given.append(("the client credentials", "--client-id / --client-secret"))
    if getattr(args, "cert", None):
        given.append(("the client certificate", "--cert / --key"))
    return given


def _refused(given: list[tuple[str, str]]) -> str:
    """``the API key`` / ``the credentials``: what a 401 refused."""
    return given[0][0] if len(given) == 1 else "the credentials"


async def fetch_card(
    args: argparse.Namespace, http: httpx.AsyncClient, config: ClientConfig
) -> AgentCard:
    """The agent card at ``args.url``, with errors that say what happened.

    * 404: ``no Agent Card at URL (404)``;
    * 401 at a card URL other than the server's root card: the API key is not sent
      with a card request (where it goes is written in the card), so when the root
      card is public and says where, the request is made again with the key: a
      wrong path then shows as 404, a wrong key as refused. Without a key, the
      message points at the public root card (a mistyped path is the likely cause).

    Raises:
        CardError: as above (``status_code`` kept, for the exit code).
    """
    from urllib.parse import urlsplit

    from accord.client import CardResolver
    from accord.client.card import WELL_KNOWN_PATH, card_url
    from accord.errors import CardError

    target = card_url(args.url)
    resolver = CardResolver(
        http, timeouts=config.timeouts, headers=request_headers(args)
    )
    try:
        return await _card_or_404(resolver, args.url, target)
    except CardError as exc:
        if exc.status_code != 401:
            raise
        refusal = exc
    parts = urlsplit(target)
    origin = f"{parts.scheme}://{parts.netloc}"
    root = origin + WELL_KNOWN_PATH
    if root == target:
        raise refusal
    try:
        public = await resolver.get(root)
    except Exception:  # the root card is no help: report the first answer
        raise refusal from None
    key = _option(args, "api_key", ENV_API_KEY)
    header = _api_key_header(public)
    if key and header:
        retry = CardResolver(
            http,
            timeouts=config.timeouts,
            headers={**request_headers(args), header: key},
        )
        try:
            return await _card_or_404(retry, args.url, target)
        except CardError as exc:
            if exc.status_code != 401:
                raise
        raise CardError(
            f"the server refused the API key (401) for the agent card at {target}: "
            f"check --api-key / ${ENV_API_KEY}",
            status_code=401,
        ) from None
    given = given_credentials(args)
    sent = f"; it refused {_refused(given)}" if given and not key else ""
    raise CardError(
        f"no public Agent Card at {target}: the server requires authentication "
        f"there (401){sent}. Its card is at {root} — did you mean {origin}?",
        status_code=401,
    ) from None


async def _card_or_404(resolver: CardResolver, url: str, target: str) -> AgentCard:
    from accord.errors import CardError

    try:
        return await resolver.get(url)
    except CardError as exc:
        if exc.status_code == 404:
            raise CardError(
                f"no Agent Card at {target} (404) — check the URL: the agent's base "
                "URL, or the URL of its card",
                status_code=404,
            ) from None
        raise


def _api_key_header(card: AgentCard) -> str | None:
    """The header an API key goes in, when the card's only API-key scheme says so."""
    headers = {
        scheme.api_key_security_scheme.name
        for scheme in card.security_schemes.values()
        if scheme.api_key_security_scheme is not None
        and scheme.api_key_security_scheme.location.lower() == "header"
    }
    return headers.pop() if len(headers) == 1 else None


async def connect(args: argparse.Namespace) -> Client:
    """Fetch the card at ``args.url`` and open a client for it, with credentials.

    Raises:
        UnauthenticatedError: the card requires credentials the options do not
            supply (nothing is sent to the agent).
    """
    from accord.client import Client
    from accord.errors import UnauthenticatedError

    config = client_config(args)
    providers = credentials(args)
    async with http_client(args, providers) as http:
        card = await fetch_card(args, http, config)
    args.auth_hint = auth_hint(card)
    try:
        client = Client(
            card, config=config, headers=dict(args.headers), credentials=providers
        )
    except UnauthenticatedError:
        raise UnauthenticatedError(
            "the credentials given do not fit the agent card; nothing was sent"
        ) from None
    # From here on a 401 means the agent refused what was sent (_errors.explain).
    # Client credentials are left to their own messages: a 401 may come from the
    # token endpoint, which says what it refused.
    given = given_credentials(args)
    if not any(what == "the client credentials" for what, _ in given):
        args.credentials_sent = given
    return client
