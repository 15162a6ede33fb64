"""Client credentials: read what the agent card requires, send what fits (spec §7).

Everyday use::

    from accord.client import ApiKey, Client, OAuth2ClientCredentials

    creds = [ApiKey(key), OAuth2ClientCredentials(client_id, client_secret)]
    async with await Client.connect(url, credentials=creds) as client:
        ...

The client reads ``securitySchemes`` and ``securityRequirements`` from the card,
takes the first alternative the supplied providers fully satisfy, and sends those
credentials on every request: JSON-RPC and REST, unary calls and streams, and
``GetExtendedAgentCard`` (spec §3.1.11: authenticated with a scheme the public card
declares). When nothing fits it raises
:class:`~accord.errors.UnauthenticatedError` naming what the card asks for, before
any request reaches the agent.

* Providers: :class:`ApiKey` (header, query or cookie, where the card says),
  :class:`BearerToken`, :class:`BasicAuth`, :class:`OAuth2ClientCredentials` (token
  cached and renewed, one refresh shared by concurrent callers, one retry after a
  401), :class:`ClientCertificate` (mutual TLS; with
  :attr:`~accord.client.ClientConfig.ca_bundle` for private CAs).
* Your own: anything implementing :class:`CredentialProvider` (``accepts`` +
  ``bind``) whose bound :class:`Credential` implements ``apply`` / ``refresh``.

Secrets never appear in ``repr``/``str`` of providers, in log records, or in error
messages. An API key the card places in the query string is part of the URL, which
HTTP libraries and servers commonly log: prefer header keys.
"""

from __future__ import annotations

from ._base import (
    Credential,
    CredentialProvider,
    Credentials,
    SchemeUse,
    describe_scheme,
    scheme_kind,
)
from ._oauth2 import OAuth2ClientCredentials
from ._selection import SelectedCredentials, describe_requirement, select_credentials
from ._static import ApiKey, BasicAuth, BearerToken
from ._tls import ClientCertificate, http_client, ssl_context

__all__ = [
    "ApiKey",
    "BasicAuth",
    "BearerToken",
    "ClientCertificate",
    "Credential",
    "CredentialProvider",
    "Credentials",
    "OAuth2ClientCredentials",
    "SchemeUse",
    "SelectedCredentials",
    "describe_requirement",
    "describe_scheme",
    "http_client",
    "scheme_kind",
    "select_credentials",
    "ssl_context",
]
