"""Secrets never show: not in reprs, not in error messages, not in log records."""

from __future__ import annotations

import logging

import pytest

from accord.client import (
    ApiKey,
    BasicAuth,
    BearerToken,
    Client,
    OAuth2ClientCredentials,
)
from accord.client.credentials import (
    CredentialProvider,
    SchemeUse,
    select_credentials,
)
from accord.errors import HTTPStatusError, UnauthenticatedError

from ..helpers import HTTPX_TRIO_WARNINGS
from .lab import (
    API_KEY,
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    SECRETS,
    STATIC_TOKEN,
    USER,
    Lab,
    api_key,
    http_auth,
    oauth2,
    requirement,
)


def providers() -> list[CredentialProvider]:
    return [
        ApiKey(API_KEY),
        BearerToken(STATIC_TOKEN),
        BasicAuth(USER, PASSWORD),
        OAuth2ClientCredentials(CLIENT_ID, CLIENT_SECRET),
    ]


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert "ada:" not in text


def test_providers_and_credentials_hide_their_secrets() -> None:
    for provider in providers():
        assert_clean(repr(provider) + str(provider) + f"{provider!r} {provider}")
    schemes = {
        "key": api_key("query", "k"),
        "bearer": http_auth("Bearer"),
        "basic": http_auth("Basic"),
        "oauth": oauth2("https://auth.example/token"),
    }
    for name, scheme in schemes.items():
        for provider in providers():
            if provider.accepts(scheme):
                bound = provider.bind(SchemeUse(name, scheme))
                assert_clean(repr(bound) + str(bound))
    assert repr(ApiKey(API_KEY)) == "ApiKey(<redacted>)"
    assert CLIENT_ID in repr(OAuth2ClientCredentials(CLIENT_ID, CLIENT_SECRET))


def test_selection_and_its_errors_hide_secrets() -> None:
    from accord.types import replace

    from ..helpers import interface, make_card

    card = replace(
        make_card(interface("JSONRPC")),
        security_schemes={"key": api_key()},
        security_requirements=(requirement(key=()),),
    )
    selected = select_credentials(card, [ApiKey(API_KEY)])
    assert_clean(repr(selected) + str(selected))
    with pytest.raises(UnauthenticatedError) as caught:
        select_credentials(card, providers()[1:])
    assert_clean(str(caught.value) + repr(caught.value))


@pytest.mark.parametrize(
    "value", ["", "two words", "line\nbreak", "tab\there", "naïve-ß"]
)
def test_unsendable_values_are_refused_without_echo(value: str) -> None:
    for make in (ApiKey, BearerToken):
        with pytest.raises(ValueError, match=r"the (API key|bearer token)") as caught:
            make(value)
        assert not value or value not in str(caught.value)


@pytest.mark.anyio
@HTTPX_TRIO_WARNINGS
async def test_nothing_secret_is_logged(
    lab: Lab, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    lab.secure(
        {"oauth": oauth2(), "key": api_key()}, requirement(oauth=("read",), key=())
    )
    creds: list[CredentialProvider] = [
        ApiKey(API_KEY),
        OAuth2ClientCredentials(CLIENT_ID, CLIENT_SECRET),
    ]

    with caplog.at_level(logging.DEBUG):
        async with await Client.connect(url, credentials=creds) as client:
            await client.list_tasks()
            lab.valid.clear()  # a 401 and a retry with a fresh token
            await client.list_tasks()
            lab.reject_all = True
            with pytest.raises(HTTPStatusError) as caught:
                await client.list_tasks()

    text = "\n".join(
        f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    assert "retrying once with fresh credentials" in text
    assert_clean(text)
    for token in lab.issued:
        assert token not in text
    assert_clean(str(caught.value) + repr(caught.value))
